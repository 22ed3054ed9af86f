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
import { AlipayRequestError, AlipaySdk } from 'alipay-sdk';
import { parseYuan, toYuan } from './money.js';
import { notifyParams, signedParams } from './notify.js';
import type { AlipayMode, AlipaySettings } from './settings.js';

export const PLUGIN_VERSION = '0.1.0';

/** Alipay stops re-sending a notify only when it reads exactly `success`. */
export const SUCCESS_REPLY: NotifyReply = { status: 200, type: 'text/plain', body: 'success' };
/** Anything else is retried (4m, 10m, 10m, 1h, 2h, 6h, 15h); `failure` says so on purpose. */
export const FAILURE_REPLY: NotifyReply = { status: 200, type: 'text/plain', body: 'failure' };

/** Why a call to Alipay failed: `timeout` and `network` mean it may or may not have been acted on. */
export type AlipayErrorKind = 'timeout' | 'network' | 'http' | 'signature' | 'format' | 'refused';

export class AlipayError extends Error {
  override readonly name = 'AlipayError';
  constructor(
    message: string,
    readonly kind: AlipayErrorKind,
    /** Alipay's sub_code (ACQ.SYSTEM_ERROR, isv.invalid-app-id…) when it answered one. */
    readonly subCode?: string,
  ) {
    super(message);
  }
}

