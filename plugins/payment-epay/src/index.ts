/**
 * @cardshop/plugin-payment-epay: the 易支付 (epay, 彩虹易支付 family, V1 MD5 protocol) payment gateway.
 *
 * ```ts
 * import epay from '@cardshop/plugin-payment-epay';
 * plugins: [epay({ apiUrl: 'https://pay.example.com', pid: '1001', key: process.env.EPAY_KEY!, types: ['alipay', 'wxpay'], perType: true })]
 * ```
 */
import { definePlugin } from '@cardshop/core';
import { createEpayGateways } from './gateway.js';
import { settingsSchema } from './settings.js';

export const VERSION = '0.1.0';

const epay = definePlugin({
  name: 'epay',
  version: VERSION,
  core: '>=0.1.0 <1.0.0',
  settings: settingsSchema,
  setup(ctx) {
    const s = ctx.settings;
    const gateways = createEpayGateways(s, ctx.log);
    for (const gateway of gateways) ctx.paymentGateway(gateway);
    ctx.log.info(
      `epay ${s.apiUrl} pid ${s.pid}, mode ${s.mode}, gateways ${gateways.map((g) => g.id).join(', ')} (types ${s.types.join(', ')})`,
    );
  },
});

export default epay;
export { createEpayGateway, createEpayGateways, SUCCESS_REPLY, FAIL_REPLY, type EpayGatewayOptions } from './gateway.js';
export { settingsSchema, normaliseApiUrl, TYPE_LABELS, type EpaySettings, type EpaySettingsInput } from './settings.js';
export { md5Sign, signString, signed, verifySign } from './sign.js';
export { parseEpayMoney } from './money.js';
export { notifyParams, parseFlatJson, parseForm } from './params.js';
export { EpayError, type EpayErrorKind } from './http.js';
