/**
 * A small stand-in for Alipay's OpenAPI gateway (`gateway.do`), for tests only (not part of the
 * build). Written from Alipay's protocol, not from the SDK, so that the two check each other:
 * - requests: the parameters of the query string and the form body, every one but `sign` (empty
 *   values left out) sorted and joined `k=v&…`, must carry an RSA-SHA256 signature by the app
 *   private key; the app id, sign_type RSA2, utf-8 and a Beijing-time timestamp are checked;
 * - answers: `{"<method>_response":{…},"sign":"…"}`, the signature over the exact text of the
 *   `<method>_response` value, made with the "Alipay" private key ('/' escaped as '\/', as Alipay does);
 * - notifies: built and signed with the same key: every parameter but `sign` and `sign_type`, empty
 *   values left out, sorted, joined, RSA-SHA256, base64.
 * Trades: precreate and page pay make a trade that query cannot see until the buyer scans or pays
 * (ACQ.TRADE_NOT_EXIST, as on Alipay); refunds are idempotent per out_request_no.
 * Merchant numbers: out_trade_no and out_request_no must be what Alipay documents (letters, digits and
 * `_`, at most 64); trades are kept under the out_trade_no as received, and answers and notifies echo
 * it as is (so `261202_7KQ4M9XD2P`, never the shop's `261202-7KQ4M9XD2P`).
 */