/** Alipay reads `timestamp` as Beijing time (UTC+8, no daylight saving), whatever the server's zone. */
export function beijingTimestamp(now: number = Date.now()): string {
  return new Date(now + 8 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
}

const SUBJECT_MAX = 256;

/** The trade title: no control characters, none of the `/ = &` Alipay's docs forbid, at most 256 characters. */
export function subjectOf(subject: string, orderNo: string): string {
  const clean = subject
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .replace(/[/=&]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const chars = [...(clean || orderNo)];
  return chars.length > SUBJECT_MAX ? `${chars.slice(0, SUBJECT_MAX - 1).join('')}…` : chars.join('');
}

/**
 * Alipay documents out_trade_no and out_request_no as letters, digits and `_` only; cardshop's
 * numbers (`261202-7KQ4M9XD2P`) have a `-` and never a `_`, so the dash is swapped both ways.
 */
export const toAlipayNo = (no: string) => no.replace(/-/g, '_');
export const fromAlipayNo = (no: string) => no.replace(/_/g, '-');

/** out_trade_no and out_request_no as Alipay documents them (checked on the mapped number): at most 64 letters, digits and `_`. */
const MERCHANT_NO = /^[A-Za-z0-9_]{1,64}$/;

type Answer = Record<string, unknown>;

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** "40004 Business Failed: ACQ.TRADE_NOT_EXIST 交易不存在" */
function describe(r: Answer): string {
  const sub = str(r['sub_code']);
  return `${str(r['code']) ?? '(no code)'} ${str(r['msg']) ?? ''}${sub ? `: ${sub} ${str(r['sub_msg']) ?? ''}` : ''}`.trim();
}

/** Alipay's own trouble, worth asking again (with the same out_trade_no / out_request_no). */
function isTransient(r: Answer): boolean {
  const sub = str(r['sub_code']) ?? '';
  return str(r['code']) === '20000' || sub === 'ACQ.SYSTEM_ERROR' || sub.startsWith('aop.') || sub === 'isp.unknow-error';
}

export interface GatewayOptions {
  log: Logger;
  /** Tests only: a client of their own. By default one is made from the settings. */
  sdk?: AlipaySdk;
}

export function createAlipayClient(s: AlipaySettings): AlipaySdk {
  return new AlipaySdk({
    appId: s.appId,
    privateKey: s.privateKey.reveal(),
    keyType: 'PKCS8', // the settings normalise PKCS#1 and bare base64 keys to a PKCS#8 PEM
    alipayPublicKey: s.alipayPublicKey,
    gateway: s.gateway,
    signType: 'RSA2',
    timeout: s.timeoutMs,
    camelcase: false, // keep Alipay's field names (trade_status, total_amount…)
  });
}

export function createAlipayGateway(s: AlipaySettings, options: GatewayOptions): PaymentGateway {
  const sdk = options.sdk ?? createAlipayClient(s);
  const { log } = options;
  const id = s.id;
  const err = (msg: string, kind: AlipayErrorKind = 'refused', subCode?: string) => new AlipayError(`Alipay gateway "${id}": ${msg}`, kind, subCode);
  const invalid = (reason: string): NotifyResult => ({ action: 'invalid', reason: `alipay: ${reason}`, reply: FAILURE_REPLY });
  const ignored = (orderNo?: string): NotifyResult => ({ action: 'ignored', ...(orderNo ? { orderNo } : {}), reply: SUCCESS_REPLY, failReply: FAILURE_REPLY });

  /** Turns whatever the SDK threw into an AlipayError that says what to check. */
  function wrap(e: unknown, method: string): AlipayError {
    if (e instanceof AlipayError) return e;
    if (e instanceof AlipayRequestError) {
      const cause = e.cause as { name?: string; code?: string; message?: string } | undefined;
      if (cause?.name === 'HttpClientRequestTimeoutError' || /Request timeout/i.test(e.message)) {
        return err(`${method}: no answer from ${s.gateway} within ${s.timeoutMs} ms`, 'timeout');
      }
      if (e.message.startsWith('HttpClient Request error')) {
        return err(`${method}: cannot reach ${s.gateway} (${cause?.code ?? cause?.message ?? e.message}); check the gateway setting`, 'network');
      }
      if (e.message.includes('验签失败')) {
        return err(`${method}: Alipay's answer does not verify with alipayPublicKey: is it the Alipay public key of app ${s.appId} (and of this environment, production or sandbox)?`, 'signature');
      }
      if (e.message.startsWith('HTTP 请求错误')) return err(`${method}: ${s.gateway} answered ${e.message.replace(/^HTTP 请求错误, /, 'HTTP ')}`, 'http');
      return err(`${method}: ${s.gateway} did not answer an Alipay response (${e.message.slice(0, 200)})`, 'format');
    }
    // crypto's verify() throws when the answer has no `sign` at all: Alipay sends that when it
    // refuses the request itself (an unknown app id, a request signature it cannot verify).
    if (e instanceof TypeError && /signature/i.test(e.message)) {
      return err(
        `${method}: Alipay's answer carries no signature, as when it refuses the request itself: check appId (${s.appId}), that privateKey belongs to the app public key uploaded for it, and the gateway (production or sandbox)`,
        'signature',
      );
    }
    return err(`${method}: ${(e as Error)?.message ?? String(e)}`, 'network');
  }

  /** One OpenAPI call (v2, gateway.do) with the response signature verified by the SDK. */
  async function call(method: string, bizContent: Record<string, string>, extra: Record<string, string> = {}): Promise<Answer> {
    let answer: Answer;
    try {
      answer = (await sdk.exec(method, { ...extra, timestamp: beijingTimestamp(), bizContent }, { validateSign: true })) as Answer;
    } catch (e) {
      throw wrap(e, method);
    }
    if (typeof answer !== 'object' || answer === null) throw err(`${method}: empty answer`, 'format');
    return answer;
  }

  function modeFor(input: CreatePaymentInput): Exclude<AlipayMode, 'auto'> {
    if (s.mode !== 'auto') return s.mode;
    return input.device === 'mobile' ? 'wap' : 'page';
  }

  return {
    id,
    label: s.label,

    async createPayment(input: CreatePaymentInput): Promise<PaymentAction> {
      if ((input.currency || 'CNY').toUpperCase() !== 'CNY') throw err(`Alipay trades are in CNY; this order is in ${input.currency}`);
      if (!MERCHANT_NO.test(toAlipayNo(input.orderNo))) throw err(`order number "${input.orderNo}" cannot be an out_trade_no (letters, digits, - and _, at most 64; - is sent as _)`);
      let totalAmount: string;
      try {
        totalAmount = toYuan(input.amount);
      } catch (e) {
        throw err((e as Error).message);
      }
      const biz: Record<string, string> = {
        out_trade_no: toAlipayNo(input.orderNo),
        total_amount: totalAmount,
        subject: subjectOf(input.subject, input.orderNo),
      };
      if (s.expireMinutes) biz['timeout_express'] = `${s.expireMinutes}m`;
      const mode = modeFor(input);

      if (mode === 'qr') {
        const r = await call('alipay.trade.precreate', biz, { notify_url: input.notifyUrl });
        const qr = str(r['qr_code']);
        if (str(r['code']) !== '10000' || !qr) {
          throw err(`alipay.trade.precreate refused order ${input.orderNo}: ${describe(r)}`, isTransient(r) ? 'http' : 'refused', str(r['sub_code']));
        }
        const echoed = str(r['out_trade_no']);
        if (echoed && fromAlipayNo(echoed) !== input.orderNo) throw err(`alipay.trade.precreate answered for order ${echoed}, not ${input.orderNo}`, 'format');
        return { kind: 'qr', content: qr };
      }

      // Page (desktop) and WAP (mobile browser) pay are signed links the buyer's browser opens.
      const method = mode === 'wap' ? 'alipay.trade.wap.pay' : 'alipay.trade.page.pay';
      const bizContent =
        mode === 'wap'
          ? { ...biz, product_code: 'QUICK_WAP_WAY', quit_url: input.returnUrl }
          : { ...biz, product_code: 'FAST_INSTANT_TRADE_PAY' };
      const url = sdk.pageExecute(method, 'GET', {
        bizContent,
        notifyUrl: input.notifyUrl,
        returnUrl: input.returnUrl,
        timestamp: beijingTimestamp(),
      });
      if (!url.startsWith(s.gateway)) throw err(`${method}: the SDK did not return a link to the gateway`, 'format');
      return { kind: 'redirect', url };
    },

    async verifyNotify(req: NotifyRequest): Promise<NotifyResult> {
      if (req.method.toUpperCase() !== 'POST') return invalid(`method ${req.method}: Alipay posts its notifies`);
      const read = notifyParams(req);
      if (!read.ok) return invalid(read.reason);
      const p = read.params;
      if (!p['sign']) return invalid('missing sign');
      const signType = p['sign_type'];
      if (signType !== undefined && signType !== 'RSA2') return invalid(`sign_type ${signType}: only RSA2 is accepted`);
      let verified = false;
      try {
        verified = sdk.checkNotifySignV2(signedParams(p));
      } catch {
        verified = false;
      }
      if (!verified) return invalid(`bad signature (${read.source} notify): check that alipayPublicKey is the Alipay public key of app ${s.appId}`);
      if (p['app_id'] !== s.appId) return invalid(`notify is for app ${p['app_id'] ?? '(none)'}, this gateway is app ${s.appId}`);
      if (s.sellerId && p['seller_id'] !== s.sellerId) return invalid(`notify is for seller ${p['seller_id'] ?? '(none)'}, not ${s.sellerId}`);
      const orderNo = p['out_trade_no'] ? fromAlipayNo(p['out_trade_no']) : undefined;
      if (!orderNo) return invalid('missing out_trade_no');
      const notifyType = p['notify_type'];
      if (notifyType !== undefined && notifyType !== 'trade_status_sync') return ignored(orderNo);
      const tradeNo = str(p['trade_no']);
      const status = p['trade_status'];

      if (status === 'TRADE_SUCCESS' || status === 'TRADE_FINISHED') {
        const amount = parseYuan(p['total_amount']);
        if (amount === null || amount <= 0) return invalid(`malformed total_amount ${JSON.stringify(p['total_amount'] ?? null)} for order ${orderNo}`);
        if (!tradeNo) return invalid(`missing trade_no for order ${orderNo}`);
        return { action: 'paid', orderNo, amount, tradeNo, reply: SUCCESS_REPLY, failReply: FAILURE_REPLY };
      }
      if (status === 'TRADE_CLOSED') {
        // A trade closes unpaid (timeout, closed by hand) or after a full refund; the refund
        // fields tell the two apart.
        const refundFee = parseYuan(p['refund_fee']);
        const action = (refundFee !== null && refundFee > 0) || p['gmt_refund'] ? 'refunded' : 'failed';
        return { action, orderNo, ...(tradeNo ? { tradeNo } : {}), reply: SUCCESS_REPLY, failReply: FAILURE_REPLY };
      }
      // WAIT_BUYER_PAY (not sent by default) and anything new.
      return ignored(orderNo);
    },

    async query({ orderNo }): Promise<QueryResult> {
      const r = await call('alipay.trade.query', { out_trade_no: toAlipayNo(orderNo) });
      if (str(r['code']) !== '10000') {
        if (str(r['sub_code']) === 'ACQ.TRADE_NOT_EXIST') return { status: 'unknown' };
        throw err(`alipay.trade.query of order ${orderNo}: ${describe(r)}`, isTransient(r) ? 'http' : 'refused', str(r['sub_code']));
      }
      const echoed = str(r['out_trade_no']);
      if (echoed && fromAlipayNo(echoed) !== orderNo) {
        log.warn(`Alipay gateway "${id}": query of order ${orderNo} answered for order ${echoed}; ignored`);
        return { status: 'unknown' };
      }
      const tradeNo = str(r['trade_no']);
      const amount = parseYuan(r['total_amount']);
      const known = { ...(amount !== null ? { amount } : {}), ...(tradeNo ? { tradeNo } : {}) };
      switch (str(r['trade_status'])) {
        case 'TRADE_SUCCESS':
        case 'TRADE_FINISHED':
          if (amount === null || !tradeNo) {
            log.warn(`Alipay gateway "${id}": query says order ${orderNo} is paid but total_amount ${JSON.stringify(r['total_amount'] ?? null)} or trade_no is missing or malformed`);
            return { status: 'unknown', ...(tradeNo ? { tradeNo } : {}) };
          }
          return { status: 'paid', amount, tradeNo };
        case 'WAIT_BUYER_PAY':
          return { status: 'pending', ...known };
        case 'TRADE_CLOSED':
          return { status: 'failed', ...known };
        default:
          return { status: 'unknown', ...known };
      }
    },

    async refund(input: RefundInput): Promise<RefundResult> {
      let refundAmount: string;
      try {
        refundAmount = toYuan(input.amount);
      } catch (e) {
        return { status: 'failed', reason: (e as Error).message };
      }
      if (!MERCHANT_NO.test(toAlipayNo(input.refundNo))) {
        return { status: 'failed', reason: `refund number "${input.refundNo}" cannot be an out_request_no (letters, digits, - and _, at most 64; - is sent as _)` };
      }
      const biz: Record<string, string> = {
        out_trade_no: toAlipayNo(input.orderNo),
        refund_amount: refundAmount,
        out_request_no: toAlipayNo(input.refundNo),
      };
      if (input.tradeNo) biz['trade_no'] = input.tradeNo;
      const reason = subjectOf(input.reason, '').slice(0, 256);
      if (reason) biz['refund_reason'] = reason;

      // Errors are thrown: Alipay refunds one out_request_no once, so asking again is safe.
      const r = await call('alipay.trade.refund', biz);
      if (str(r['code']) !== '10000') {
        if (isTransient(r)) throw err(`alipay.trade.refund of order ${input.orderNo}: ${describe(r)}; ask again with the same refund number`, 'http', str(r['sub_code']));
        return { status: 'failed', reason: describe(r) };
      }
      const refundId = input.refundNo;
      if (str(r['fund_change']) === 'Y') return { status: 'refunded', refundId };

      // fund_change N: no money moved by this call, as when the refund number was refunded before.
      // Alipay's advice: ask the refund query for the refund's state.
      let q: Answer;
      try {
        q = await call('alipay.trade.fastpay.refund.query', { out_trade_no: toAlipayNo(input.orderNo), out_request_no: toAlipayNo(input.refundNo) });
      } catch (e) {
        return { status: 'pending', refundId, reason: `accepted without a change of funds, and the refund query failed: ${(e as Error).message}` };
      }
      if (str(q['code']) === '10000' && str(q['refund_status']) === 'REFUND_SUCCESS') {
        const done = parseYuan(q['refund_amount']);
        if (done !== null && done !== input.amount) {
          return { status: 'failed', refundId, reason: `refund number ${input.refundNo} was already used for a refund of ${q['refund_amount'] as string} yuan` };
        }
        return { status: 'refunded', refundId };
      }
      return { status: 'pending', refundId, reason: `Alipay accepted the refund but has not confirmed it yet (${describe(q)})` };
    },
  };
}
