/**
 * A fake epay site for tests: submit.php, mapi.php, api.php?act=order and api.php?act=refund on
 * 127.0.0.1, checking the MD5 signature with its own signer (written apart from the plugin's, so a
 * bug in one is not mirrored in the other), and able to pay an order and send its notify as a GET
 * query, a POST form or a POST JSON body.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeOrder {
  pid: string;
  type: string;
  out_trade_no: string;
  trade_no: string;
  notify_url: string;
  return_url: string;
  name: string;
  money: string;
  /** 0 unpaid, 1 paid, 2 refunded. */
  status: 0 | 1 | 2;
  refundedFen: number;
  via: 'submit' | 'mapi';
  clientip?: string;
  device?: string;
  sitename?: string;
}

export interface FakeRequest {
  method: string;
  path: string;
  act?: string;
  params: Record<string, string>;
}

export type NotifyEncoding = 'get' | 'form' | 'json';

export interface FakeEpay {
  /** Base URL, e.g. http://127.0.0.1:41234 (no trailing slash). */
  readonly url: string;
  readonly pid: string;
  readonly orders: Map<string, FakeOrder>;
  readonly requests: FakeRequest[];
  /** Delays every answer (to test timeouts). */
  delayMs: number;
  /** Answers every request with an HTML page instead of JSON (a wrong apiUrl). */
  html: boolean;
  /** Marks the order paid; returns the signed notify parameters. */
  pay(outTradeNo: string, overrides?: Record<string, string>): Record<string, string>;
  /** Signed notify parameters for an order as it stands, with overrides applied before signing. */
  notifyParams(outTradeNo: string, overrides?: Record<string, string>, key?: string): Record<string, string>;
  /** Sends the notify to the order's notify_url and returns the HTTP answer. */
  sendNotify(params: Record<string, string>, encoding: NotifyEncoding): Promise<{ status: number; body: string; type: string }>;
  /** The fake's own signature (not the plugin's). */
  sign(params: Record<string, string>, key?: string): string;
  close(): Promise<void>;
}

/** The fake's signer: byte-wise key order, values taken verbatim, key appended, md5 hex. */
function fakeSign(params: Record<string, string>, key: string): string {
  const names = Object.keys(params)
    .filter((name) => !['sign', 'sign_type'].includes(name))
    .filter((name) => params[name] !== '' && params[name] != null)
    .sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
  let text = '';
  names.forEach((name, i) => {
    text += (i === 0 ? '' : '&') + name + '=' + params[name];
  });
  return createHash('md5').update(Buffer.from(text + key, 'utf8')).digest('hex');
}

/** "12.34" -> 1234 by string arithmetic; null for anything that is not a plain positive amount. */
function fen(money: string | undefined): number | null {
  const m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(money ?? '');
  if (!m) return null;
  const value = Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
  return value > 0 ? value : null;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function formOf(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(text)) out[k] = v;
  return out;
}