import { createSign, createVerify, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

type Key = KeyObject | string;
type Json = Record<string, unknown>;

export type TradeStatus = 'WAIT_BUYER_PAY' | 'TRADE_SUCCESS' | 'TRADE_FINISHED' | 'TRADE_CLOSED';

export interface FakeTrade {
  /** As the merchant sent it (Alipay's form: letters, digits, `_`). */
  outTradeNo: string;
  tradeNo: string;
  /** Fen, kept as an integer; shown as yuan. */
  total: number;
  subject: string;
  status: TradeStatus;
  /** False until the buyer scans the code or logs in: query answers ACQ.TRADE_NOT_EXIST until then. */
  exists: boolean;
  via: string;
  notifyUrl?: string;
  qrCode?: string;
  refunds: Map<string, { amount: number; at: string }>;
}

export interface RecordedRequest {
  httpMethod: string;
  /** The API method, e.g. alipay.trade.query. */
  method: string;
  /** Query string and form body together. */
  params: Record<string, string>;
  /** Only the query string's. */
  query: Record<string, string>;
  biz: Json;
  signatureValid: boolean;
  contentType: string | undefined;
}

export interface FakeAlipayOptions {
  appId: string;
  /** Verifies the requests' signatures. */
  appPublicKey: Key;
  /** Signs the answers and the notifies. */
  alipayPrivateKey: Key;
  /** The merchant PID the notifies name as seller_id. */
  sellerId?: string;
}

export interface FakeAlipay {
  readonly port: number;
  /** http://127.0.0.1:<port>/gateway.do */
  readonly gateway: string;
  readonly requests: RecordedRequest[];
  /** Keyed by out_trade_no as received. */
  readonly trades: Map<string, FakeTrade>;
  /** Milliseconds to wait before answering an API call (page GETs are not delayed). */
  delayMs: number;
  /** False: answers carry no sign. */
  signAnswers: boolean;
  /** True: answers are changed after signing (a forged total_amount). */
  tamperAnswers: boolean;
  /** False: refund queries leave out refund_status (a refund Alipay has not finished). */
  refundsConfirm: boolean;
  /** The next `count` calls of `method` answer this error (signed) instead. */
  failNext(method: string, answer: { code: string; msg: string; sub_code?: string; sub_msg?: string }, count?: number): void;
  /** The buyer scans the QR code or logs in on the cashier: the trade exists, waiting for payment. `outTradeNo` as Alipay keeps it (`_`, not `-`). */
  scan(outTradeNo: string): FakeTrade;
  /** The buyer pays. */
  pay(outTradeNo: string): FakeTrade;
  /** Alipay closes the unpaid trade (timeout). */
  closeTrade(outTradeNo: string): FakeTrade;
  /** A trade_status_sync notify for the trade as it is now, signed; `over` replaces fields before signing. */
  notify(outTradeNo: string, over?: Record<string, string | undefined>): Record<string, string>;
  /** Signs notify parameters with the fake's Alipay private key (or another). */
  signNotify(params: Record<string, string>, key?: Key): Record<string, string>;
  reset(): void;
  close(): Promise<void>;
}

/** Alipay's sign content: sorted `k=v` of the non-empty parameters, without the excluded ones. */
export function signContent(params: Record<string, string>, exclude: readonly string[]): string {
  return Object.keys(params)
    .filter((k) => !exclude.includes(k) && params[k] !== '' && params[k] !== undefined)
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
}

export function rsa2Sign(content: string, key: Key): string {
  return createSign('RSA-SHA256').update(content, 'utf8').sign(key, 'base64');
}

function rsa2Verify(content: string, signature: string, key: Key): boolean {
  try {
    return createVerify('RSA-SHA256').update(content, 'utf8').verify(key, signature, 'base64');
  } catch {
    return false;
  }
}

/** "12.34" → 1234, written here on its own (not the plugin's parser). */
function fenOf(yuan: unknown): number | null {
  if (typeof yuan !== 'string') return null;
  const m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(yuan);
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
}

function yuanOf(fen: number): string {
  return `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
}

/** Beijing time, "yyyy-MM-dd HH:mm:ss". */
function beijingNow(offsetMs = 0): string {
  const d = new Date(Date.now() + offsetMs + 8 * 3600 * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

function beijingMs(ts: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(ts);
  if (!m) return null;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) - 8 * 3600 * 1000;
}

const OK = { code: '10000', msg: 'Success' };
const business = (sub_code: string, sub_msg: string) => ({ code: '40004', msg: 'Business Failed', sub_code, sub_msg });
const invalidArgs = (sub_code: string, sub_msg: string) => ({ code: '40002', msg: 'Invalid Arguments', sub_code, sub_msg });
/** out_trade_no / out_request_no as Alipay documents them. */
const MERCHANT_NO = /^[A-Za-z0-9_]{1,64}$/;
/** An answer refusing a malformed merchant number, or null when every given one is well formed. */
function badMerchantNo(biz: Json, fields: readonly string[]): Json | null {
  for (const f of fields) {
    const v = biz[f];
    if (v !== undefined && (typeof v !== 'string' || !MERCHANT_NO.test(v))) return invalidArgs('isv.invalid-parameter', `参数${f}格式错误`);
  }
  return null;
}

export async function startFakeAlipay(options: FakeAlipayOptions): Promise<FakeAlipay> {
  const requests: RecordedRequest[] = [];
  const trades = new Map<string, FakeTrade>();
  const failures = new Map<string, { answer: Json; count: number }>();
  const sellerId = options.sellerId ?? '2088102177846880';
  let seq = 0;

  function trade(outTradeNo: string): FakeTrade {
    const t = trades.get(outTradeNo);
    if (!t) throw new Error(`fake Alipay: no trade ${outTradeNo}`);
    return t;
  }

  function newTrade(biz: Json, via: string, notifyUrl: string | undefined): FakeTrade | Json {
    const outTradeNo = biz['out_trade_no'];
    const total = fenOf(biz['total_amount']);
    const subject = biz['subject'];
    if (typeof outTradeNo !== 'string' || !outTradeNo) return invalidArgs('isv.missing-out-trade-no', '缺少商户订单号');
    const bad = badMerchantNo(biz, ['out_trade_no']);
    if (bad) return bad;
    if (total === null || total < 1 || total > 100_000_000 * 100) return invalidArgs('isv.invalid-parameter', 'total_amount 格式错误');
    if (typeof subject !== 'string' || !subject) return invalidArgs('isv.missing-subject', '缺少订单标题');
    const existing = trades.get(outTradeNo);
    if (existing) {
      if (existing.total !== total) return business('ACQ.CONTEXT_INCONSISTENT', '交易信息被篡改');
      if (existing.status === 'TRADE_SUCCESS' || existing.status === 'TRADE_FINISHED') return business('ACQ.TRADE_HAS_SUCCESS', '交易已被支付');
      if (existing.status === 'TRADE_CLOSED') return business('ACQ.TRADE_HAS_CLOSE', '交易已经关闭');
      return existing;
    }
    seq += 1;
    const t: FakeTrade = {
      outTradeNo,
      tradeNo: `2026120222001${String(4000000000 + seq).padStart(15, '0')}`,
      total,
      subject,
      status: 'WAIT_BUYER_PAY',
      exists: false,
      via,
      ...(notifyUrl ? { notifyUrl } : {}),
      refunds: new Map(),
    };
    trades.set(outTradeNo, t);
    return t;
  }

  function refunded(t: FakeTrade): number {
    let sum = 0;
    for (const r of t.refunds.values()) sum += r.amount;
    return sum;
  }

  function handleApi(method: string, params: Record<string, string>, biz: Json): Json {
    const failure = failures.get(method);
    if (failure && failure.count > 0) {
      failure.count -= 1;
      return failure.answer;
    }
    const bad = badMerchantNo(biz, ['out_trade_no', 'out_request_no']);
    if (bad) return bad;
    switch (method) {
      case 'alipay.trade.precreate': {
        const t = newTrade(biz, 'precreate', params['notify_url']);
        if (!('tradeNo' in t)) return t;
        const tr = t as FakeTrade;
        tr.qrCode ??= `https://qr.alipay.com/bax0${String(seq).padStart(5, '0')}fake`;
        return { ...OK, out_trade_no: tr.outTradeNo, qr_code: tr.qrCode };
      }
      case 'alipay.trade.query': {
        const t = trades.get(String(biz['out_trade_no'] ?? ''));
        if (!t || !t.exists) {
          return { ...business('ACQ.TRADE_NOT_EXIST', '交易不存在'), out_trade_no: biz['out_trade_no'], buyer_pay_amount: '0.00', invoice_amount: '0.00', point_amount: '0.00', receipt_amount: '0.00' };
        }
        const paid = t.status === 'TRADE_SUCCESS' || t.status === 'TRADE_FINISHED';
        return {
          ...OK,
          buyer_logon_id: 'bu***@example.com',
          buyer_pay_amount: paid ? yuanOf(t.total) : '0.00',
          buyer_user_id: '2088102177846881',
          invoice_amount: paid ? yuanOf(t.total) : '0.00',
          out_trade_no: t.outTradeNo,
          point_amount: '0.00',
          receipt_amount: paid ? yuanOf(t.total) : '0.00',
          ...(paid ? { send_pay_date: beijingNow() } : {}),
          total_amount: yuanOf(t.total),
          trade_no: t.tradeNo,
          trade_status: t.status,
        };
      }
      case 'alipay.trade.refund': {
        const t = trades.get(String(biz['out_trade_no'] ?? ''));
        if (!t || !t.exists || (biz['trade_no'] !== undefined && biz['trade_no'] !== t.tradeNo)) return business('ACQ.TRADE_NOT_EXIST', '交易不存在');
        const requestNo = typeof biz['out_request_no'] === 'string' && biz['out_request_no'] ? biz['out_request_no'] : t.tradeNo;
        const amount = fenOf(biz['refund_amount']);
        if (amount === null || amount < 1) return invalidArgs('isv.invalid-parameter', 'refund_amount 格式错误');
        const base = { trade_no: t.tradeNo, out_trade_no: t.outTradeNo, buyer_logon_id: 'bu***@example.com' };
        const seen = t.refunds.get(requestNo);
        if (seen) {
          // The same out_request_no again: nothing moves; Alipay says so with fund_change N.
          if (seen.amount !== amount) return business('ACQ.REQUEST_AMOUNT_EXCEED', '请求退款金额与原请求不一致');
          return { ...OK, ...base, fund_change: 'N', refund_fee: yuanOf(refunded(t)), gmt_refund_pay: seen.at };
        }
        if (t.status === 'WAIT_BUYER_PAY') return business('ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
        if (t.status === 'TRADE_FINISHED') return business('ACQ.TRADE_HAS_FINISHED', '交易已完结');
        if (t.status === 'TRADE_CLOSED') return business('ACQ.TRADE_HAS_CLOSE', '交易已经关闭');
        if (refunded(t) + amount > t.total) return business('ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', '退款金额超限');
        const at = beijingNow();
        t.refunds.set(requestNo, { amount, at });
        if (refunded(t) === t.total) t.status = 'TRADE_CLOSED';
        return { ...OK, ...base, fund_change: 'Y', refund_fee: yuanOf(refunded(t)), gmt_refund_pay: at };
      }
      case 'alipay.trade.fastpay.refund.query': {
        const t = trades.get(String(biz['out_trade_no'] ?? ''));
        if (!t || !t.exists) return business('ACQ.TRADE_NOT_EXIST', '交易不存在');
        const requestNo = String(biz['out_request_no'] ?? '');
        const r = t.refunds.get(requestNo);
        if (!r) return { ...OK };
        return {
          ...OK,
          trade_no: t.tradeNo,
          out_trade_no: t.outTradeNo,
          out_request_no: requestNo,
          total_amount: yuanOf(t.total),
          refund_amount: yuanOf(r.amount),
          ...(fake.refundsConfirm ? { refund_status: 'REFUND_SUCCESS' } : {}),
        };
      }
      default:
        return invalidArgs('isv.invalid-method', '不存在的方法名');
    }
  }

  /** `{"<key>":<inner>,"sign":"…"}` with the signature over the inner text exactly as sent. */
  function answerText(method: string, body: Json, signed: boolean): string {
    const key = `${method.replace(/\./g, '_')}_response`;
    const inner = JSON.stringify(body).replace(/\//g, '\\/');
    if (!signed || !fake.signAnswers) return `{"${key}":${inner}}`;
    const sign = rsa2Sign(inner, options.alipayPrivateKey);
    const sent = fake.tamperAnswers ? inner.replace(/"total_amount":"[\d.]+"/, '"total_amount":"0.01"').replace(/"qr_code":"[^"]*"/, '"qr_code":"https:\\/\\/evil.example\\/x"') : inner;
    return `{"${key}":${sent},"sign":"${sign}"}`;
  }

  function checkRequest(params: Record<string, string>): { answer: Json; signed: boolean } | null {
    if (params['app_id'] !== options.appId) return { answer: invalidArgs('isv.invalid-app-id', '无效的AppID参数'), signed: false };
    const sign = params['sign'] ?? '';
    if (!rsa2Verify(signContent(params, ['sign']), sign, options.appPublicKey)) {
      return { answer: invalidArgs('isv.invalid-signature', '验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配'), signed: true };
    }
    if (params['sign_type'] !== 'RSA2') return { answer: invalidArgs('isv.invalid-signature-type', '无效签名类型'), signed: true };
    if ((params['charset'] ?? '').toLowerCase() !== 'utf-8') return { answer: invalidArgs('isv.invalid-charset', '字符集错误'), signed: true };
    if (params['version'] !== '1.0') return { answer: invalidArgs('isv.invalid-version', '版本号错误'), signed: true };
    const ts = beijingMs(params['timestamp'] ?? '');
    if (ts === null || Math.abs(ts - Date.now()) > 10 * 60 * 1000) {
      return { answer: invalidArgs('isv.invalid-timestamp', '非法的时间戳参数'), signed: true };
    }
    return null;
  }

  function record(httpMethod: string, params: Record<string, string>, query: Record<string, string>, contentType: string | undefined): RecordedRequest {
    let biz: Json = {};
    try {
      biz = params['biz_content'] ? (JSON.parse(params['biz_content']) as Json) : {};
    } catch {
      biz = { unparsable: params['biz_content'] };
    }
    const rec: RecordedRequest = {
      httpMethod,
      method: params['method'] ?? '',
      params,
      query,
      biz,
      signatureValid: rsa2Verify(signContent(params, ['sign']), params['sign'] ?? '', options.appPublicKey),
      contentType,
    };
    requests.push(rec);
    return rec;
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const send = (status: number, type: string, text: string) => {
        if (res.destroyed) return;
        res.writeHead(status, { 'content-type': type });
        res.end(text);
      };
      if (url.pathname !== '/gateway.do') return send(404, 'text/plain', 'not found');
      const query = Object.fromEntries(url.searchParams);
      const params: Record<string, string> = { ...query };
      const body = Buffer.concat(chunks).toString('utf8');
      for (const [k, v] of new URLSearchParams(body)) {
        if (Object.hasOwn(params, k)) return send(400, 'text/plain', `duplicate parameter ${k}`);
        params[k] = v;
      }
      const rec = record(req.method ?? 'GET', params, query, req.headers['content-type']);
      const method = rec.method;

      // The buyer's browser opening a page / WAP pay link: the cashier page, or an error page.
      if (req.method === 'GET' && (method === 'alipay.trade.page.pay' || method === 'alipay.trade.wap.pay')) {
        const problem = checkRequest(params);
        if (problem) return send(400, 'text/html; charset=utf-8', `<h1>${String(problem.answer['sub_code'])}</h1>`);
        const made = newTrade(rec.biz, method, params['notify_url']);
        if (!('tradeNo' in made)) return send(400, 'text/html; charset=utf-8', `<h1>${String(made['sub_code'])}</h1>`);
        return send(200, 'text/html; charset=utf-8', `<title>支付宝 - 网上支付 安全快速！</title><p>${(made as FakeTrade).outTradeNo}</p>`);
      }

      const answer = () => {
        const problem = checkRequest(params);
        const text = problem ? answerText(method || 'error', problem.answer, problem.signed) : answerText(method, handleApi(method, params, rec.biz), true);
        send(200, 'text/html;charset=utf-8', text);
      };
      if (fake.delayMs > 0) setTimeout(answer, fake.delayMs);
      else answer();
    });
  });
  server.on('clientError', (_e, socket) => socket.destroy());

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  const fake: FakeAlipay = {
    port,
    gateway: `http://127.0.0.1:${port}/gateway.do`,
    requests,
    trades,
    delayMs: 0,
    signAnswers: true,
    tamperAnswers: false,
    refundsConfirm: true,
    failNext(method, answer, count = 1) {
      failures.set(method, { answer, count });
    },
    scan(outTradeNo) {
      const t = trade(outTradeNo);
      t.exists = true;
      return t;
    },
    pay(outTradeNo) {
      const t = trade(outTradeNo);
      t.exists = true;
      t.status = 'TRADE_SUCCESS';
      return t;
    },
    closeTrade(outTradeNo) {
      const t = trade(outTradeNo);
      t.exists = true;
      t.status = 'TRADE_CLOSED';
      return t;
    },
    notify(outTradeNo, over = {}) {
      const t = trade(outTradeNo);
      const paid = t.status !== 'WAIT_BUYER_PAY' && !(t.status === 'TRADE_CLOSED' && t.refunds.size === 0);
      const refundedFen = refunded(t);
      const lastRefund = [...t.refunds.entries()].at(-1);
      const params: Record<string, string | undefined> = {
        gmt_create: beijingNow(-60_000),
        charset: 'utf-8',
        seller_email: 'merchant@example.com',
        subject: t.subject,
        buyer_id: '2088102177846881',
        invoice_amount: paid ? yuanOf(t.total) : '0.00',
        notify_id: `2026120200222${String(++seq).padStart(10, '0')}`,
        fund_bill_list: paid ? JSON.stringify([{ amount: yuanOf(t.total), fundChannel: 'ALIPAYACCOUNT' }]) : undefined,
        notify_type: 'trade_status_sync',
        trade_status: t.status,
        receipt_amount: paid ? yuanOf(t.total) : '0.00',
        buyer_pay_amount: paid ? yuanOf(t.total) : '0.00',
        app_id: options.appId,
        auth_app_id: options.appId,
        notify_time: beijingNow(),
        point_amount: '0.00',
        total_amount: yuanOf(t.total),
        seller_id: sellerId,
        trade_no: t.tradeNo,
        out_trade_no: t.outTradeNo,
        version: '1.0',
        ...(paid ? { gmt_payment: beijingNow(-30_000) } : {}),
        ...(t.status === 'TRADE_CLOSED' ? { gmt_close: beijingNow() } : {}),
        ...(refundedFen > 0 && lastRefund ? { refund_fee: yuanOf(refundedFen), gmt_refund: `${lastRefund[1].at}.123`, out_biz_no: lastRefund[0] } : {}),
        ...over,
      };
      const clean: Record<string, string> = {};
      for (const [k, v] of Object.entries(params)) if (v !== undefined) clean[k] = v;
      return fake.signNotify(clean);
    },
    signNotify(params, key = options.alipayPrivateKey) {
      const sign = rsa2Sign(signContent(params, ['sign', 'sign_type']), key);
      return { ...params, sign_type: 'RSA2', sign };
    },
    reset() {
      requests.length = 0;
      trades.clear();
      failures.clear();
      fake.delayMs = 0;
      fake.signAnswers = true;
      fake.tamperAnswers = false;
      fake.refundsConfirm = true;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
  return fake;
}
