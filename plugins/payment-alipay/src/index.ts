/**
 * @cardshop/plugin-payment-alipay: Alipay (支付宝) as a cardshop payment gateway, on the official
 * `alipay-sdk`: page pay (电脑网站支付), WAP pay (手机网站支付) or a QR code from precreate
 * (当面付扫码), RSA2-signed notifies, trade query and refund.
 *
 * ```ts
 * import alipay from '@cardshop/plugin-payment-alipay';
 * plugins: [alipay({ appId: '2021000123456789', privateKey: process.env.ALIPAY_PRIVATE_KEY!, alipayPublicKey: process.env.ALIPAY_PUBLIC_KEY! })]
 * ```
 * Alipay posts its notifies to `<publicUrl>/pay/alipay/notify`, the notify_url of each payment.
 */
import { definePlugin } from '@cardshop/core';
import { createAlipayGateway, PLUGIN_VERSION } from './gateway.js';
import { settingsSchema } from './settings.js';

const alipay = definePlugin({
  name: 'alipay',
  version: PLUGIN_VERSION,
  core: '>=0.1.0 <1.0.0',
  settings: settingsSchema,
  setup(ctx) {
    const s = ctx.settings;
    ctx.paymentGateway(createAlipayGateway(s, { log: ctx.log }));
    ctx.log.info(`alipay app ${s.appId}, gateway "${s.id}" via ${s.gateway}, mode ${s.mode}`);
  },
});

export default alipay;
export {
  createAlipayGateway,
  createAlipayClient,
  beijingTimestamp,
  subjectOf,
  AlipayError,
  SUCCESS_REPLY,
  FAILURE_REPLY,
  PLUGIN_VERSION,
  type AlipayErrorKind,
  type GatewayOptions,
} from './gateway.js';
export {
  settingsSchema,
  readPrivateKey,
  readPublicKey,
  normaliseGateway,
  MODES,
  ALIPAY_GATEWAY,
  ALIPAY_SANDBOX_GATEWAY,
  type AlipaySettings,
  type AlipaySettingsInput,
  type AlipayMode,
} from './settings.js';
export { toYuan, parseYuan } from './money.js';
export { notifyParams, signedParams } from './notify.js';
