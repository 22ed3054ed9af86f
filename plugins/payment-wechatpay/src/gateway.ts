import type {
  CreatePaymentInput,
  Logger,
  NotifyReply,
  NotifyRequest,
  NotifyResult,
  PaymentAction,
  PaymentGateway,
  QueryResult,
  RefundInput,
  RefundResult,
} from '@cardshop/core';
import { createApiClient, WechatpayError, type ApiClient } from './http.js';
import type { WechatpaySettings } from './settings.js';
import { decryptResource, verifySigned, type EncryptedResource } from './sign.js';

export const PLUGIN_VERSION = '0.1.0';

const JSON_TYPE = 'application/json';
/** Acknowledges a callback: WeChat Pay takes any 200 or 204 (the body is optional). */
export const SUCCESS_REPLY: NotifyReply = { status: 200, type: JSON_TYPE, body: '{"code":"SUCCESS","message":"成功"}' };
/** Refuses a callback: a 4xx/5xx with code FAIL, and WeChat Pay sends it again later. */
export const FAIL_REPLY: NotifyReply = failReply('失败');

function failReply(message: string): NotifyReply {
  return { status: 500, type: JSON_TYPE, body: JSON.stringify({ code: 'FAIL', message }) };
}

/** out_trade_no: 6 to 32 of digits, letters, `_`, `-` and `*`. */
export const OUT_TRADE_NO = /^[0-9A-Za-z_\-*]{6,32}$/;
/** out_refund_no: 1 to 64 of digits, letters, `_`, `-`, `|`, `*` and `@`. */
export const OUT_REFUND_NO = /^[0-9A-Za-z_\-|*@]{1,64}$/;
/** description is string(127); counted here in UTF-8 bytes, the stricter reading (42 Chinese characters). */
export const DESCRIPTION_MAX_BYTES = 127;
/** reason of a refund is string(80); counted in UTF-8 bytes too. */
export const REFUND_REASON_MAX_BYTES = 80;

/** Control characters dropped, whitespace collapsed, then at most `maxBytes` UTF-8 bytes, cut at a character boundary with "…". */
export function truncateUtf8(text: string, maxBytes: number): string {
  const clean = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  if (Buffer.byteLength(clean, 'utf8') <= maxBytes) return clean;
  const budget = maxBytes - Buffer.byteLength('…', 'utf8');
  let out = '';
  let used = 0;
  for (const ch of clean) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (used + n > budget) break;
    out += ch;
    used += n;
  }
  return `${out.trimEnd()}…`;
}

/** `description`: the subject in at most 127 UTF-8 bytes, or the order number when the subject is empty. */
export function paymentDescription(subject: string, orderNo: string): string {
  return truncateUtf8(subject, DESCRIPTION_MAX_BYTES) || orderNo;
}

/** RFC 3339 in Beijing time, as WeChat Pay writes it: 2026-12-02T10:34:56+08:00. */
export function beijingTime(ms: number): string {
  return `${new Date(ms + 8 * 3600_000).toISOString().slice(0, 19)}+08:00`;
}

type Json = Record<string, unknown>;

