import { z } from 'zod';
import { findCategory, findSku, getProduct, listStorefront } from '../catalog/snapshot.js';
import type { ProductView, SkuView } from '../catalog/catalog.js';
import type { Deps } from '../context.js';
import { isUniqueViolation } from '../db/dialect.js';
import { errors, fromZod, ShopError } from '../errors.js';
import type { Checkout } from '../orders/checkout.js';
import { getOrder, type OrderView } from '../orders/orders.js';
import { priceList, priceSku } from '../pricing/pricing.js';
import { balanceOf } from '../wallet/ledger.js';
import { pickInput } from '../inventory/picks.js';
import type { User } from './users.js';

/**
 * The Agent API (/api/v1) as data: what it accepts and answers, as zod schemas (the OpenAPI
 * document is generated from them), and the domain calls behind each route. Names are
 * snake_case, as integrators expect of a JSON API; amounts are integers in minor units.
 */

/** The schemas of the API's bodies, by name: /api/v1/openapi.json is generated from them. */
export const apiSchemas = z.registry<{ id: string }>();

const field = z.object({
  name: z.string(),
  label: z.object({ 'zh-CN': z.string(), en: z.string() }),
  type: z.enum(['text', 'phone', 'email', 'number', 'select']),
  required: z.boolean(),
  pattern: z.string().optional(),
  max_length: z.number().int(),
  options: z.array(z.string()).optional(),
});

export const apiProduct = z
  .object({
    sku: z.string().meta({ description: 'The SKU code: what POST /orders takes' }),
    name: z.string(),
    product: z.string(),
    category: z.string(),
    description: z.string(),
    type: z.string().meta({ description: 'card (keys), direct (top-up), manual, or a plugin type' }),
    price: z.number().int().meta({ description: "The caller's price per unit, minor units" }),
    currency: z.string(),
    stock: z.number().int().nullable().meta({ description: 'Units available, or null where not counted' }),
    in_stock: z.boolean(),
    min_quantity: z.number().int(),
    max_quantity: z.number().int().nullable(),
    buyer_limit: z
      .object({ units: z.number().int(), per: z.enum(['day', 'ever']) })
      .nullable()
      .meta({ description: 'At most units per buyer (the caller) a day (from midnight, Asia/Shanghai) or ever; null: no limit' }),
    tiers: z
      .array(z.object({ min_quantity: z.number().int(), percent_off: z.number().int().meta({ description: 'Basis points: 500 is 5 % off' }), price: z.number().int() }))
      .meta({ description: "Wholesale brackets: an order of min_quantity units or more pays price per unit (the caller's price less percent_off); deepest last" }),
    flash: z
      .object({ price: z.number().int(), starts_at: z.number().int(), ends_at: z.number().int(), left: z.number().int(), per_buyer: z.number().int().nullable() })
      .nullable()
      .meta({ description: 'A flash sale not over yet: price per unit from starts_at until ends_at (ms), while left units last, at most per_buyer units a buyer' }),
    fields: z.array(field).meta({ description: "What the buyer must give (account, server…), sent as POST /orders' fields" }),
  })
  .register(apiSchemas, { id: 'Product' });

export const apiOrderInput = z
  .object({
    sku: z.string({ error: 'field.required' }).min(1, 'field.required').max(64, 'field.too_long'),
    quantity: z
      .number({ error: 'field.integer' })
      .int('field.integer')
      .min(1, 'field.min')
      .max(100_000, 'field.max')
      .optional()
      .meta({ description: 'Default 1, or the number of keys picked; over the buyer_limit (or a flash sale\'s per_buyer): 409 limit_reached naming quantity, its message saying how many more the buyer may have' }),
    fields: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
    pick: pickInput.optional().meta({ description: 'Ids of keys picked from GET /products/{sku}/picks (a SKU that offers it), one unit each' }),
    coupon: z.string().trim().max(40, 'coupon.unknown').optional().meta({ description: 'A coupon code; refused with 422 coupon_invalid or 409 coupon_used_up naming the field coupon' }),
    callback_url: z
      .url({ protocol: /^https?$/, error: 'field.invalid' })
      .max(500, 'field.too_long')
      .optional()
      .meta({ description: 'Receives a signed POST when the order is delivered or refunded' }),
  })
  .strict()
  .register(apiSchemas, { id: 'OrderInput' });

export const apiOrder = z
  .object({
    no: z.string(),
    status: z.string().meta({ description: 'paid, delivering, delivered, failed, refunded, …' }),
    sku: z.string(),
    title: z.string(),
    quantity: z.number().int(),
    unit_price: z.number().int(),
    amount: z.number().int().meta({ description: 'quantity × unit_price less discount' }),
    coupon: z.string().nullable(),
    discount: z.number().int(),
    currency: z.string(),
    fields: z.record(z.string(), z.string()),
    keys: z.array(z.object({ card: z.string(), password: z.string().optional() })),
    delivery: z.string().nullable().meta({ description: 'A receipt or note delivered with the order' }),
    reason: z.string().nullable().meta({ description: 'Why it failed or was refunded' }),
    idempotency_key: z.string().nullable(),
    created_at: z.number().int(),
    paid_at: z.number().int().nullable(),
    delivered_at: z.number().int().nullable(),
  })
  .register(apiSchemas, { id: 'Order' });