export async function startFakeEpay(opts: { pid?: string; key?: string } = {}): Promise<FakeEpay> {
  const pid = opts.pid ?? '1001';
  const key = opts.key ?? 'fakeEpayMerchantKey0123456789abcd';
  const orders = new Map<string, FakeOrder>();
  const requests: FakeRequest[] = [];
  let seq = 0;

  const json = (res: ServerResponse, body: unknown) => {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  };
  const page = (res: ServerResponse, status: number, text: string) => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html><body><p>${text}</p></body></html>`);
  };

  /** Checks a payment request the way an epay site does; returns an error message or the new order. */
  const createOrder = (p: Record<string, string>, via: 'submit' | 'mapi'): string | FakeOrder => {
    if (p.pid !== pid) return '商户不存在';
    if (!p.sign) return '签名不能为空';
    if (p.sign !== fakeSign(p, key)) return '签名校验失败';
    if (p.sign_type !== undefined && p.sign_type !== 'MD5') return '签名类型不支持';
    for (const f of ['out_trade_no', 'notify_url', 'name', 'money']) if (!p[f]) return `${f}不能为空`;
    if (via === 'mapi' && !p.type) return '支付方式(type)不能为空';
    if (fen(p.money) === null) return '金额不合法';
    const existing = orders.get(p.out_trade_no!);
    if (existing) {
      if (existing.money !== p.money) return '订单号已存在';
      return existing;
    }
    const order: FakeOrder = {
      pid,
      type: p.type ?? '',
      out_trade_no: p.out_trade_no!,
      trade_no: `2026120200000${String(++seq).padStart(6, '0')}`,
      notify_url: p.notify_url!,
      return_url: p.return_url ?? '',
      name: p.name!,
      money: p.money!,
      status: 0,
      refundedFen: 0,
      via,
      ...(p.clientip ? { clientip: p.clientip } : {}),
      ...(p.device ? { device: p.device } : {}),
      ...(p.sitename ? { sitename: p.sitename } : {}),
    };
    orders.set(order.out_trade_no, order);
    return order;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const query = Object.fromEntries(url.searchParams);
    const raw = req.method === 'POST' ? await readBody(req) : '';
    const form = raw ? formOf(raw) : {};
    const params = { ...query, ...form };
    delete params.act;
    const act = url.searchParams.get('act') ?? undefined;
    requests.push({ method: req.method ?? '', path: url.pathname, ...(act ? { act } : {}), params: { ...params } });
    if (fake.delayMs > 0) await new Promise((r) => setTimeout(r, fake.delayMs));
    if (fake.html) return page(res, 200, '系统发生错误');

    if (url.pathname === '/submit.php') {
      const made = createOrder(params, 'submit');
      if (typeof made === 'string') return page(res, 200, `错误：${made}`);
      return page(res, 200, `收银台 ${made.trade_no} ¥${made.money} ${made.type || '选择支付方式'}`);
    }
    if (url.pathname === '/mapi.php') {
      if (req.method !== 'POST') return json(res, { code: -1, msg: '请使用POST' });
      const made = createOrder(params, 'mapi');
      if (typeof made === 'string') return json(res, { code: -1, msg: made });
      const base = { code: 1, msg: 'success', trade_no: made.trade_no };
      if (made.type === 'wxpay') return json(res, { ...base, qrcode: `weixin://wxpay/bizpayurl?pr=${made.trade_no}` });
      if (made.type === 'qqpay') return json(res, { ...base, urlscheme: `mqqapi://forward/url?pay=${made.trade_no}` });
      return json(res, { ...base, payurl: `${fake.url}/pay/${made.trade_no}` });
    }
    if (url.pathname === '/api.php') {
      if (params.pid !== pid) return json(res, { code: -2, msg: '商户ID不存在' });
      if (params.key !== key) return json(res, { code: -3, msg: 'KEY校验失败' });
      const order =
        (params.trade_no ? [...orders.values()].find((o) => o.trade_no === params.trade_no) : undefined) ??
        (params.out_trade_no ? orders.get(params.out_trade_no) : undefined);
      if (act === 'order') {
        if (!order) return json(res, { code: -1, msg: '订单号不存在' });
        return json(res, {
          code: 1,
          msg: '查询订单号成功！',
          trade_no: order.trade_no,
          out_trade_no: order.out_trade_no,
          type: order.type,
          pid: Number(pid),
          addtime: '2026-12-02 10:00:00',
          endtime: order.status === 0 ? null : '2026-12-02 10:01:00',
          name: order.name,
          money: order.money,
          status: order.status,
        });
      }
      if (act === 'refund') {
        if (req.method !== 'POST') return json(res, { code: -1, msg: '请使用POST' });
        if (!order) return json(res, { code: -1, msg: '订单号不存在' });
        if (order.status !== 1) return json(res, { code: -1, msg: '只有已支付的订单才能退款' });
        const amount = fen(params.money);
        const total = fen(order.money)!;
        if (amount === null) return json(res, { code: -1, msg: '退款金额不合法' });
        if (order.refundedFen + amount > total) return json(res, { code: -1, msg: '退款金额不能大于订单金额' });
        order.refundedFen += amount;
        if (order.refundedFen === total) order.status = 2;
        return json(res, { code: 1, msg: '退款成功！' });
      }
      return json(res, { code: -5, msg: 'No Act!' });
    }
    page(res, 404, 'Not Found');
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      res.writeHead(500);
      res.end(String(e));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  const notifyParams = (outTradeNo: string, overrides: Record<string, string> = {}, signKey = key) => {
    const o = orders.get(outTradeNo);
    if (!o) throw new Error(`fake epay: no order ${outTradeNo}`);
    const p: Record<string, string> = {
      pid: o.pid,
      trade_no: o.trade_no,
      out_trade_no: o.out_trade_no,
      type: o.type || 'alipay',
      name: o.name,
      money: o.money,
      trade_status: 'TRADE_SUCCESS',
      ...overrides,
    };
    return { ...p, sign: fakeSign(p, signKey), sign_type: 'MD5' };
  };

  const fake: FakeEpay = {
    url: `http://127.0.0.1:${port}`,
    pid,
    orders,
    requests,
    delayMs: 0,
    html: false,
    pay(outTradeNo, overrides) {
      const o = orders.get(outTradeNo);
      if (!o) throw new Error(`fake epay: no order ${outTradeNo}`);
      o.status = 1;
      return notifyParams(outTradeNo, overrides);
    },
    notifyParams,
    async sendNotify(params, encoding) {
      const o = orders.get(params.out_trade_no ?? '');
      if (!o) throw new Error(`fake epay: no order ${params.out_trade_no}`);
      let res: Response;
      if (encoding === 'get') {
        const u = new URL(o.notify_url);
        for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
        res = await fetch(u);
      } else if (encoding === 'form') {
        res = await fetch(o.notify_url, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(params).toString(),
        });
      } else {
        res = await fetch(o.notify_url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(params) });
      }
      return { status: res.status, body: await res.text(), type: res.headers.get('content-type') ?? '' };
    },
    sign: (params, signKey = key) => fakeSign(params, signKey),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
  return fake;
}
