import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SupplierConnector, SupplierProduct, SupplierResult } from '@cardshop/core';
import type { AcmeSettings } from './index.js';

/**
 * Acme's API, as its documentation would describe it:
 * - every request carries `x-acme-merchant`, `x-acme-timestamp` (unix seconds) and `x-acme-sign`,
 *   hex HMAC-SHA256 of `timestamp + "\n" + method + " " + path + "\n" + body` with the API key;
 *   its callbacks are signed the same way;
 * - `GET /v1/products`, `POST /v1/orders` (idempotent by `merchant_order_no`),
 *   `GET /v1/orders/<merchant_order_no>` (404 when it never arrived), `GET /v1/balance`;
 * - an order is `done` (with `cards` or a `receipt`), `processing` (a callback follows) or
 *   `refused` (with a `reason`); amounts are in fen.
 */
export interface AcmeOrder {
  merchant_order_no: string;
  id: string;
  status: 'done' | 'processing' | 'refused';
  cards: Array<{ card: string; password?: string }>;
  receipt?: string;
  amount: number;
  reason?: string;
}

export interface AcmeProduct {
  code: string;
  name: string;
  product: string;
  category: string;
  kind: 'card' | 'topup';
  price: number;
  stock: number | null;
}

export const acmeSign = (key: string, timestamp: string, method: string, path: string, body: string) =>
  createHmac('sha256', key).update(`${timestamp}\n${method} ${path}\n${body}`).digest('hex');

/** Acme could not be asked (down, slow, garbled). The core retries later, asking first whether the order arrived. */
export class AcmeUnreachable extends Error {
  override name = 'AcmeUnreachable';
}

/** Only Acme's final answers are final here; `processing` waits for its callback or the next query. */
function resultOf(o: AcmeOrder): SupplierResult {
  if (o.status === 'done') return { status: 'delivered', keys: o.cards, receipt: o.receipt, cost: o.amount, supplierOrderNo: o.id };
  if (o.status === 'refused') return { status: 'failed', retryable: false, reason: `Acme: ${o.reason ?? 'refused'}` };
  return { status: 'pending', supplierOrderNo: o.id };
}

const toProduct = (p: AcmeProduct): SupplierProduct => ({
  sku: p.code,
  name: p.name,
  product: p.product,
  category: p.category,
  // Keys or a top-up: either way the imported SKU forwards each order to Acme, and keeps no stock here.
  type: p.kind === 'card' ? 'card' : 'direct',
  cost: p.price,
  stock: p.stock,
  // A top-up needs the account to credit, asked of the buyer at checkout.
  fields: p.kind === 'topup' ? [{ name: 'account', label: { 'zh-CN': '充值账号', en: 'Account' }, type: 'text', required: true, maxLength: 64 }] : [],
});

export function createAcmeConnector(s: AcmeSettings): SupplierConnector {
  async function call(method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<{ status: number; body: any }> {
    const raw = body === undefined ? '' : JSON.stringify(body);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const timeout = AbortSignal.timeout(s.timeoutMs);
    try {
      const res = await fetch(`${s.apiUrl}${path}`, {
        method,
        body: raw || undefined,
        headers: {
          'content-type': 'application/json',
          'x-acme-merchant': s.merchantId,
          'x-acme-timestamp': timestamp,
          'x-acme-sign': acmeSign(s.apiKey.reveal(), timestamp, method, path, raw),
        },
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      if (res.status >= 500) throw new AcmeUnreachable(`${method} ${path}: HTTP ${res.status}`);
      return { status: res.status, body: await res.json() };
    } catch (err) {
      if (err instanceof AcmeUnreachable) throw err;
      throw new AcmeUnreachable(`${method} ${path}: ${(err as Error).message}`);
    }
  }

  const connector: SupplierConnector = {
    id: s.id,
    label: { 'zh-CN': 'Acme 批发', en: 'Acme wholesale' },

    // Our order number is Acme's merchant_order_no: asking twice never makes two orders there.
    async placeOrder(input) {
      const r = await call(
        'POST',
        '/v1/orders',
        { merchant_order_no: input.reference, code: input.sku, quantity: input.quantity, account: input.fields.account, notify_url: input.callbackUrl },
        input.signal,
      );
      if (r.status === 200) return resultOf(r.body.order);
      // A low balance may be topped up: ask again later. Anything else is Acme's final no.
      return { status: 'failed', retryable: r.body.error === 'balance', reason: `Acme: ${r.body.error ?? `HTTP ${r.status}`}` };
    },

    async queryOrder(input) {
      const r = await call('GET', `/v1/orders/${encodeURIComponent(input.reference)}`, undefined, input.signal);
      if (r.status === 404) return { status: 'unknown' };
      if (r.status !== 200) throw new AcmeUnreachable(`query ${input.reference}: HTTP ${r.status}`);
      return resultOf(r.body.order);
    },

    // Acme's callback for a `processing` order: its signature and age checked, then read like an answer.
    async handleCallback(req) {
      const refuse = (why: string) => ({ invalid: why, reply: { status: 401, body: why } });
      const timestamp = req.headers['x-acme-timestamp'] ?? '';
      if (!/^\d{1,12}$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return refuse('stale timestamp');
      const given = req.headers['x-acme-sign'] ?? '';
      const expected = acmeSign(s.apiKey.reveal(), timestamp, req.method, req.path ?? '', req.rawBody);
      if (given.length !== expected.length || !timingSafeEqual(Buffer.from(given), Buffer.from(expected))) return refuse('bad signature');
      const order = (req.body as { order: AcmeOrder }).order;
      return { reference: order.merchant_order_no, result: resultOf(order), reply: { body: 'OK' } };
    },

    async listProducts({ signal }) {
      const r = await call('GET', '/v1/products', undefined, signal);
      if (r.status !== 200) throw new AcmeUnreachable(`products: HTTP ${r.status}`);
      return { products: (r.body.products as AcmeProduct[]).map(toProduct) };
    },

    async balance({ signal }) {
      const r = await call('GET', '/v1/balance', undefined, signal);
      if (r.status !== 200) throw new AcmeUnreachable(`balance: HTTP ${r.status}`);
      return { balance: r.body.balance, currency: r.body.currency, low: r.body.balance < s.lowBalance };
    },
  };
  if (s.import) connector.catalog = { markupPercent: s.import.markupPercent, skuPrefix: s.import.skuPrefix, syncMinutes: s.import.syncMinutes };
  return connector;
}