export const apiWallet = z.object({ balance: z.number().int(), currency: z.string() }).register(apiSchemas, { id: 'Wallet' });

/** A webhook's body: the order as GET /orders/:no would show it, and what happened. */
export const apiWebhook = z.object({ event: z.enum(['order.delivered', 'order.refunded']), order: apiOrder }).register(apiSchemas, { id: 'Webhook' });

export const apiError = z
  .object({ error: z.object({ code: z.string(), message: z.string(), fields: z.record(z.string(), z.string()).optional() }) })
  .register(apiSchemas, { id: 'Error' });

export const IDEMPOTENCY_KEY = /^[A-Za-z0-9_.:-]{1,64}$/;

/** An integrator tells "no such SKU" from "no such order" by the code. */
const unknownSku = () => new ShopError('unknown_sku', 404, 'error.sku_not_found');

export type ApiProduct = z.infer<typeof apiProduct>;
export type ApiOrder = z.infer<typeof apiOrder>;

/**
 * The caller's price of every SKU in a listing, in one call per listing (not per product): the
 * agent price resolver's, the same price the checkout charges.
 */
async function callerPrices(deps: Deps, user: User, skus: SkuView[]): Promise<Map<number, SkuView>> {
  const list = await priceList(deps, { userId: user.id });
  const now = Date.now();
  return new Map(skus.map((s) => [s.id, priceSku(list, s, now)]));
}

/** Stock of SKUs filled by suppliers, as their last sync saw it: the best route's, or null if any is unknown. */
async function supplierStock(deps: Deps): Promise<Map<number, number | null>> {
  const rows: Array<{ sku_id: number; stock: number | null }> = await deps.db.read('sku_suppliers').where('enabled', true).select('sku_id', 'stock');
  const stock = new Map<number, number | null>();
  for (const r of rows) {
    const seen = stock.get(r.sku_id);
    stock.set(r.sku_id, seen === null || r.stock === null ? null : Math.max(seen ?? 0, Number(r.stock)));
  }
  return stock;
}

/** SKUs of a product, each with its category, as the listing below pairs them. */
type Listed = Array<{ c: { slug: string }; p: ProductView; s: SkuView }>;

/** One SKU on sale by its code, listed or by link only (a link-only SKU is asked for by its code, like a link). */
async function skuByCode(deps: Deps, code: string): Promise<Listed> {
  const found = await findSku(deps, code).catch(() => undefined);
  const c = found && (await findCategory(deps, found.product.categoryId));
  if (!found || !c) throw unknownSku();
  const p = await getProduct(deps, found.product.id, { sku: found.sku.code });
  return [{ c, p, s: p.skus.find((s) => s.id === found.sku.id)! }];
}

/**
 * Every listed SKU on sale, with the caller's prices; `sku` asks for one by its code instead
 * (404 if not on sale), which finds a link-only SKU too.
 */
export async function apiProducts(deps: Deps, user: User, filter: { category?: string; sku?: string } = {}): Promise<ApiProduct[]> {
  const [items, routed]: [Listed, Map<number, number | null>] = await Promise.all([
    filter.sku
      ? skuByCode(deps, filter.sku)
      : listStorefront(deps).then((categories) =>
          categories.filter((c) => !filter.category || c.slug === filter.category).flatMap((c) => c.products.flatMap((p) => p.skus.map((s) => ({ c, p, s })))),
        ),
    supplierStock(deps),
  ]);
  const prices = await callerPrices(deps, user, items.map((i) => i.s));
  return items.map(({ c, p, s }) => {
    const stock = p.type === 'card' ? s.stock : (routed.get(s.id) ?? null);
    const priced = prices.get(s.id)!;
    return {
      sku: s.code,
      name: s.name,
      product: p.name,
      category: c.slug,
      description: p.description,
      type: p.type,
      price: priced.price,
      currency: deps.config.shop.currency,
      tiers: (priced.tiers ?? []).map((t) => ({ min_quantity: t.minQuantity, percent_off: t.percentOff, price: t.price })),
      flash: priced.flash ? { price: priced.flash.price, starts_at: priced.flash.startsAt, ends_at: priced.flash.endsAt, left: priced.flash.left, per_buyer: priced.flash.perBuyer } : null,
      stock,
      in_stock: stock === null ? s.inStock : stock >= s.minQuantity,
      min_quantity: s.minQuantity,
      max_quantity: s.maxQuantity,
      buyer_limit: s.buyerLimit,
      fields: p.fields.map((f) => ({
        name: f.name,
        label: f.label,
        type: f.type,
        required: f.required,
        pattern: f.pattern,
        max_length: f.maxLength,
        options: f.options,
      })),
    };
  });
}

