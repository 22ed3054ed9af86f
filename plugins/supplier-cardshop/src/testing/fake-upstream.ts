/**
 * A fake upstream cardshop for tests: the Agent API's /products, /orders (with Idempotency-Key),
 * /orders?idempotency_key=, /wallet, checking request signatures with its own implementation of the
 * scheme (written apart from the core's, so a bug in one is not mirrored in the other), and sending
 * signed webhooks. SKUs: `INSTANT` delivers at once; `LATER` waits for `deliver(key)`; `SOLD-OUT`
 * is refused 409 out_of_stock. A wallet below an order's amount is refused 402.
 */
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeUpstreamOrder {
  no: string;
  status: 'paid' | 'delivered' | 'refunded';
  sku: string;
  quantity: number;
  amount: number;
  fields: Record<string, string>;
  keys: Array<{ card: string }>;
  idempotency_key: string;
  callback_url?: string;
}

export interface FakeUpstream {
  readonly url: string;
  readonly key: string;
  readonly secret: string;
  /** Orders by Idempotency-Key. */
  readonly orders: Map<string, FakeUpstreamOrder>;
  /** Every POST /orders by Idempotency-Key (a repeat shows up twice, is made once). */
  readonly posts: string[];
  balance: number;
  /** What it sells; a test may change prices and stock. */
  readonly products: Array<{ sku: string; name: string; product: string; category: string; type: string; price: number; stock: number | null }>;
  /** Delivers (or refunds) a waiting order and, unless told not to, sends its webhook; returns the receiver's HTTP status. */
  deliver(idempotencyKey: string, opts?: { refund?: boolean; webhook?: boolean }): Promise<number | null>;
  close(): Promise<void>;
}

const PRODUCTS = () => [
  { sku: 'INSTANT', name: '100', product: 'Game card', category: 'games', type: 'card', price: 900, stock: 50 },
  { sku: 'LATER', name: '50', product: 'Phone top-up', category: 'phone', type: 'direct', price: 4800, stock: null },
  { sku: 'SOLD-OUT', name: '10', product: 'Game card', category: 'games', type: 'card', price: 90, stock: 0 },
];

function sign(secret: string, method: string, path: string, timestamp: string, nonce: string, body: string): string {
  const digest = createHash('sha256').update(body).digest('hex');
  return createHmac('sha256', secret).update(`${method}\n${path}\n${timestamp}\n${nonce}\n${digest}`).digest('hex');
}

export async function startFakeUpstream(opts: { key?: string; secret?: string; balance?: number } = {}): Promise<FakeUpstream> {
  const key = opts.key ?? 'ck_fakeupstream01';
  const secret = opts.secret ?? 'cs_fake-upstream-secret';
  const orders = new Map<string, FakeUpstreamOrder>();
  const posts: string[] = [];
  const nonces = new Set<string>();
  let n = 0;

  const view = (o: FakeUpstreamOrder) => ({
    ...o,
    title: o.sku,
    unit_price: o.amount / o.quantity,
    currency: 'CNY',
    delivery: null,
    reason: o.status === 'refunded' ? 'upstream could not deliver' : null,
    created_at: 0,
    paid_at: 0,
    delivered_at: o.status === 'delivered' ? 0 : null,
    keys: o.status === 'delivered' ? o.keys : [],
  });

  const upstream: FakeUpstream = {
    url: '',
    key,
    secret,
    orders,
    posts,
    balance: opts.balance ?? 100_000,
    products: PRODUCTS(),
    async deliver(idem, o = {}) {
      const order = orders.get(idem)!;
      order.status = o.refund ? 'refunded' : 'delivered';
      if (o.refund) upstream.balance += order.amount;
      if (o.webhook === false) return null;
      const body = JSON.stringify({ event: o.refund ? 'order.refunded' : 'order.delivered', order: view(order) });
      const target = new URL(order.callback_url!);
      const timestamp = String(Math.floor(Date.now() / 1000));
      const nonce = `n${Date.now()}${Math.random().toString(36).slice(2)}`;
      const res = await fetch(target, {
        method: 'POST',
        body,
        headers: {
          'content-type': 'application/json',
          'x-cardshop-key': key,
          'x-cardshop-timestamp': timestamp,
          'x-cardshop-nonce': nonce,
          'x-cardshop-signature': sign(secret, 'POST', target.pathname + target.search, timestamp, nonce, body),
        },
      });
      return res.status;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.statusCode = status;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(body));
  };
  const refuse = (res: ServerResponse, status: number, code: string) => send(res, status, { error: { code, message: code } });

  const server: Server = createServer(async (req: IncomingMessage, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const h = (name: string) => String(req.headers[name] ?? '');
    const fresh = Math.abs(Date.now() / 1000 - Number(h('x-cardshop-timestamp'))) <= 300;
    if (h('x-cardshop-key') !== key || !fresh || h('x-cardshop-signature') !== sign(secret, req.method!, req.url!, h('x-cardshop-timestamp'), h('x-cardshop-nonce'), body)) {
      return refuse(res, 401, 'bad_signature');
    }
    if (nonces.has(h('x-cardshop-nonce'))) return refuse(res, 401, 'nonce_reused');
    nonces.add(h('x-cardshop-nonce'));
    const url = new URL(req.url!, 'http://x');
    if (req.method === 'GET' && url.pathname === '/api/v1/products') return send(res, 200, { products: upstream.products.map((p) => ({ ...p, description: '', currency: 'CNY', in_stock: p.stock !== 0, min_quantity: 1, max_quantity: null, fields: [] })) });
    if (req.method === 'GET' && url.pathname === '/api/v1/wallet') return send(res, 200, { wallet: { balance: upstream.balance, currency: 'CNY' } });
    if (req.method === 'GET' && url.pathname === '/api/v1/orders') {
      const order = orders.get(url.searchParams.get('idempotency_key') ?? '');
      return order ? send(res, 200, { order: view(order) }) : refuse(res, 404, 'not_found');
    }
    if (req.method === 'POST' && url.pathname === '/api/v1/orders') {
      const idem = h('idempotency-key');
      posts.push(idem);
      const known = orders.get(idem);
      if (known) return send(res, 200, { order: view(known) });
      const input = JSON.parse(body) as { sku: string; quantity?: number; fields?: Record<string, string>; callback_url?: string };
      const product = upstream.products.find((p) => p.sku === input.sku);
      if (!product) return refuse(res, 404, 'unknown_sku');
      if (product.stock === 0) return refuse(res, 409, 'out_of_stock');
      const quantity = input.quantity ?? 1;
      const amount = product.price * quantity;
      if (upstream.balance < amount) return refuse(res, 402, 'insufficient_balance');
      upstream.balance -= amount;
      const no = `UP-${++n}`;
      const order: FakeUpstreamOrder = {
        no,
        status: product.sku === 'INSTANT' ? 'delivered' : 'paid',
        sku: product.sku,
        quantity,
        amount,
        fields: input.fields ?? {},
        keys: Array.from({ length: quantity }, (_, i) => ({ card: `${no}-KEY-${i + 1}` })),
        idempotency_key: idem,
        callback_url: input.callback_url,
      };
      orders.set(idem, order);
      return send(res, 201, { order: view(order) });
    }
    refuse(res, 404, 'not_found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (upstream as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return upstream;
}
