/**
 * @cardshop/plugin-payment-wechatpay: WeChat Pay (微信支付) API v3 Native payments as a cardshop
 * payment gateway, on node:crypto alone.
 *
 * ```ts
 * import wechatpay from '@cardshop/plugin-payment-wechatpay';
 * plugins: [wechatpay({ mchid, appid, merchantSerialNo, merchantPrivateKey, apiV3Key, platformPublicKey, platformPublicKeyId })]
 * ```
 *
 * The buyer scans a QR code (`code_url`); WeChat Pay's signed, encrypted callbacks arrive at
 * `<publicUrl>/pay/wechatpay/notify`.
 */
import { definePlugin } from '@cardshop/core';
import { createWechatpayGateway, PLUGIN_VERSION } from './gateway.js';
import { settingsSchema } from './settings.js';

const wechatpay = definePlugin({
  name: 'wechatpay',
  version: PLUGIN_VERSION,
  core: '>=0.1.0 <1.0.0',
  settings: settingsSchema,
  setup(ctx) {
    const s = ctx.settings;
    ctx.paymentGateway(createWechatpayGateway(s, { log: ctx.log }));
    ctx.log.info(`wechatpay: gateway ${s.id}, merchant ${s.mchid}, AppID ${s.appid}, API ${s.baseUrl}, WeChat Pay key ${s.platformPublicKeyId}`);
  },
});

export default wechatpay;
export {
  createWechatpayGateway,
  paymentDescription,
  truncateUtf8,
  beijingTime,
  SUCCESS_REPLY,
  FAIL_REPLY,
  OUT_TRADE_NO,
  OUT_REFUND_NO,
  PLUGIN_VERSION,
  type GatewayOptions,
} from './gateway.js';
export {
  settingsSchema,
  DEFAULT_BASE_URL,
  normalisePem,
  normaliseBaseUrl,
  type WechatpaySettings,
  type WechatpaySettingsInput,
} from './settings.js';
export {
  authorization,
  requestMessage,
  responseMessage,
  rsaSign,
  rsaVerify,
  verifySigned,
  aeadOpen,
  decryptResource,
  newNonce,
  AUTH_SCHEMA,
  MAX_CLOCK_SKEW_SECONDS,
  SIGNATURE_PROBE_PREFIX,
  type EncryptedResource,
  type SignedHeaders,
  type SignatureCheck,
} from './sign.js';
export { WechatpayError, type WechatpayErrorKind } from './http.js';
