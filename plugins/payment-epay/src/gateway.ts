import { toDecimalString } from '@cardshop/core';
import type {
  CreatePaymentInput,
  Localized,
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
import { callJson, EpayError } from './http.js';
import { parseEpayMoney } from './money.js';
import { notifyParams } from './params.js';
import { TYPE_LABELS, type EpaySettings } from './settings.js';
import { signed, verifySign } from './sign.js';

/** What the epay site must be answered: it retries until it reads exactly `success`. */
export const SUCCESS_REPLY: NotifyReply = { status: 200, type: 'text/plain', body: 'success' };
export const FAIL_REPLY: NotifyReply = { status: 200, type: 'text/plain', body: 'fail' };

export interface EpayGatewayOptions {
  settings: EpaySettings;
  log: Logger;
  id: string;
  label: Localized;
  /** The epay `type` sent with each payment; undefined lets the epay cashier page ask the buyer. */
  type: string | undefined;
}

const NAME_MAX = 64;

/** The `name` field: no control characters, whitespace collapsed, at most 64 characters. */
function productName(subject: string, orderNo: string): string {
  const clean = subject.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  const chars = [...(clean || orderNo)];
  return chars.length > NAME_MAX ? `${chars.slice(0, NAME_MAX - 1).join('')}…` : chars.join('');
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

function isHttpUrl(v: string): boolean {
  try {
    const u = new URL(v);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

/** An app link (weixin://, alipays://…), never javascript: or data:. */
function isAppLink(v: string): boolean {
  const m = /^([a-z][a-z0-9+.-]*):/i.exec(v);
  return !!m && !['javascript', 'data', 'vbscript', 'file'].includes(m[1]!.toLowerCase());
}

/** One epay payment gateway (a shop may have one per type, see `perType`). */
export function createEpayGateway(o: EpayGatewayOptions): PaymentGateway {
  const { settings: s, log, id } = o;
  const key = () => s.key.reveal();
  const base = s.apiUrl;
  const err = (msg: string) => new Error(`epay gateway "${id}": ${msg}`);
  const invalid = (reason: string): NotifyResult => ({ action: 'invalid', reason: `epay: ${reason}`, reply: FAIL_REPLY });

  return {
    id,
    label: o.label,

    async createPayment(input: CreatePaymentInput): Promise<PaymentAction> {
      if (input.currency.toUpperCase() !== 'CNY') throw err(`epay takes CNY only, not ${input.currency}`);
      if (!Number.isSafeInteger(input.amount) || input.amount <= 0) throw err(`amount must be a positive number of fen, got ${input.amount}`);
      if (!input.orderNo) throw err('an order number is required');
      const params: Record<string, string> = {
        pid: s.pid,
        out_trade_no: input.orderNo,
        notify_url: input.notifyUrl,
        return_url: input.returnUrl,
        name: productName(input.subject, input.orderNo),
        money: toDecimalString(input.amount),
      };
      if (o.type) params.type = o.type;
      if (s.sitename) params.sitename = s.sitename;

      if (s.mode === 'redirect') {
        const url = new URL(`${base}/submit.php`);
        for (const [k, v] of Object.entries(signed(params, key()))) url.searchParams.set(k, v);
        return { kind: 'redirect', url: url.toString() };
      }

      // mode 'api': mapi.php answers JSON with one of payurl / qrcode / urlscheme.
      if (!o.type) throw err('mode "api" needs a type; set one type or perType: true');
      if (input.clientIp) params.clientip = input.clientIp;
      if (input.device) params.device = input.device === 'mobile' ? 'mobile' : 'pc';
      const data = await callJson({
        gateway: id,
        what: 'create payment (mapi.php)',
        url: new URL(`${base}/mapi.php`),
        method: 'POST',
        form: signed(params, key()),
        timeoutMs: s.timeoutMs,
        redact: [key()],
      });
      if (str(data.code) !== '1') {
        throw err(`mapi.php refused order ${input.orderNo}: ${str(data.msg) ?? `code ${str(data.code) ?? '(none)'}`}`);
      }
      const payurl = str(data.payurl);
      const qrcode = str(data.qrcode);
      const scheme = str(data.urlscheme);
      if (payurl && isHttpUrl(payurl)) return { kind: 'redirect', url: payurl };
      if (qrcode) return { kind: 'qr', content: qrcode };
      if (scheme && isAppLink(scheme)) return { kind: 'redirect', url: scheme };
      throw err(`mapi.php accepted order ${input.orderNo} but gave no payurl, qrcode or urlscheme to pay with`);
    },

    async verifyNotify(req: NotifyRequest): Promise<NotifyResult> {
      const read = notifyParams(req);
      if (!read.ok) return invalid(read.reason);
      const p = read.params;
      if (!p.sign) return invalid('missing sign');
      if (p.sign_type && p.sign_type.toUpperCase() !== 'MD5') {
        return invalid(`sign_type ${p.sign_type} is not supported: this plugin speaks the MD5 (V1) protocol; use the MD5 merchant key`);
      }
      if (!verifySign(p, key())) return invalid(`bad signature (${read.source} notify): check that the merchant key is the one of pid ${s.pid}`);
      if (p.pid !== s.pid) return invalid(`notify is for pid ${p.pid ?? '(none)'}, this shop is pid ${s.pid}`);
      const orderNo = p.out_trade_no;
      if (!orderNo) return invalid('missing out_trade_no');
      if (p.trade_status !== 'TRADE_SUCCESS') {
        return { action: 'ignored', orderNo, reply: SUCCESS_REPLY, failReply: FAIL_REPLY };
      }
      const amount = parseEpayMoney(p.money);
      if (amount === null) return invalid(`malformed money ${JSON.stringify(p.money ?? null)} for order ${orderNo}`);
      const tradeNo = p.trade_no;
      if (!tradeNo) return invalid(`missing trade_no for order ${orderNo}`);
      return { action: 'paid', orderNo, amount, tradeNo, reply: SUCCESS_REPLY, failReply: FAIL_REPLY };
    },

    async query({ orderNo }): Promise<QueryResult> {
      const url = new URL(`${base}/api.php`);
      url.searchParams.set('act', 'order');
      url.searchParams.set('pid', s.pid);
      url.searchParams.set('key', key());
      url.searchParams.set('out_trade_no', orderNo);
      const data = await callJson({
        gateway: id,
        what: 'query (api.php?act=order)',
        url,
        method: 'GET',
        timeoutMs: s.timeoutMs,
        redact: [key()],
      });
      if (str(data.code) !== '1') {
        log.warn(`epay gateway "${id}": query of order ${orderNo}: ${str(data.msg) ?? `code ${str(data.code) ?? '(none)'}`}`);
        return { status: 'unknown' };
      }
      const gotOrder = str(data.out_trade_no);
      const gotPid = str(data.pid);
      if ((gotOrder !== undefined && gotOrder !== orderNo) || (gotPid !== undefined && gotPid !== s.pid)) {
        log.warn(`epay gateway "${id}": query of order ${orderNo} answered for order ${gotOrder ?? '?'} of pid ${gotPid ?? '?'}; ignored`);
        return { status: 'unknown' };
      }
      const tradeNo = str(data.trade_no) || undefined;
      const status = str(data.status);
      if (status === '0') return { status: 'pending', ...(tradeNo ? { tradeNo } : {}) };
      if (status !== '1') {
        // 2 refunded, 3 frozen, 4 pre-authorised (V2 sites): nothing the shop should act on by itself.
        return { status: 'unknown', ...(tradeNo ? { tradeNo } : {}) };
      }
      const amount = parseEpayMoney(str(data.money));
      if (amount === null) {
        log.warn(`epay gateway "${id}": query of order ${orderNo} says paid but money is malformed (${JSON.stringify(data.money ?? null)})`);
        return { status: 'unknown', ...(tradeNo ? { tradeNo } : {}) };
      }
      return { status: 'paid', amount, ...(tradeNo ? { tradeNo } : {}) };
    },

    async refund(input: RefundInput): Promise<RefundResult> {
      if (!Number.isSafeInteger(input.amount) || input.amount <= 0) throw err(`refund amount must be a positive number of fen, got ${input.amount}`);
      const form: Record<string, string> = { pid: s.pid, key: key(), out_trade_no: input.orderNo, money: toDecimalString(input.amount) };
      if (input.tradeNo) form.trade_no = input.tradeNo;
      let data: Record<string, unknown>;
      try {
        data = await callJson({
          gateway: id,
          what: `refund of order ${input.orderNo} (api.php?act=refund)`,
          url: new URL(`${base}/api.php?act=refund`),
          method: 'POST',
          form,
          timeoutMs: s.timeoutMs,
          redact: [key()],
        });
      } catch (e) {
        // Sent, but no answer: epay V1 has no refund number to ask about, so the outcome is open.
        if (e instanceof EpayError && e.kind === 'timeout') {
          return { status: 'pending', reason: `${e.message}; the refund may or may not have been made: check the epay dashboard before trying again` };
        }
        throw e;
      }
      if (str(data.code) === '1') return { status: 'refunded' };
      return { status: 'failed', reason: `epay: ${str(data.msg) ?? `code ${str(data.code) ?? '(none)'}`}` };
    },
  };
}

/** The gateways a configuration offers: one, or one per type with `perType`. */
export function createEpayGateways(settings: EpaySettings, log: Logger): PaymentGateway[] {
  if (!settings.perType) {
    const type = settings.types.length === 1 ? settings.types[0] : undefined;
    return [createEpayGateway({ settings, log, id: settings.id, label: settings.label, type })];
  }
  return settings.types.map((type) => {
    const name = TYPE_LABELS[type] ?? { 'zh-CN': type, en: type };
    return createEpayGateway({
      settings,
      log,
      id: `${settings.id}-${type.replace(/_/g, '-')}`,
      label: { 'zh-CN': `${name['zh-CN']}（${settings.label['zh-CN']}）`, en: `${name.en} (${settings.label.en})` },
      type,
    });
  });
}
