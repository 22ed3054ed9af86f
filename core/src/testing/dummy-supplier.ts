import { createHmac } from 'node:crypto';
import type { SupplierConnector, SupplierResult } from '../delivery/supplier.js';
import { definePlugin, type ConfiguredPlugin } from '../plugins/define.js';
import { CORE_VERSION } from '../plugins/host.js';
import { safeEqual } from '../security/keys.js';

/**
 * A supplier for tests and for plugin authors, kept in memory. What it does with an order depends
 * on the supplier SKU's behaviour, which a test may change at any time:
 * - `deliver`: delivered at once, with one key per unit (`<sku>-<reference>-<n>`);
 * - `pending`: accepted; `complete(reference)` finishes it later, reported by a signed callback
 *   (or left for a poll with `{ callback: false }`);
 * - `fail`: refused for good; `retry`: refused for now (maintenance);
 * - `hang`: the order is made and delivered at the supplier, but the answer never comes (the
 *   caller times out): only a query finds out, a late success.
 * Every order is kept by reference: placing the same reference again returns it, never a second.
 */
export type DummyBehaviour = 'deliver' | 'pending' | 'fail' | 'retry' | 'hang';

export interface DummySupplierOrder {
  reference: string;
  sku: string;
  quantity: number;
  fields: Record<string, string>;
  callbackUrl: string;
  result: SupplierResult;
}

export interface DummySupplier {
  readonly id: string;
  /** Pass to the shop's `plugins`. */
  readonly plugin: ConfiguredPlugin;
  readonly connector: SupplierConnector;
  /** Behaviour by supplier SKU; SKUs not listed deliver. */
  readonly behaviour: Map<string, DummyBehaviour>;
  /** Orders by reference. */
  readonly orders: Map<string, DummySupplierOrder>;
  /** Every placeOrder call, in order, by reference (a repeat shows up twice here, once in `orders`). */
  readonly calls: string[];
  /** Finishes a pending order and, unless told otherwise, sends its signed callback; returns the HTTP status. */
  complete(reference: string, result?: SupplierResult, opts?: { callback?: boolean }): Promise<number | null>;
  /** Unit cost it reports (minor units). */
  cost: number;
}

const SECRET = 'dummy-supplier-secret';

export function createDummySupplier(id = 'dummy-supplier'): DummySupplier {
  const behaviour = new Map<string, DummyBehaviour>();
  const orders = new Map<string, DummySupplierOrder>();
  const calls: string[] = [];
  const delivered = (o: { reference: string; sku: string; quantity: number }, cost: number): SupplierResult => ({
    status: 'delivered',
    keys: Array.from({ length: o.quantity }, (_, i) => ({ card: `${o.sku}-${o.reference}-${i + 1}` })),
    cost: cost * o.quantity,
    supplierOrderNo: `S-${o.reference}`,
  });
  const sign = (body: string) => createHmac('sha256', SECRET).update(body).digest('hex');

  const supplier: DummySupplier = {
    id,
    behaviour,
    orders,
    calls,
    cost: 100,
    connector: undefined as unknown as SupplierConnector,
    plugin: undefined as unknown as ConfiguredPlugin,
    async complete(reference, result, opts = {}) {
      const order = orders.get(reference);
      if (!order) throw new Error(`dummy supplier has no order ${reference}`);
      order.result = result ?? delivered(order, supplier.cost);
      if (opts.callback === false) return null;
      const body = JSON.stringify({ reference, result: order.result });
      const res = await fetch(order.callbackUrl, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-dummy-signature': sign(body) } });
      return res.status;
    },
  };

  const connector: SupplierConnector = {
    id,
    label: { 'zh-CN': '测试供货商', en: 'Test supplier' },
    async placeOrder(input) {
      calls.push(input.reference);
      const known = orders.get(input.reference);
      if (known) return known.result;
      const how = behaviour.get(input.sku) ?? 'deliver';
      if (how === 'fail') return { status: 'failed', retryable: false, reason: `${input.sku} is sold out` };
      if (how === 'retry') return { status: 'failed', retryable: true, reason: 'under maintenance' };
      const order: DummySupplierOrder = { ...input, result: { status: 'pending', supplierOrderNo: `S-${input.reference}` } };
      delete (order as { signal?: unknown }).signal;
      orders.set(input.reference, order);
      if (how === 'deliver') order.result = delivered(input, supplier.cost);
      if (how === 'hang') {
        order.result = delivered(input, supplier.cost);
        await new Promise((_, reject) => input.signal?.addEventListener('abort', () => reject(new Error('no answer')), { once: true }));
      }
      return order.result;
    },
    async queryOrder({ reference }) {
      return orders.get(reference)?.result ?? { status: 'unknown' };
    },
    async handleCallback(req) {
      const signature = req.headers['x-dummy-signature'] ?? '';
      if (!safeEqual(signature, sign(req.rawBody))) return { invalid: 'bad signature', reply: { status: 400, body: 'bad signature' } };
      const { reference, result } = req.body as { reference: string; result: SupplierResult };
      return { reference, result, reply: { body: 'ok' } };
    },
    async listProducts() {
      return {
        products: [...new Set(['DUMMY-1', ...behaviour.keys()])].map((sku) => ({
          sku,
          name: sku,
          product: `Dummy ${sku}`,
          category: 'dummy',
          type: 'direct' as const,
          cost: supplier.cost,
          stock: null,
        })),
      };
    },
    async balance() {
      return { balance: 1_000_000, currency: 'CNY' };
    },
  };
  (supplier as { connector: SupplierConnector }).connector = connector;
  (supplier as { plugin: ConfiguredPlugin }).plugin = definePlugin({
    name: id,
    version: CORE_VERSION,
    core: `>=${CORE_VERSION}`,
    setup(ctx) {
      ctx.supplier(connector);
    },
  })();
  return supplier;
}
