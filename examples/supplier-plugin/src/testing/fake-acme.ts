/**
 * A fake Acme on 127.0.0.1 for tests: the API of connector.ts, with its own signer (written apart
 * from the plugin's, so a bug in one is not mirrored in the other). Products:
 * - `ACME-10`: card keys, delivered at once while its keys last;
 * - `ACME-TOPUP-50`: a top-up that stays `processing` until `finish(reference)` sends the callback;
 * - `ACME-GONE`: refused (sold out).
 * An order number it has seen is never made twice: placing it again answers the order as it stands.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AcmeOrder, AcmeProduct } from '../connector.js';

export interface FakeAcme {
  readonly url: string;
  readonly merchantId: string;
  readonly apiKey: string;
  readonly products: AcmeProduct[];
  /** Orders by merchant_order_no. */
  readonly orders: Map<string, AcmeOrder & { notifyUrl: string }>;
  /** Every order request, repeats included. */
  readonly placed: string[];
  balance: number;
  /** Completes a processing top-up and sends its signed callback; answers the shop's reply status. */
  finish(reference: string): Promise<number>;
  close(): Promise<void>;
}

const sign = (key: string, text: string) => createHmac('sha256', key).update(text).digest('hex');

export async function startFakeAcme(opts: { keys?: string[]; balance?: number } = {}): Promise<FakeAcme> {
  const merchantId = 'M1001';
  const apiKey = `acme-key-${randomBytes(8).toString('hex')}`;
  const keys = [...(opts.keys ?? ['ACME-KEY-0001', 'ACME-KEY-0002', 'ACME-KEY-0003'])];
  const products: AcmeProduct[] = [
    { code: 'ACME-10', name: '¥10 card', product: 'Acme game card', category: 'Game cards', kind: 'card', price: 950, stock: keys.length },
    { code: 'ACME-TOPUP-50', name: '¥50 top-up', product: 'Acme mobile top-up', category: 'Top-ups', kind: 'topup', price: 4900, stock: null },
    { code: 'ACME-GONE', name: 'Sold out', product: 'Acme game card', category: 'Game cards', kind: 'card', price: 100, stock: 0 },
  ];
  const orders: FakeAcme['orders'] = new Map();
  const placed: string[] = [];

  function place(body: { merchant_order_no: string; code: string; quantity: number; account?: string; notify_url: string }): [number, unknown] {
    placed.push(body.merchant_order_no);
    const seen = orders.get(body.merchant_order_no);
    if (seen) return [200, { order: seen }];
    const product = products.find((p) => p.code === body.code);
    if (!product || product.code === 'ACME-GONE' || (product.kind === 'card' && keys.length < body.quantity)) return [409, { error: 'sold_out' }];
    const amount = product.price * body.quantity;
    if (fake.balance < amount) return [402, { error: 'balance' }];
    fake.balance -= amount;
    const card = product.kind === 'card';
    const order = {
      merchant_order_no: body.merchant_order_no,
      id: `A${orders.size + 1}`,
      status: card ? ('done' as const) : ('processing' as const),
      cards: card ? keys.splice(0, body.quantity).map((k) => ({ card: k })) : [],
      amount,
      notifyUrl: body.notify_url,
    };
    orders.set(order.merchant_order_no, order);
    return [200, { order }];
  }

  function route(req: IncomingMessage, raw: string): [number, unknown] {
    const path = req.url ?? '/';
    const timestamp = String(req.headers['x-acme-timestamp'] ?? '');
    if (req.headers['x-acme-merchant'] !== merchantId || req.headers['x-acme-sign'] !== sign(apiKey, `${timestamp}\n${req.method} ${path}\n${raw}`)) return [401, { error: 'sign' }];
    if (req.method === 'GET' && path === '/v1/products') return [200, { products }];
    if (req.method === 'GET' && path === '/v1/balance') return [200, { balance: fake.balance, currency: 'CNY' }];
    if (req.method === 'POST' && path === '/v1/orders') return place(JSON.parse(raw));
    const query = /^\/v1\/orders\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && query) {
      const order = orders.get(decodeURIComponent(query[1]!));
      return order ? [200, { order }] : [404, { error: 'not_found' }];
    }
    return [404, { error: 'not_found' }];
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d));
    req.on('end', () => {
      const [status, body] = route(req, raw);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  const fake: FakeAcme = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    merchantId,
    apiKey,
    products,
    orders,
    placed,
    balance: opts.balance ?? 100_000,
    async finish(reference) {
      const order = orders.get(reference);
      if (!order) throw new Error(`fake Acme has no order ${reference}`);
      Object.assign(order, { status: 'done', receipt: `credited ${order.amount / 100} to the account` });
      const body = JSON.stringify({ order });
      const url = new URL(order.notifyUrl);
      const timestamp = String(Math.floor(Date.now() / 1000));
      const res = await fetch(url, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', 'x-acme-timestamp': timestamp, 'x-acme-sign': sign(apiKey, `${timestamp}\nPOST ${url.pathname}${url.search}\n${body}`) },
      });
      return res.status;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  return fake;
}
