/**
 * A fake top-up supplier of the common shape, for tests: /api/order, /api/query and /api/balance
 * on 127.0.0.1, form or JSON bodies, MD5 (`&key=`) or HMAC-SHA256 signatures checked with its own
 * signer (written apart from the plugin's, so a bug in one is not mirrored in the other). Each
 * product id behaves in one way:
 * - `success`: delivered at once, with cards;
 * - `pending-callback`: accepted; `finish(reference)` completes it and sends the signed callback;
 * - `pending-poll`: accepted; `finish(reference, { callback: false })` completes it for queries only;
 * - `failure`: refused for good (code 1001, sold out);
 * - `busy`: refused for now (code 503);
 * - `timeout`: the order is made and completed, but the answer comes after `delayMs`;
 * - `garbage`: the order is made and completed, but the answer is an HTML page.
 * An order number it has seen is never made twice: placing it again returns it as it stands.
 */
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeOrder {
  reference: string;
  product: string;
  quantity: number;
  params: Record<string, string>;
  notifyUrl: string;
  status: 'pending' | 'success' | 'failed';
  cards: string[];
}

export interface FakeSupplierOptions {
  merchantId?: string;
  secret?: string;
  algorithm?: 'md5' | 'hmac-sha256';
  /** How the callback is sent. */
  callbackEncoding?: 'form' | 'json';
  /** Cost of one unit in fen, reported as yuan. */
  unitCost?: number;
}

export interface FakeSupplier {
  readonly url: string;
  readonly orders: Map<string, FakeOrder>;
  /** Every order request by reference, in order: a repeat shows up here twice but is made once. */
  readonly placed: string[];
  readonly queries: string[];
  /** How long a `timeout` product's answer takes. */
  delayMs: number;
  balanceFen: number;
  /** Completes a pending order and, unless told not to, sends its callback; returns the answer's body. */
  finish(reference: string, opts?: { callback?: boolean; status?: 'success' | 'failed' }): Promise<string | null>;
  close(): Promise<void>;
}

function fakeSign(params: Record<string, string>, o: Required<Pick<FakeSupplierOptions, 'secret' | 'algorithm'>>): string {
  let text = '';
  for (const name of Object.keys(params).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))) {
    if (name === 'sign' || params[name] === '') continue;
    text += `${text ? '&' : ''}${name}=${params[name]}`;
  }
  return o.algorithm === 'md5' ? createHash('md5').update(`${text}&key=${o.secret}`).digest('hex') : createHmac('sha256', o.secret).update(text).digest('hex');
}

async function readParams(req: IncomingMessage): Promise<Record<string, string>> {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  if ((req.headers['content-type'] ?? '').includes('json')) return Object.fromEntries(Object.entries(JSON.parse(raw) as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
  return Object.fromEntries(new URLSearchParams(raw));
}

const yuan = (fen: number) => `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;

export async function startFakeSupplier(options: FakeSupplierOptions = {}): Promise<FakeSupplier> {
  const o = { merchantId: '10086', secret: 'fake-supplier-secret', algorithm: 'md5' as const, callbackEncoding: 'form' as const, unitCost: 850, ...options };
  const orders = new Map<string, FakeOrder>();
  const placed: string[] = [];
  const queries: string[] = [];
  const result = (order: FakeOrder) => ({
    code: '0',
    msg: order.status === 'failed' ? 'recharge failed' : 'ok',
    data: { status: order.status, order_no: `F${order.reference}`, cards: order.status === 'success' ? order.cards : undefined, cost: yuan(o.unitCost * order.quantity) },
  });

  const fake: FakeSupplier = {
    url: '',
    orders,
    placed,
    queries,
    delayMs: 2000,
    balanceFen: 123_45,
    async finish(reference, opts = {}) {
      const order = orders.get(reference);
      if (!order) throw new Error(`fake supplier has no order ${reference}`);
      order.status = opts.status ?? 'success';
      if (opts.callback === false) return null;
      const r = result(order);
      const params: Record<string, string> = {
        merchant_id: o.merchantId,
        out_trade_no: reference,
        status: order.status,
        order_no: r.data.order_no,
        cost: r.data.cost,
        cards: JSON.stringify(r.data.cards ?? []),
        timestamp: String(Math.floor(Date.now() / 1000)),
      };
      params.sign = fakeSign(params, o);
      const res = await fetch(order.notifyUrl, {
        method: 'POST',
        headers: { 'content-type': o.callbackEncoding === 'json' ? 'application/json' : 'application/x-www-form-urlencoded' },
        body: o.callbackEncoding === 'json' ? JSON.stringify(params) : new URLSearchParams(params).toString(),
      });
      return res.text();
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };

  const send = (res: ServerResponse, body: unknown, status = 200) => {
    res.statusCode = status;
    res.setHeader('content-type', typeof body === 'string' ? 'text/html' : 'application/json');
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };

  const server: Server = createServer(async (req, res) => {
    const params = await readParams(req);
    if (params.merchant_id !== o.merchantId || params.sign !== fakeSign(params, o)) return send(res, { code: '4003', msg: 'bad signature' });
    const path = new URL(req.url!, 'http://x').pathname;
    if (path === '/api/balance') return send(res, { code: '0', data: { balance: yuan(fake.balanceFen) } });
    const reference = params.out_trade_no ?? '';
    if (path === '/api/query') {
      queries.push(reference);
      const order = orders.get(reference);
      return send(res, order ? result(order) : { code: '404', msg: 'no such order' });
    }
    if (path !== '/api/order') return send(res, 'not found', 404);
    placed.push(reference);
    const known = orders.get(reference);
    if (known) return send(res, result(known));
    const product = params.product_id ?? '';
    if (product === 'failure') return send(res, { code: '1001', msg: 'product sold out' });
    if (product === 'busy') return send(res, { code: '503', msg: 'system busy' });
    const quantity = Number(params.quantity);
    const order: FakeOrder = {
      reference,
      product,
      quantity,
      params,
      notifyUrl: params.notify_url ?? '',
      status: product.startsWith('pending') ? 'pending' : 'success',
      cards: Array.from({ length: quantity }, (_, i) => `${product}-${reference}-${i + 1}----pw${i + 1}`),
    };
    orders.set(reference, order);
    if (product === 'garbage') return send(res, '<html><body>502 Bad Gateway</body></html>');
    if (product === 'timeout') await new Promise((r) => setTimeout(r, fake.delayMs));
    return send(res, result(order));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (fake as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}
