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
 *
 * Faults on top of that, for any product (`misbehave`): it hangs (until `release()`), answers an
 * HTML 502 page, cuts its JSON answer short, or resets the connection, for the next `times`
 * requests (then works again: flapping) or until told otherwise, before it handles a request
 * (nothing is made) or after (the order is made, only the answer is lost).
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

export type FakeFault = 'hang' | 'html-502' | 'truncated' | 'reset';

export interface FakeFaultPlan {
  fault: FakeFault;
  /** Requests that misbehave before it works again; every one until `misbehave(null)` when absent. */
  times?: number;
  /** Endpoints it applies to (`/api/order`, `/api/query`, `/api/balance`); every one when absent. */
  paths?: string[];
  /** `before` (default): the request never reaches the supplier's books; `after`: it is handled, only the answer is broken. */
  when?: 'before' | 'after';
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
  /** Misbehaves from the next request on (see FakeFaultPlan); null behaves again. */
  misbehave(plan: FakeFaultPlan | null): void;
  /** Requests it has received (whatever became of them), is answering now, and the most it ever answered at once. */
  readonly requests: number;
  readonly inFlight: number;
  readonly maxInFlight: number;
  /** Requests hanging now; `release()` lets them go on (they are then handled and answered). */
  readonly hanging: number;
  /** Resolves once `n` requests are hanging. */
  waitForHanging(n: number): Promise<void>;
  release(): void;
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

  let plan: (FakeFaultPlan & { left: number }) | null = null;
  let held: Array<() => void> = [];
  let waiting: Array<{ n: number; resolve: () => void }> = [];
  let requests = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  /** The fault for a request to `path`, counting it against the plan's times. */
  const faultFor = (path: string): FakeFaultPlan | null => {
    if (!plan || plan.left <= 0 || (plan.paths && !plan.paths.includes(path))) return null;
    plan.left--;
    return plan;
  };

  const fake: FakeSupplier = {
    url: '',
    orders,
    placed,
    queries,
    delayMs: 2000,
    balanceFen: 123_45,
    misbehave(next) {
      plan = next && { ...next, left: next.times ?? Infinity };
    },
    get requests() {
      return requests;
    },
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    get hanging() {
      return held.length;
    },
    waitForHanging(n) {
      return held.length >= n ? Promise.resolve() : new Promise((resolve) => waiting.push({ n, resolve }));
    },
    release() {
      const go = held;
      held = [];
      for (const resolve of go) resolve();
    },
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
    close: () =>
      new Promise((resolve) => {
        fake.release();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };

  const send = (res: ServerResponse, body: unknown, status = 200) => {
    res.statusCode = status;
    res.setHeader('content-type', typeof body === 'string' ? 'text/html' : 'application/json');
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };

  /** The supplier's own answer to a request: [HTTP status, body]. */
  async function handle(path: string, params: Record<string, string>): Promise<[number, unknown]> {
    if (params.merchant_id !== o.merchantId || params.sign !== fakeSign(params, o)) return [200, { code: '4003', msg: 'bad signature' }];
    if (path === '/api/balance') return [200, { code: '0', data: { balance: yuan(fake.balanceFen) } }];
    const reference = params.out_trade_no ?? '';
    if (path === '/api/query') {
      queries.push(reference);
      const order = orders.get(reference);
      return [200, order ? result(order) : { code: '404', msg: 'no such order' }];
    }
    if (path !== '/api/order') return [404, 'not found'];
    placed.push(reference);
    const known = orders.get(reference);
    if (known) return [200, result(known)];
    const product = params.product_id ?? '';
    if (product === 'failure') return [200, { code: '1001', msg: 'product sold out' }];
    if (product === 'busy') return [200, { code: '503', msg: 'system busy' }];
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
    if (product === 'garbage') return [200, '<html><body>502 Bad Gateway</body></html>'];
    if (product === 'timeout') await new Promise((r) => setTimeout(r, fake.delayMs));
    return [200, result(order)];
  }

  /** A broken answer: what a proxy in front of a sick supplier, or a dropped connection, looks like. */
  function broken(res: ServerResponse, fault: Exclude<FakeFault, 'hang'>, body: unknown) {
    if (fault === 'reset') return res.socket?.destroy();
    if (fault === 'html-502') return send(res, '<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>', 502);
    const json = JSON.stringify(body ?? { code: '0', msg: 'ok', data: { status: 'success' } });
    res.setHeader('content-type', 'application/json');
    res.end(json.slice(0, Math.floor(json.length / 2)));
  }

  const server: Server = createServer(async (req, res) => {
    requests++;
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.once('close', () => inFlight--);
    const params = await readParams(req);
    const path = new URL(req.url!, 'http://x').pathname;
    const fault = faultFor(path);
    if (fault?.fault === 'hang') {
      await new Promise<void>((resolve) => {
        held.push(resolve);
        const ready = waiting.filter((w) => held.length >= w.n);
        waiting = waiting.filter((w) => held.length < w.n);
        for (const w of ready) w.resolve();
      });
    }
    if (fault && fault.fault !== 'hang' && fault.when !== 'after') return broken(res, fault.fault, null);
    const [status, body] = await handle(path, params);
    if (fault && fault.fault !== 'hang') return broken(res, fault.fault, body);
    return send(res, body, status);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (fake as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}