function toApiOrder(order: OrderView, extra: { sku: string; idempotencyKey: string | null }): ApiOrder {
  return {
    no: order.no,
    status: order.status,
    sku: extra.sku,
    title: order.title,
    quantity: order.quantity,
    unit_price: order.unitPrice,
    amount: order.amount,
    coupon: order.coupon,
    discount: order.discount,
    currency: order.currency,
    fields: order.fields,
    keys: order.keys,
    delivery: order.delivery,
    reason: order.reason,
    idempotency_key: extra.idempotencyKey,
    created_at: order.createdAt,
    paid_at: order.paidAt,
    delivered_at: order.deliveredAt,
  };
}

/** One of the caller's orders, by number or by the Idempotency-Key it was placed with. */
export async function apiOrderOf(deps: Deps, user: User, by: { no: string } | { idempotencyKey: string }): Promise<ApiOrder> {
  // Committed orders are enough (a repeat racing its first commit is caught by the unique key), so
  // the read pool answers and the writer (SQLite's one connection) keeps to the checkouts.
  const q = deps.db.read('orders').join('skus', 'skus.id', 'orders.sku_id').where('orders.user_id', user.id);
  if ('no' in by) q.andWhere('orders.no', by.no);
  else q.andWhere('orders.idempotency_key', by.idempotencyKey);
  const row = await q.first('orders.no', 'orders.idempotency_key', 'skus.code');
  if (!row) throw errors.notFound('error.order_not_found');
  return toApiOrder(await getOrder(deps, row.no, { user }), { sku: row.code, idempotencyKey: row.idempotency_key });
}

/** Requests being placed in this process, by buyer and key: a repeat waits for the first instead of racing it. */
const inFlight = new WeakMap<object, Map<string, Promise<ApiOrder>>>();

/**
 * Places an order paid from the caller's wallet, once per Idempotency-Key: a repeat (in flight
 * here, committed by another process, or long done) answers with the same order and `replayed`.
 * The key is unique per buyer in the orders table, so two racing requests cannot both commit; a
 * repeat with other contents is refused. A failure (no balance, no stock) creates nothing, and the
 * same key may be tried again.
 */
export async function placeApiOrder(
  deps: Deps,
  checkout: Checkout,
  caller: { user: User; apiKeyId: number },
  idempotencyKey: string,
  input: unknown,
): Promise<{ order: ApiOrder; replayed: boolean }> {
  if (!IDEMPOTENCY_KEY.test(idempotencyKey)) throw new ShopError('idempotency_key_required', 400, 'error.idempotency_key');
  const parsed = apiOrderInput.safeParse(input);
  if (!parsed.success) throw fromZod(parsed.error);
  const req = parsed.data;
  const quantity = req.quantity ?? req.pick?.length ?? 1;
  const { user } = caller;
  const replay = async () => {
    const order = await apiOrderOf(deps, user, { idempotencyKey }).catch((err: unknown) => {
      if (err instanceof ShopError && err.status === 404) return undefined;
      throw err;
    });
    if (order && (order.sku !== req.sku || order.quantity !== quantity)) throw new ShopError('idempotency_conflict', 409, 'error.idempotency_conflict');
    return order;
  };
  const done = await replay();
  if (done) return { order: done, replayed: true };

  let running = inFlight.get(deps.db);
  if (!running) inFlight.set(deps.db, (running = new Map()));
  const slot = `${user.id}:${idempotencyKey}`;
  const first = running.get(slot);
  if (first) {
    await first.catch(() => undefined);
    const order = await replay();
    if (order) return { order, replayed: true };
  }
  const placing = (async () => {
    const fields = req.fields && Object.fromEntries(Object.entries(req.fields).map(([k, v]) => [k, String(v)]));
    const result = await checkout(
      user,
      { sku: req.sku, quantity, pick: req.pick, fields, coupon: req.coupon, payment: 'wallet' },
      { origin: '', api: { keyId: caller.apiKeyId, idempotencyKey, callbackUrl: req.callback_url ?? null } },
    );
    return toApiOrder(result.order, { sku: req.sku, idempotencyKey });
  })();
  running.set(slot, placing);
  try {
    return { order: await placing, replayed: false };
  } catch (err) {
    if (err instanceof ShopError && err.messageKey === 'error.sku_not_found') throw unknownSku();
    // Another process committed the same key first: its order is the answer.
    if (isUniqueViolation(err)) {
      const order = await replay();
      if (order) return { order, replayed: true };
    }
    throw err;
  } finally {
    if (running.get(slot) === placing) running.delete(slot);
  }
}

export async function apiWalletOf(deps: Deps, user: User): Promise<z.infer<typeof apiWallet>> {
  return { balance: await balanceOf(deps, user.id), currency: deps.config.shop.currency };
}
