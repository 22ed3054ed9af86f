/**
 * A small stand-in for api.mch.weixin.qq.com, for this package's tests only (not part of the build).
 *
 * Written from the WeChat Pay API v3 specification, on its own: it imports nothing from the plugin,
 * so a mistake in the plugin's signing or decryption is not repeated here. It
 * - checks every request's `Authorization: WECHATPAY2-SHA256-RSA2048 …` header with the merchant's
 *   public key (mchid, serial_no, timestamp within 5 minutes, RSA-SHA256 over the five-line string),
 *   and answers 401 SIGN_ERROR, unsigned, when it does not verify;
 * - answers Native payment, query by out_trade_no and refund, signed with the platform private key
 *   (Wechatpay-Timestamp, -Nonce, -Signature, -Serial);
 * - builds callbacks with the resource encrypted AEAD_AES_256_GCM under the APIv3 key, and POSTs
 *   them to an order's notify_url the way WeChat Pay does (success: HTTP 200 or 204).
 */
import { createCipheriv, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeWechatpayOptions {
  mchid: string;
  appid: string;
  merchantSerialNo: string;
  merchantPublicKey: KeyObject;
  platformPrivateKey: KeyObject;
  platformPublicKeyId: string;
  apiV3Key: string;
}

export interface RecordedRequest {
  method: string;
  /** Path and query, as signed. */
  url: string;
  headers: IncomingHttpHeaders;
  rawBody: string;
  json: Record<string, unknown> | null;
  /** The parsed Authorization parameters, when the header could be parsed. */
  auth?: Record<string, string>;
  /** Why the Authorization header was refused, when it was. */
  authError?: string;
}

export interface FakeOrder {
  appid: string;
  mchid: string;
  out_trade_no: string;
  description: string;
  notify_url: string;
  time_expire?: string;
  total: number;
  trade_state: 'NOTPAY' | 'SUCCESS' | 'REFUND' | 'CLOSED' | 'PAYERROR' | 'USERPAYING' | 'REVOKED';
  transaction_id?: string;
  success_time?: string;
  code_url: string;
}

export interface FakeRefund {
  refund_id: string;
  out_refund_no: string;
  out_trade_no: string;
  transaction_id: string;
  reason?: string;
  notify_url?: string;
  refund: number;
  total: number;
  status: 'SUCCESS' | 'PROCESSING' | 'ABNORMAL' | 'CLOSED';
  create_time: string;
}

export type ResponseTamper =
  /** A signature by another key. */
  | 'signature'
  /** A Wechatpay-Serial that is not the configured key id. */
  | 'serial'
  /** Signed 10 minutes ago. */
  | 'stale'
  /** The body changed after signing. */
  | 'body'
  /** No Wechatpay-* headers at all. */
  | 'unsigned'
  /** A WECHATPAY/SIGNTEST/ signature probe. */
  | 'probe';

export interface NotificationOptions {
  /** Seconds since the epoch for Wechatpay-Timestamp (default: now). */
  timestamp?: number;
  serial?: string;
  /** Sign with this key instead of the platform key. */
  signWith?: KeyObject;
  /** Encrypt with this key instead of the APIv3 key. */
  apiV3Key?: string;
  /** Break the resource after encrypting: flip a ciphertext byte, the tag, or change nonce / associated_data. */
  tamper?: 'ciphertext' | 'tag' | 'nonce' | 'associated_data';
  /** The notification id (EV-…). */
  id?: string;
  /** Encrypt this text instead of the resource's JSON. */
  plaintext?: string;
}

export interface Notification {
  /** Lower-case header names, as a Node or Koa server sees them. */
  headers: Record<string, string>;
  body: string;
}

export interface FakeWechatpay {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly requests: RecordedRequest[];
  readonly orders: Map<string, FakeOrder>;
  readonly refunds: Map<string, FakeRefund>;
  /** Every answer waits this long first (for timeouts); the request itself is acted on at once. */
  delayMs: number;
  /** Answers to requests whose path starts with `pathPrefix` wait `ms` (0 removes it). */
  delayFor(pathPrefix: string, ms: number): void;
  /** The status new refunds get. */
  refundStatus: FakeRefund['status'];
  /** The next answer is spoiled this way. */
  tamperNext(kind: ResponseTamper): void;
  /** The next `count` requests whose path starts with `pathPrefix` get this error, signed. */
  failNext(pathPrefix: string, status: number, code: string, message: string, count?: number): void;
  /** The buyer pays the order: SUCCESS with a transaction_id. */
  pay(outTradeNo: string, opts?: { total?: number }): FakeOrder;
  /** The order is closed unpaid. */
  closeOrder(outTradeNo: string): FakeOrder;
  /** The `transaction` resource of an order, as a TRANSACTION.* callback carries it. */
  transactionResource(outTradeNo: string, over?: Record<string, unknown>): Record<string, unknown>;
  /** The `refund` resource of a refund, as a REFUND.* callback carries it. */
  refundResource(outRefundNo: string, over?: Record<string, unknown>): Record<string, unknown>;
  /** A signed callback with the resource encrypted. */
  notification(eventType: string, resource: Record<string, unknown>, opts?: NotificationOptions): Notification;
  /** POSTs a callback to a URL as WeChat Pay does, and reports whether it counts as received. */
  deliver(url: string, n: Notification): Promise<{ status: number; body: string; acknowledged: boolean }>;
  reset(): void;
  close(): Promise<void>;
}

const FIVE_MINUTES = 300;

function seconds(): number {
  return Math.floor(Date.now() / 1000);
}

function rfc3339(ms = Date.now()): string {
  return `${new Date(ms + 8 * 3600_000).toISOString().slice(0, 19)}+08:00`;
}

function randomAlnum(n: number): string {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(n)].map((b) => abc[b % abc.length]).join('');
}