function obj(v: unknown): Json | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}
function fen(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

export interface GatewayOptions {
  log: Logger;
  /** Tests only: the clock. */
  now?: () => number;
}

export function createWechatpayGateway(settings: WechatpaySettings, options: GatewayOptions): PaymentGateway {
  const { log } = options;
  const now = options.now ?? Date.now;
  const id = settings.id;
  const mchid = settings.mchid;
  const api: ApiClient = createApiClient({
    gateway: id,
    baseUrl: settings.baseUrl,
    mchid,
    merchantSerialNo: settings.merchantSerialNo,
    merchantPrivateKey: settings.merchantPrivateKey.reveal(),
    platformPublicKey: settings.platformPublicKey,
    platformPublicKeyId: settings.platformPublicKeyId,
    timeoutMs: settings.timeoutMs,
    userAgent: `cardshop-plugin-wechatpay/${PLUGIN_VERSION} (Node.js ${process.version})`,
    now,
  });
  const verifyKey = { publicKey: settings.platformPublicKey, serial: settings.platformPublicKeyId };
  const err = (msg: string) => new Error(`wechatpay gateway "${id}": ${msg}`);
  /** The shop's notify URL, remembered from the payments made, for refund results. */
  let lastNotifyUrl: string | undefined;

  const invalid = (reason: string, reply: NotifyReply = FAIL_REPLY): NotifyResult => ({ action: 'invalid', reason: `wechatpay: ${reason}`, reply });
  const ignored = (orderNo?: string): NotifyResult => ({ action: 'ignored', ...(orderNo ? { orderNo } : {}), reply: SUCCESS_REPLY, failReply: FAIL_REPLY });
  const outcome = (action: 'failed' | 'refunded', orderNo: string, tradeNo?: string): NotifyResult => ({
    action,
    orderNo,
    ...(tradeNo ? { tradeNo } : {}),
    reply: SUCCESS_REPLY,
    failReply: FAIL_REPLY,
  });

  /** A decrypted `transaction` resource (TRANSACTION.* callbacks). */
  function transactionNotify(tx: Json): NotifyResult {
    const orderNo = str(tx.out_trade_no);
    if (str(tx.mchid) !== mchid) return invalid(`transaction of merchant ${str(tx.mchid) ?? '(none)'}, this gateway is merchant ${mchid}`);
    if (!orderNo) return invalid('transaction without out_trade_no');
    if (tx.appid !== undefined && tx.appid !== settings.appid) {
      log.warn(`wechatpay gateway "${id}": callback for order ${orderNo} is of AppID ${String(tx.appid)}, not ${settings.appid}; ignored`);
      return ignored(orderNo);
    }
    const state = str(tx.trade_state);
    const tradeNo = str(tx.transaction_id);
    switch (state) {
      case 'SUCCESS': {
        const amount = obj(tx.amount);
        const total = fen(amount?.total);
        if (!tradeNo) return invalid(`paid transaction of order ${orderNo} without transaction_id`);
        if (total === undefined || total === 0) return invalid(`paid transaction of order ${orderNo} with a malformed amount.total ${JSON.stringify(amount?.total ?? null)}`);
        const currency = str(amount?.currency) ?? 'CNY';
        if (currency !== 'CNY') {
          log.error(`wechatpay gateway "${id}": order ${orderNo} was paid in ${currency}, not CNY (transaction ${tradeNo}): check it by hand`);
          return ignored(orderNo);
        }
        // amount.total is what the order asked for; the core checks it against the order.
        return { action: 'paid', orderNo, amount: total, tradeNo, reply: SUCCESS_REPLY, failReply: FAIL_REPLY };
      }
      case 'CLOSED':
      case 'PAYERROR':
      case 'REVOKED':
        return outcome('failed', orderNo, tradeNo);
      default: // NOTPAY, USERPAYING, REFUND: nothing to do from a callback
        return ignored(orderNo);
    }
  }

  /** A decrypted `refund` resource (REFUND.* callbacks). */
  function refundNotify(eventType: string, rf: Json): NotifyResult {
    const orderNo = str(rf.out_trade_no);
    if (str(rf.mchid) !== mchid) return invalid(`refund of merchant ${str(rf.mchid) ?? '(none)'}, this gateway is merchant ${mchid}`);
    if (!orderNo) return invalid('refund without out_trade_no');
    const refundNo = str(rf.out_refund_no) ?? '?';
    const status = str(rf.refund_status);
    if (eventType !== 'REFUND.SUCCESS' || status !== 'SUCCESS') {
      log.warn(`wechatpay gateway "${id}": refund ${refundNo} of order ${orderNo} is ${status ?? eventType}; handle it in the merchant platform (交易中心 → 退款管理) if it is ABNORMAL`);
      return ignored(orderNo);
    }
    const amount = obj(rf.amount);
    const refunded = fen(amount?.refund);
    const total = fen(amount?.total);
    if (refunded === undefined || total === undefined) return invalid(`refund ${refundNo} of order ${orderNo} with a malformed amount`);
    if (refunded < total) {
      // A partial refund leaves the order paid.
      log.info(`wechatpay gateway "${id}": partial refund ${refundNo} of order ${orderNo}: ${refunded} of ${total} fen`);
      return ignored(orderNo);
    }
    return outcome('refunded', orderNo, str(rf.transaction_id));
  }

  /** GET the transaction of an order; null when WeChat Pay has no such order. */
  async function fetchTransaction(orderNo: string): Promise<Json | null> {
    try {
      const { data } = await api.call('GET', `/v3/pay/transactions/out-trade-no/${encodeURIComponent(orderNo)}?mchid=${encodeURIComponent(mchid)}`, `query of order ${orderNo}`);
      return data;
    } catch (e) {
      if (e instanceof WechatpayError && e.kind === 'api' && (e.status === 404 || e.code === 'ORDER_NOT_EXIST')) return null;
      throw e;
    }
  }

  return {
    id,
    label: settings.label,

    async createPayment(input: CreatePaymentInput): Promise<PaymentAction> {
      if ((input.currency || 'CNY').toUpperCase() !== 'CNY') throw err(`WeChat Pay Native takes CNY only, not ${input.currency}`);
      if (!Number.isSafeInteger(input.amount) || input.amount <= 0) throw new RangeError(`wechatpay gateway "${id}": amount must be a positive integer of fen, got ${input.amount}`);
      if (!OUT_TRADE_NO.test(input.orderNo)) {
        throw err(`order number ${JSON.stringify(input.orderNo)} cannot be an out_trade_no: 6 to 32 of digits, letters, _ - *`);
      }
      if (input.notifyUrl.length > 255) throw err(`notify URL is longer than 255 characters: ${input.notifyUrl.slice(0, 60)}…`);
      lastNotifyUrl = input.notifyUrl;
      const body = {
        appid: settings.appid,
        mchid,
        description: paymentDescription(input.subject, input.orderNo),
        out_trade_no: input.orderNo,
        ...(settings.payExpireMinutes ? { time_expire: beijingTime(now() + settings.payExpireMinutes * 60_000) } : {}),
        notify_url: input.notifyUrl,
        amount: { total: input.amount, currency: 'CNY' },
      };
      const { data } = await api.call('POST', '/v3/pay/transactions/native', `Native payment of order ${input.orderNo}`, body);
      const codeUrl = str(data.code_url);
      if (!codeUrl || !/^weixin:\/\//.test(codeUrl)) {
        throw new WechatpayError(`wechatpay gateway "${id}": Native payment of order ${input.orderNo} answered without a weixin:// code_url`, 'format');
      }
      return { kind: 'qr', content: codeUrl };
    },

    async verifyNotify(req: NotifyRequest): Promise<NotifyResult> {
      if (req.method.toUpperCase() !== 'POST') return invalid(`callback with method ${req.method}`, failReply('请求方法错误'));
      const h = req.headers;
      const check = verifySigned(
        { timestamp: h['wechatpay-timestamp'], nonce: h['wechatpay-nonce'], signature: h['wechatpay-signature'], serial: h['wechatpay-serial'] },
        req.rawBody,
        verifyKey,
        now(),
      );
      if (!check.ok) return invalid(`callback refused: ${check.reason}`, failReply('签名验证失败'));

      let envelope: Json | undefined;
      try {
        envelope = obj(JSON.parse(req.rawBody));
      } catch {
        envelope = undefined;
      }
      const resource = obj(envelope?.resource);
      const eventType = str(envelope?.event_type);
      if (!envelope || !resource || !eventType) return invalid('callback body is not a notification (event_type, resource)', failReply('通知格式错误'));
      if (envelope.resource_type !== undefined && envelope.resource_type !== 'encrypt-resource') {
        return invalid(`callback resource_type ${JSON.stringify(envelope.resource_type)} is not encrypt-resource`, failReply('通知格式错误'));
      }
      let plain: string;
      try {
        plain = decryptResource(
          {
            algorithm: str(resource.algorithm) ?? '',
            ciphertext: str(resource.ciphertext) ?? '',
            nonce: str(resource.nonce) ?? '',
            associated_data: typeof resource.associated_data === 'string' ? resource.associated_data : '',
          } satisfies EncryptedResource,
          settings.apiV3Key.reveal(),
        );
      } catch (e) {
        return invalid(`callback ${str(envelope.id) ?? ''} ${eventType}: ${(e as Error).message}`, failReply('解密失败'));
      }
      let data: Json | undefined;
      try {
        data = obj(JSON.parse(plain));
      } catch {
        data = undefined;
      }
      if (!data) return invalid(`callback ${eventType}: the decrypted resource is not a JSON object`, failReply('通知格式错误'));

      if (eventType.startsWith('TRANSACTION.')) return transactionNotify(data);
      if (eventType.startsWith('REFUND.')) return refundNotify(eventType, data);
      return ignored(str(data.out_trade_no));
    },

    async query({ orderNo }): Promise<QueryResult> {
      if (!OUT_TRADE_NO.test(orderNo)) return { status: 'unknown' };
      const tx = await fetchTransaction(orderNo);
      if (!tx) return { status: 'unknown' };
      if (str(tx.out_trade_no) !== orderNo || str(tx.mchid) !== mchid) {
        log.warn(`wechatpay gateway "${id}": query of order ${orderNo} answered for order ${String(tx.out_trade_no)} of merchant ${String(tx.mchid)}; ignored`);
        return { status: 'unknown' };
      }
      const tradeNo = str(tx.transaction_id);
      const amount = obj(tx.amount);
      const total = fen(amount?.total);
      const extra = { ...(total !== undefined ? { amount: total } : {}), ...(tradeNo ? { tradeNo } : {}) };
      switch (str(tx.trade_state)) {
        case 'SUCCESS': {
          const currency = str(amount?.currency) ?? 'CNY';
          if (total === undefined || total === 0 || !tradeNo || currency !== 'CNY') {
            log.error(`wechatpay gateway "${id}": query of order ${orderNo} says paid, but amount ${JSON.stringify(tx.amount ?? null)} / transaction ${tradeNo ?? '(none)'} do not add up: check it by hand`);
            return { status: 'unknown', ...(tradeNo ? { tradeNo } : {}) };
          }
          return { status: 'paid', amount: total, tradeNo };
        }
        case 'NOTPAY':
        case 'USERPAYING':
          return { status: 'pending', ...extra };
        case 'CLOSED':
        case 'REVOKED':
        case 'PAYERROR':
          return { status: 'failed', ...extra };
        default:
          // REFUND (paid, then refunded in part or whole): not for the shop to mark paid by itself.
          return { status: 'unknown', ...extra };
      }
    },

    async refund(input: RefundInput): Promise<RefundResult> {
      if (!Number.isSafeInteger(input.amount) || input.amount <= 0) {
        return { status: 'failed', reason: `amount must be a positive integer of fen, got ${input.amount}` };
      }
      if (!OUT_REFUND_NO.test(input.refundNo)) {
        return { status: 'failed', reason: `refund number ${JSON.stringify(input.refundNo)} cannot be an out_refund_no: 1 to 64 of digits, letters, _ - | * @` };
      }
      // The refund must name the order's total, so ask WeChat Pay for the transaction first.
      const tx = OUT_TRADE_NO.test(input.orderNo) ? await fetchTransaction(input.orderNo) : null;
      if (!tx) return { status: 'failed', reason: `WeChat Pay has no order ${input.orderNo}` };
      const state = str(tx.trade_state);
      if (state !== 'SUCCESS' && state !== 'REFUND') return { status: 'failed', reason: `order ${input.orderNo} is ${state ?? 'in no known state'} at WeChat Pay, not paid` };
      const total = fen(obj(tx.amount)?.total);
      const transactionId = str(tx.transaction_id);
      if (total === undefined || total === 0) return { status: 'failed', reason: `WeChat Pay answered order ${input.orderNo} without its amount` };
      if (input.tradeNo && transactionId && input.tradeNo !== transactionId) {
        return { status: 'failed', reason: `order ${input.orderNo} was paid with transaction ${transactionId}, not ${input.tradeNo}` };
      }
      if (input.amount > total) return { status: 'failed', reason: `refund of ${input.amount} fen is more than the ${total} fen paid` };

      const reason = truncateUtf8(input.reason, REFUND_REASON_MAX_BYTES);
      const notifyUrl = settings.refundNotifyUrl ?? lastNotifyUrl;
      const body = {
        ...(transactionId ? { transaction_id: transactionId } : { out_trade_no: input.orderNo }),
        out_refund_no: input.refundNo,
        ...(reason ? { reason } : {}),
        ...(notifyUrl ? { notify_url: notifyUrl } : {}),
        amount: { refund: input.amount, total, currency: 'CNY' },
      };
      let data: Json;
      try {
        ({ data } = await api.call('POST', '/v3/refund/domestic/refunds', `refund ${input.refundNo} of order ${input.orderNo}`, body));
      } catch (e) {
        // A verified refusal (not enough balance, bad parameters, too old…) is final for this refund
        // number. Timeouts, network, signature and server errors are thrown: asking again with the
        // same refund number is safe, WeChat Pay refunds one out_refund_no once.
        if (e instanceof WechatpayError && e.kind === 'api' && e.status !== undefined && e.status < 500 && e.status !== 429 && e.code !== 'SYSTEM_ERROR' && e.code !== 'FREQUENCY_LIMITED' && e.code !== 'BIZERR_NEED_RETRY') {
          return { status: 'failed', reason: e.message };
        }
        throw e;
      }
      const refundId = str(data.refund_id);
      const withId = refundId ? { refundId } : {};
      switch (str(data.status)) {
        case 'SUCCESS':
          return { status: 'refunded', ...withId };
        case 'PROCESSING':
          return { status: 'pending', ...withId };
        case 'ABNORMAL':
          // The money left the merchant account but could not reach the buyer (a closed card):
          // WeChat Pay holds it until the merchant handles it; a new refund would pay twice.
          return { status: 'pending', ...withId, reason: 'ABNORMAL: the buyer\'s account could not take the refund; handle it in the merchant platform (交易中心 → 退款管理) or with the abnormal-refund API' };
        case 'CLOSED':
          return { status: 'failed', ...withId, reason: 'CLOSED: the refund was closed by WeChat Pay' };
        default:
          return { status: 'pending', ...withId, reason: `WeChat Pay answered refund status ${JSON.stringify(data.status ?? null)}` };
      }
    },
  };
}