/** `WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="…",…` → { mchid: '1', … }; null when malformed. */
function parseAuthorization(header: string | undefined): Record<string, string> | null {
  if (!header) return null;
  const m = /^WECHATPAY2-SHA256-RSA2048 (.+)$/.exec(header);
  if (!m) return null;
  const out: Record<string, string> = {};
  const re = /\s*([a-z_]+)="([^"]*)"\s*(,|$)/gy;
  let part: RegExpExecArray | null;
  let end = 0;
  while ((part = re.exec(m[1]!)) !== null) {
    out[part[1]!] = part[2]!;
    end = re.lastIndex;
    if (part[3] === '') break;
  }
  return end === m[1]!.length ? out : null;
}

export async function startFakeWechatpay(o: FakeWechatpayOptions): Promise<FakeWechatpay> {
  const requests: RecordedRequest[] = [];
  const orders = new Map<string, FakeOrder>();
  const refunds = new Map<string, FakeRefund>();
  const failures: Array<{ prefix: string; status: number; code: string; message: string; count: number }> = [];
  let tamper: ResponseTamper | undefined;
  const delays = new Map<string, number>();
  let seq = 0;
  const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

  function signBody(body: string, ts: number, nonce: string, key: KeyObject): string {
    return sign('sha256', Buffer.from(`${ts}\n${nonce}\n${body}\n`, 'utf8'), key).toString('base64');
  }

  function checkAuth(req: RecordedRequest): string | undefined {
    const auth = parseAuthorization(req.headers.authorization);
    if (!auth) return 'Authorization is not WECHATPAY2-SHA256-RSA2048 with quoted parameters';
    req.auth = auth;
    for (const k of ['mchid', 'nonce_str', 'signature', 'timestamp', 'serial_no']) if (!auth[k]) return `Authorization lacks ${k}`;
    if (auth.mchid !== o.mchid) return `mchid ${auth.mchid} is not the merchant`;
    if (auth.serial_no !== o.merchantSerialNo) return `serial_no ${auth.serial_no} is not the merchant certificate`;
    if (!/^\d+$/.test(auth.timestamp!) || Math.abs(seconds() - Number(auth.timestamp)) > FIVE_MINUTES) return 'timestamp too far from now';
    const message = `${req.method}\n${req.url}\n${auth.timestamp}\n${auth.nonce_str}\n${req.rawBody}\n`;
    let ok = false;
    try {
      ok = verify('sha256', Buffer.from(message, 'utf8'), o.merchantPublicKey, Buffer.from(auth.signature!, 'base64'));
    } catch {
      ok = false;
    }
    return ok ? undefined : 'signature does not verify';
  }

  type Answer = { status: number; body?: Record<string, unknown>; signed?: boolean };
  const error = (status: number, code: string, message: string): Answer => ({ status, body: { code, message } });

  function transactionJson(order: FakeOrder): Record<string, unknown> {
    return {
      appid: order.appid,
      mchid: order.mchid,
      out_trade_no: order.out_trade_no,
      ...(order.transaction_id ? { transaction_id: order.transaction_id } : {}),
      trade_type: 'NATIVE',
      trade_state: order.trade_state,
      trade_state_desc: { SUCCESS: '支付成功', REFUND: '转入退款', NOTPAY: '未支付', CLOSED: '已关闭', PAYERROR: '支付失败', USERPAYING: '用户支付中', REVOKED: '已撤销' }[order.trade_state],
      ...(order.transaction_id ? { bank_type: 'OTHERS', success_time: order.success_time, payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' } } : {}),
      attach: '',
      amount: order.transaction_id ? { total: order.total, payer_total: order.total, currency: 'CNY', payer_currency: 'CNY' } : { total: order.total, currency: 'CNY' },
    };
  }

  function refundJson(r: FakeRefund): Record<string, unknown> {
    return {
      refund_id: r.refund_id,
      out_refund_no: r.out_refund_no,
      transaction_id: r.transaction_id,
      out_trade_no: r.out_trade_no,
      channel: 'ORIGINAL',
      user_received_account: '支付用户零钱',
      create_time: r.create_time,
      ...(r.status === 'SUCCESS' ? { success_time: r.create_time } : {}),
      status: r.status,
      funds_account: 'AVAILABLE',
      amount: { total: r.total, refund: r.refund, payer_total: r.total, payer_refund: r.refund, settlement_refund: r.refund, settlement_total: r.total, discount_refund: 0, currency: 'CNY' },
    };
  }

  function nativePay(b: Record<string, unknown>): Answer {
    const amount = b.amount as Record<string, unknown> | undefined;
    const desc = b.description;
    if (b.appid !== o.appid) return error(400, 'PARAM_ERROR', 'appid和mch_id不匹配');
    if (b.mchid !== o.mchid) return error(400, 'PARAM_ERROR', 'mchid与请求方商户号不一致');
    if (typeof desc !== 'string' || desc.length === 0 || Buffer.byteLength(desc, 'utf8') > 127) return error(400, 'PARAM_ERROR', '输入源“/body/description”映射到字段“商品描述”长度不符合要求');
    if (typeof b.out_trade_no !== 'string' || !/^[0-9A-Za-z_\-*]{6,32}$/.test(b.out_trade_no)) return error(400, 'PARAM_ERROR', '输入源“/body/out_trade_no”映射到字段“商户订单号”格式错误');
    if (typeof b.notify_url !== 'string' || !/^https?:\/\/[^?#]+$/.test(b.notify_url) || b.notify_url.length > 255) return error(400, 'PARAM_ERROR', '输入源“/body/notify_url”映射到字段“通知地址”格式错误');
    if (b.time_expire !== undefined && (typeof b.time_expire !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$/.test(b.time_expire))) return error(400, 'PARAM_ERROR', 'time_expire格式错误');
    if (!amount || typeof amount.total !== 'number' || !Number.isInteger(amount.total) || amount.total <= 0) return error(400, 'PARAM_ERROR', '输入源“/body/amount/total”映射到字段“总金额”格式错误');
    if (amount.currency !== undefined && amount.currency !== 'CNY') return error(400, 'PARAM_ERROR', '币种错误');
    const existing = orders.get(b.out_trade_no);
    if (existing) {
      if (existing.trade_state === 'SUCCESS' || existing.trade_state === 'REFUND') return error(400, 'ORDER_PAID', '该订单已支付');
      if (existing.trade_state === 'CLOSED') return error(400, 'ORDER_CLOSED', '订单已关闭');
      if (existing.total !== amount.total || existing.description !== desc) return error(400, 'INVALID_REQUEST', '201 商户订单号重复');
      return { status: 200, body: { code_url: existing.code_url } };
    }
    const order: FakeOrder = {
      appid: o.appid,
      mchid: o.mchid,
      out_trade_no: b.out_trade_no,
      description: desc,
      notify_url: b.notify_url,
      ...(typeof b.time_expire === 'string' ? { time_expire: b.time_expire } : {}),
      total: amount.total,
      trade_state: 'NOTPAY',
      code_url: `weixin://wxpay/bizpayurl?pr=${randomAlnum(9)}`,
    };
    orders.set(order.out_trade_no, order);
    return { status: 200, body: { code_url: order.code_url } };
  }

  function refund(b: Record<string, unknown>): Answer {
    const amount = b.amount as Record<string, unknown> | undefined;
    if (typeof b.out_refund_no !== 'string' || !/^[0-9A-Za-z_\-|*@]{1,64}$/.test(b.out_refund_no)) return error(400, 'PARAM_ERROR', 'out_refund_no格式错误');
    const order = typeof b.transaction_id === 'string'
      ? [...orders.values()].find((x) => x.transaction_id === b.transaction_id)
      : typeof b.out_trade_no === 'string' ? orders.get(b.out_trade_no) : undefined;
    if (b.transaction_id === undefined && b.out_trade_no === undefined) return error(400, 'PARAM_ERROR', 'transaction_id和out_trade_no必须二选一');
    if (!order) return error(404, 'RESOURCE_NOT_EXISTS', '订单不存在');
    if (!amount || typeof amount.refund !== 'number' || !Number.isInteger(amount.refund) || amount.refund <= 0) return error(400, 'PARAM_ERROR', '退款金额格式错误');
    if (amount.total !== order.total) return error(400, 'PARAM_ERROR', '订单金额与原订单金额不一致');
    if (amount.currency !== 'CNY') return error(400, 'PARAM_ERROR', '币种错误');
    if (typeof b.reason === 'string' && Buffer.byteLength(b.reason, 'utf8') > 80) return error(400, 'PARAM_ERROR', '退款原因过长');
    const seen = refunds.get(b.out_refund_no);
    if (seen) {
      if (seen.out_trade_no !== order.out_trade_no || seen.refund !== amount.refund) return error(400, 'INVALID_REQUEST', '同一退款单号的参数与之前请求不一致');
      return { status: 200, body: refundJson(seen) };
    }
    if (order.trade_state !== 'SUCCESS' && order.trade_state !== 'REFUND') return error(400, 'INVALID_REQUEST', '订单未支付');
    const done = [...refunds.values()].filter((r) => r.out_trade_no === order.out_trade_no && r.status !== 'CLOSED').reduce((s, r) => s + r.refund, 0);
    if (amount.refund > order.total - done) return error(400, 'INVALID_REQUEST', '申请退款金额超过订单可退金额');
    const r: FakeRefund = {
      refund_id: `5030${String(++seq).padStart(24, '0')}`,
      out_refund_no: b.out_refund_no,
      out_trade_no: order.out_trade_no,
      transaction_id: order.transaction_id!,
      ...(typeof b.reason === 'string' ? { reason: b.reason } : {}),
      ...(typeof b.notify_url === 'string' ? { notify_url: b.notify_url } : {}),
      refund: amount.refund,
      total: order.total,
      status: fake.refundStatus,
      create_time: rfc3339(),
    };
    refunds.set(r.out_refund_no, r);
    if (r.status !== 'CLOSED') order.trade_state = 'REFUND';
    return { status: 200, body: refundJson(r) };
  }

  function handle(req: RecordedRequest): Answer {
    const authError = checkAuth(req);
    if (authError) {
      req.authError = authError;
      return { status: 401, body: { code: 'SIGN_ERROR', message: `签名错误: ${authError}` }, signed: false };
    }
    const failure = failures.find((f) => f.count > 0 && req.url.startsWith(f.prefix));
    if (failure) {
      failure.count -= 1;
      return error(failure.status, failure.code, failure.message);
    }
    const url = new URL(req.url, 'http://fake');
    if (req.method === 'POST' && (req.headers['content-type'] ?? '').split(';')[0] !== 'application/json') return error(415, 'PARAM_ERROR', 'Content-Type须为application/json');
    if (!req.headers['user-agent']) return error(400, 'PARAM_ERROR', '缺少User-Agent');
    if (req.method === 'POST' && url.pathname === '/v3/pay/transactions/native') {
      return req.json ? nativePay(req.json) : error(400, 'PARAM_ERROR', '请求体不是JSON');
    }
    const q = /^\/v3\/pay\/transactions\/out-trade-no\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && q) {
      if (url.searchParams.get('mchid') !== o.mchid) return error(400, 'PARAM_ERROR', 'mchid参数错误');
      const order = orders.get(decodeURIComponent(q[1]!));
      return order ? { status: 200, body: transactionJson(order) } : error(404, 'ORDER_NOT_EXIST', '订单不存在');
    }
    if (req.method === 'POST' && url.pathname === '/v3/refund/domestic/refunds') {
      return req.json ? refund(req.json) : error(400, 'PARAM_ERROR', '请求体不是JSON');
    }
    return error(404, 'NOT_FOUND', `no such API: ${req.method} ${url.pathname}`);
  }

  function respondHeaders(body: string, spoil: ResponseTamper | undefined): { headers: Record<string, string>; body: string } {
    const ts = spoil === 'stale' ? seconds() - 600 : seconds();
    const nonce = randomBytes(16).toString('hex');
    let signature = signBody(body, ts, nonce, spoil === 'signature' ? otherKey : o.platformPrivateKey);
    if (spoil === 'probe') signature = `WECHATPAY/SIGNTEST/${signature}`;
    const headers: Record<string, string> = {
      'content-type': 'application/json; charset=utf-8',
      'request-id': `08F${randomBytes(8).toString('hex').toUpperCase()}-0`,
    };
    if (spoil !== 'unsigned') {
      headers['wechatpay-timestamp'] = String(ts);
      headers['wechatpay-nonce'] = nonce;
      headers['wechatpay-signature'] = signature;
      headers['wechatpay-serial'] = spoil === 'serial' ? 'PUB_KEY_ID_0000000000000000000000000000000000' : o.platformPublicKeyId;
      headers['wechatpay-signature-type'] = 'WECHATPAY2-SHA256-RSA2048';
    }
    // A change that keeps the JSON valid, so only the signature can catch it (always present: the
    // body is a JSON object).
    return { headers, body: spoil === 'body' ? body.replace('{', '{ ') : body };
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      let json: Record<string, unknown> | null = null;
      try {
        const v: unknown = rawBody ? JSON.parse(rawBody) : null;
        json = v && typeof v === 'object' ? (v as Record<string, unknown>) : null;
      } catch {
        json = null;
      }
      const recorded: RecordedRequest = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, rawBody, json };
      requests.push(recorded);
      const answer = handle(recorded);
      const spoil = tamper;
      tamper = undefined;
      const text = answer.body === undefined ? '' : JSON.stringify(answer.body);
      const out = answer.signed === false ? { headers: { 'content-type': 'application/json; charset=utf-8' }, body: text } : respondHeaders(text, spoil);
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(answer.status, out.headers);
        res.end(out.body);
      };
      const delay = Math.max(fake.delayMs, ...[...delays].filter(([prefix]) => recorded.url.startsWith(prefix)).map(([, ms]) => ms));
      if (delay > 0) setTimeout(send, delay).unref();
      else send();
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  function encrypt(plain: string, key: string, associatedData: string): { ciphertext: string; nonce: string } {
    const nonce = randomAlnum(12);
    const cipher = createCipheriv('aes-256-gcm', Buffer.from(key, 'utf8'), Buffer.from(nonce, 'utf8'));
    cipher.setAAD(Buffer.from(associatedData, 'utf8'));
    const enc = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return { ciphertext: enc.toString('base64'), nonce };
  }

  const fake: FakeWechatpay = {
    url: `http://127.0.0.1:${port}`,
    requests,
    orders,
    refunds,
    delayMs: 0,
    refundStatus: 'SUCCESS',
    delayFor(prefix, ms) {
      if (ms > 0) delays.set(prefix, ms);
      else delays.delete(prefix);
    },
    tamperNext(kind) {
      tamper = kind;
    },
    failNext(prefix, status, code, message, count = 1) {
      failures.push({ prefix, status, code, message, count });
    },
    pay(outTradeNo, opts = {}) {
      const order = orders.get(outTradeNo);
      if (!order) throw new Error(`fake WeChat Pay: no order ${outTradeNo}`);
      order.trade_state = 'SUCCESS';
      order.transaction_id = `4200${String(++seq).padStart(24, '0')}`;
      order.success_time = rfc3339();
      if (opts.total !== undefined) order.total = opts.total;
      return order;
    },
    closeOrder(outTradeNo) {
      const order = orders.get(outTradeNo);
      if (!order) throw new Error(`fake WeChat Pay: no order ${outTradeNo}`);
      order.trade_state = 'CLOSED';
      return order;
    },
    transactionResource(outTradeNo, over = {}) {
      const order = orders.get(outTradeNo);
      if (!order) throw new Error(`fake WeChat Pay: no order ${outTradeNo}`);
      return { ...transactionJson(order), ...over };
    },
    refundResource(outRefundNo, over = {}) {
      const r = refunds.get(outRefundNo);
      if (!r) throw new Error(`fake WeChat Pay: no refund ${outRefundNo}`);
      return {
        mchid: o.mchid,
        out_trade_no: r.out_trade_no,
        transaction_id: r.transaction_id,
        out_refund_no: r.out_refund_no,
        refund_id: r.refund_id,
        refund_status: r.status,
        ...(r.status === 'SUCCESS' ? { success_time: rfc3339() } : {}),
        user_received_account: '支付用户零钱',
        amount: { total: r.total, refund: r.refund, payer_total: r.total, payer_refund: r.refund },
        ...over,
      };
    },
    notification(eventType, resource, opts = {}) {
      const originalType = eventType.startsWith('REFUND.') ? 'refund' : 'transaction';
      const associatedData = originalType;
      const enc = encrypt(opts.plaintext ?? JSON.stringify(resource), opts.apiV3Key ?? o.apiV3Key, associatedData);
      const envelopeResource: Record<string, string> = { original_type: originalType, algorithm: 'AEAD_AES_256_GCM', ciphertext: enc.ciphertext, associated_data: associatedData, nonce: enc.nonce };
      if (opts.tamper === 'ciphertext' || opts.tamper === 'tag') {
        const bytes = Buffer.from(enc.ciphertext, 'base64');
        const at = opts.tamper === 'tag' ? bytes.length - 1 : 0;
        bytes[at] = bytes[at]! ^ 0x01;
        envelopeResource.ciphertext = bytes.toString('base64');
      }
      if (opts.tamper === 'nonce') envelopeResource.nonce = randomAlnum(12);
      if (opts.tamper === 'associated_data') envelopeResource.associated_data = 'certificate';
      const body = JSON.stringify({
        id: opts.id ?? `EV-${Date.now()}${randomAlnum(6)}`,
        create_time: rfc3339(),
        resource_type: 'encrypt-resource',
        event_type: eventType,
        summary: originalType === 'refund' ? '退款成功' : '支付成功',
        resource: envelopeResource,
      });
      const ts = opts.timestamp ?? seconds();
      const nonce = randomAlnum(32);
      return {
        headers: {
          'content-type': 'application/json',
          'wechatpay-timestamp': String(ts),
          'wechatpay-nonce': nonce,
          'wechatpay-signature': signBody(body, ts, nonce, opts.signWith ?? o.platformPrivateKey),
          'wechatpay-serial': opts.serial ?? o.platformPublicKeyId,
          'wechatpay-signature-type': 'WECHATPAY2-SHA256-RSA2048',
        },
        body,
      };
    },
    async deliver(url, n) {
      const res = await fetch(url, { method: 'POST', headers: { ...n.headers, 'user-agent': 'Mozilla/4.0' }, body: n.body, signal: AbortSignal.timeout(5000) });
      const body = await res.text();
      return { status: res.status, body, acknowledged: res.status === 200 || res.status === 204 };
    },
    reset() {
      requests.length = 0;
      orders.clear();
      refunds.clear();
      failures.length = 0;
      tamper = undefined;
      fake.delayMs = 0;
      delays.clear();
      fake.refundStatus = 'SUCCESS';
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
  return fake;
}
