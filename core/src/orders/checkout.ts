import { z } from 'zod';
import type { User } from '../agents/users.js';
import { validateFields } from '../catalog/fields.js';
import { crashPoint } from '../crash.js';
import { isDatabaseUnavailable, isStorageFull } from '../db/dialect.js';
import type { ProductType } from '../catalog/catalog.js';
import { findSku } from '../catalog/snapshot.js';
import type { Deps } from '../context.js';
import { applyCoupon, type AppliedCoupon } from '../coupons/coupons.js';
import { errors, fromZod, ShopError } from '../errors.js';
import type { CardKey } from '../inventory/parse.js';
import { pickInput } from '../inventory/picks.js';
import { multiply } from '../money/money.js';
import type { MarginShare } from '../pricing/margins.js';
import { invalidatePricing, priceList } from '../pricing/pricing.js';
import type { ProductTypeDefinition } from '../delivery/product-type.js';
import type { Locale } from '../i18n/messages.js';
import { createBatches } from './batch.js';
import { buyerKey } from './buyer.js';
import { GroupCommit } from './group-commit.js';
import { checkLimits, countsOf, type OrderLimits } from './limits.js';
import { hashOrderToken } from './numbers.js';
import type { OrderView } from './orders.js';
import { hashQueryPassword, queryPasswordSchema } from './lookup.js';
import { placeGatewayOrder } from './payments.js';
import type { OrderStatus } from './state.js';
import type { PaymentAction, PaymentGateway } from '../plugins/payment.js';

export const checkoutSchema = z
  .object({
    sku: z.union([z.string().min(1).max(64), z.number().int().positive()], { error: 'field.required' }),
    /** One unless keys are picked: then as many as are picked. */
    quantity: z.number({ error: 'field.integer' }).int('field.integer').min(1, 'field.min').max(100_000, 'field.max').optional(),
    /** The ids of the keys the buyer picked (卡密预选), from the SKU's previews. */
    pick: pickInput.optional(),
    fields: z.record(z.string(), z.unknown()).optional(),
    contact: z.string().trim().max(120, 'field.too_long').optional(),
    /** A guest's password for finding this order again by its number or contact (orders/lookup.ts). */
    queryPassword: queryPasswordSchema.optional(),
    /** A coupon code (coupons/coupons.ts); empty: none. */
    coupon: z.string().trim().max(40, 'coupon.unknown').optional(),
    /** `wallet`, or the id of a payment gateway a plugin offers. */
    payment: z.string({ error: 'field.required' }).min(1, 'field.required').max(32, 'error.payment_unsupported'),
  })
  .strict();

export type CheckoutInput = z.input<typeof checkoutSchema>;

/** One buyer's order as the batch sees it: already validated and priced. */
export interface PlacedOrder {
  userId: number | null;
  payment: string;
  skuId: number;
  productId: number;
  productType: ProductType;
  /** A shared-key SKU (循环卡密): each unit is a copy of one of its keys. */
  shared?: boolean;
  title: string;
  quantity: number;
  /** What this buyer pays per unit (see pricing/resolver.ts). */
  unitPrice: number;
  /** What the buyer pays: the units at `unitPrice`, less the coupon's discount. */
  amount: number;
  /** The coupon the buyer used; its use is counted in the order's transaction. */
  coupon?: AppliedCoupon;
  /** The catalog price the buyer's price was resolved from: if it changed, so may have the price. */
  retail: number;
  /** The agents' margins on the whole order, nearest first; the shop keeps `amount` minus them. */
  margins: MarginShare[];
  /** The sub-shop the order was placed on. */
  siteId: number | null;
  contact: string | null;
  fields: Record<string, string>;
  /** The hash of the guest's query password, if one was chosen. */
  queryHash?: string | null;
  api?: ApiOrigin | null;
  /** Why a `before.checkout` check holds its delivery for an admin's review (orders/review.ts). */
  review?: string | null;
  /** The keys the buyer picked, one per unit (卡密预选). */
  picks?: number[];
  /** The flash sale whose price it got (限时秒杀): its units are counted against the sale's cap. */
  flash?: { price: number; startsAt: number } | null;
  /** The buyer's limits its units count against (限购, orders/limits.ts). */
  limits?: OrderLimits;
  /** The language the buyer used, for the order's e-mails (null: the shop's). */
  locale?: Locale | null;
}

/** Whether the checkout delivers the order in its own transaction: in-stock cards not held for review. */
export const deliveredAtOnce = (o: PlacedOrder) => o.productType === 'card' && !o.review;

export interface CheckoutResult {
  /** The order as its buyer sees it, with its keys when delivered. */
  order: OrderView;
  /** Lets whoever holds it open the order page without logging in. Shown once. */
  token: string;
  /** For a gateway payment: how the buyer pays (a link, a QR code or a form). */
  payment?: PaymentAction;
}

/** Where the request came from, for the gateway's notify and return URLs. */
export interface RequestInfo {
  origin: string;
  ip?: string;
  /** An opaque id of the browser, for risk rules (see http/context.ts `requestInfo`). */
  device?: string;
  /** The sub-shop the buyer is on: its orders go through its owner, at the owner's prices. */
  site?: { id: number; ownerId: number };
  /** Placed through the Agent API: the key that signed it, its Idempotency-Key, where its webhooks go. */
  api?: ApiOrigin;
  /** The page's language: the order's e-mails are written in it. */
  locale?: Locale;
}

export interface ApiOrigin {
  keyId: number;
  /** Unique per buyer (a database index): a repeat can never become a second order. */
  idempotencyKey: string;
  callbackUrl: string | null;
}

const CONTACT = /^(?:[^\s@]+@[^\s@]+\.[^\s@]+|\+?\d{6,20})$/;

/** Validates and prices one checkout; throws a ShopError naming the field on bad input. */
async function prepare(
  deps: Deps,
  plugins: { gateways: ReadonlyMap<string, PaymentGateway>; productTypes: ReadonlyMap<string, ProductTypeDefinition> },
  buyer: User | undefined,
  input: CheckoutInput,
  request: RequestInfo | undefined,
): Promise<PlacedOrder> {
  const parsed = checkoutSchema.safeParse(input);
  if (!parsed.success) throw fromZod(parsed.error);
  const req = parsed.data;
  const wallet = req.payment === 'wallet';
  if (!wallet && !plugins.gateways.has(req.payment)) throw errors.validation({ payment: 'error.payment_unsupported' });
  if (wallet && !buyer) throw new ShopError('unauthorized', 401, 'error.guest_wallet');
  const { product, sku } = await findSku(deps, req.sku);
  const fieldErrors: Record<string, string> = {};
  const quantity = req.quantity ?? req.pick?.length ?? 1;
  if (req.pick) {
    if (!sku.pick) fieldErrors.pick = 'keys.pick_off';
    else if (new Set(req.pick).size !== req.pick.length) fieldErrors.pick = 'keys.pick_twice';
    else if (req.pick.length !== quantity) fieldErrors.quantity = 'keys.pick_quantity';
  }
  const max = Math.min(sku.maxQuantity ?? Infinity, deps.config.checkout.maxQuantity);
  if (quantity < sku.minQuantity) fieldErrors.quantity = 'field.min';
  if (quantity > max) fieldErrors.quantity = 'field.max';
  const fields = validateFields(product.fields, req.fields);
  if (!fields.ok) Object.assign(fieldErrors, fields.errors);
  // A plugin's product type may check the input further (an account that must exist, say).
  const check = plugins.productTypes.get(product.type)?.validateInput;
  if (check && fields.ok) {
    for (const [name, message] of Object.entries((await check({ sku: sku.code, quantity, fields: fields.values })) ?? {})) {
      fieldErrors[`fields.${name}`] = message;
    }
  }
  // A guest's contact is how the shop reaches them about the order.
  if ((req.contact && !CONTACT.test(req.contact)) || (!buyer && !req.contact)) fieldErrors.contact = 'field.contact';
  if (Object.keys(fieldErrors).length) {
    throw new ShopError('validation_failed', 400, 'error.validation_failed', fieldErrors, { min: sku.minQuantity, max });
  }
  const { price, unitPrice, gross, margins, coupon } = await priced(deps, buyer, request?.site, {
    product,
    sku,
    quantity,
    picked: Boolean(req.pick),
    coupon: req.coupon,
    contact: req.contact || null,
  });
  const amount = gross - (coupon?.discount ?? 0);
  const counts = countsOf(sku, price.sale, deps.now());
  const limits = counts.length ? { buyer: buyerKey(deps, { userId: buyer?.id ?? null, contact: req.contact || null }), counts } : undefined;
  if (limits) await checkLimits(deps, sku.id, limits, quantity);
  const review = await deps.hooks.check('before.checkout', {
    buyer,
    skuId: sku.id,
    productId: product.id,
    quantity,
    amount,
    contact: req.contact || null,
    payment: req.payment,
    ip: request?.ip ?? null,
    device: request?.device ?? null,
    api: Boolean(request?.api),
  });
  return {
    userId: buyer?.id ?? null,
    payment: req.payment,
    skuId: sku.id,
    productId: product.id,
    productType: product.type,
    shared: sku.shared,
    title: `${product.name} - ${sku.name}`.slice(0, 330),
    quantity,
    unitPrice,
    amount,
    ...(coupon ? { coupon } : {}),
    retail: price.retail,
    flash: price.sale,
    ...(limits ? { limits } : {}),
    margins,
    siteId: request?.site?.id ?? null,
    contact: req.contact || null,
    fields: fields.ok ? fields.values : {},
    queryHash: wallet ? null : hashQueryPassword(deps, req.queryPassword || undefined),
    api: request?.api ?? null,
    review,
    ...(req.pick ? { picks: req.pick } : {}),
    locale: request?.locale ?? null,
  };
}

/**
 * The buyer's price of `quantity` units, with the agents' margins on them, and the coupon's
 * discount on that (after level pricing, taken from the margin of the agent funding it).
 */
async function priced(
  deps: Deps,
  buyer: User | undefined,
  site: RequestInfo['site'],
  o: { product: { categoryId: number }; sku: { id: number; pick: { surcharge: number } | null }; quantity: number; picked: boolean; coupon?: string; contact: string | null },
) {
  const price = await priceFor(deps, buyer, site, o.sku.id, o.quantity);
  // Each key picked costs the SKU's surcharge on top; the surcharge is the shop's, not the agents'.
  const unitPrice = price.price + (o.picked ? o.sku.pick!.surcharge : 0);
  const gross = multiply(unitPrice, o.quantity);
  const margins = price.margins.map((m) => ({ ...m, amount: multiply(m.amount, o.quantity) }));
  if (!o.coupon) return { price, unitPrice, gross, margins, coupon: undefined };
  const target = { userId: buyer?.id ?? null, contact: o.contact, skuId: o.sku.id, categoryId: o.product.categoryId, amount: gross, margins };
  const applied = await applyCoupon(deps, o.coupon, target);
  return { price, unitPrice, gross, margins: applied.margins, coupon: applied.coupon };
}

export const quoteSchema = z
  .object({
    sku: checkoutSchema.shape.sku,
    quantity: checkoutSchema.shape.quantity,
    pick: checkoutSchema.shape.pick,
    coupon: z.string({ error: 'field.required' }).trim().min(1, 'field.required').max(40, 'coupon.unknown'),
    contact: checkoutSchema.shape.contact,
  })
  .strict();

export interface CouponQuote {
  code: string;
  /** Before the coupon. */
  subtotal: number;
  discount: number;
  /** What the buyer pays with it. */
  amount: number;
  currency: string;
}

/** What a coupon takes off an order the buyer is about to place, before paying; the same errors as the checkout's. */
export async function quoteCoupon(deps: Deps, buyer: User | undefined, input: unknown, site?: RequestInfo['site']): Promise<CouponQuote> {
  const parsed = quoteSchema.safeParse(input);
  if (!parsed.success) throw fromZod(parsed.error);
  const q = parsed.data;
  const { product, sku } = await findSku(deps, q.sku);
  const quantity = q.quantity ?? q.pick?.length ?? 1;
  const { gross, coupon } = await priced(deps, buyer, site, { product, sku, quantity, picked: Boolean(q.pick && sku.pick), coupon: q.coupon, contact: q.contact || null });
  return { code: coupon!.code, subtotal: gross, discount: coupon!.discount, amount: gross - coupon!.discount, currency: deps.config.shop.currency };
}

/**
 * The buyer's unit price for `quantity` units of a SKU (its wholesale tier and a flash sale on
 * included), with the catalog price it came from and the agents' margins.
 */
export async function priceFor(deps: Deps, buyer: User | undefined, site: RequestInfo['site'], skuId: number, quantity = 1) {
  const who = { userId: buyer?.id ?? null, siteOwnerId: site?.ownerId ?? null };
  let list = await priceList(deps, who);
  // A SKU created in the last second may be in the catalog snapshot before the pricing one.
  if (!list.tables.skus.has(skuId)) {
    invalidatePricing(deps);
    list = await priceList(deps, who);
  }
  const resolved = list.order(skuId, quantity, deps.now());
  if (!resolved) throw errors.notFound('error.sku_not_found');
  const sale = list.tables.skus.get(skuId)!;
  return { ...resolved, retail: sale.retail, sale: resolved.flash ? { price: sale.flash!.price, startsAt: sale.flash!.startsAt, perBuyer: sale.flash!.perBuyer } : null };
}

/** The row of a new order; `status` defaults to how a wallet checkout leaves it. */
export function orderRow(
  deps: Deps,
  { order, no, token }: { order: PlacedOrder; no: string; token: string },
  now: number,
  status: OrderStatus = deliveredAtOnce(order) ? 'delivered' : 'paid',
) {
  const paid = status !== 'pending_payment';
  return {
    no,
    token_hash: hashOrderToken(token),
    user_id: order.userId,
    sku_id: order.skuId,
    product_id: order.productId,
    product_type: order.productType,
    title: order.title,
    quantity: order.quantity,
    unit_price: order.unitPrice,
    amount: order.amount,
    coupon_id: order.coupon?.id ?? null,
    coupon_code: order.coupon?.code ?? null,
    discount: order.coupon?.discount ?? 0,
    currency: deps.config.shop.currency,
    // In-stock cards paid from a wallet are delivered right here (秒发); other types wait.
    status,
    payment: order.payment,
    contact: order.contact,
    fields: Object.keys(order.fields).length ? JSON.stringify(order.fields) : null,
    site_id: order.siteId,
    api_key_id: order.api?.keyId ?? null,
    idempotency_key: order.api?.idempotencyKey ?? null,
    callback_url: order.api?.callbackUrl ?? null,
    review: order.review ?? null,
    flash_units: order.flash ? order.quantity : 0,
    limit_periods: order.limits?.counts.map((c) => c.period).join(' ') ?? null,
    locale: order.locale ?? null,
    created_at: now,
    paid_at: paid ? now : null,
    delivered_at: status === 'delivered' ? now : null,
    expires_at: paid ? null : now + deps.config.checkout.paymentMinutes * 60_000,
    updated_at: now,
  };
}

/** An order as its buyer sees it, built from what the checkout just wrote. */
export function newOrderView(
  deps: Deps,
  order: PlacedOrder,
  at: { id: number; no: string; status: OrderStatus; now: number; keys: CardKey[] },
): OrderView {
  const paid = at.status !== 'pending_payment';
  return {
    id: at.id,
    no: at.no,
    userId: order.userId,
    status: at.status,
    title: order.title,
    productType: order.productType,
    skuId: order.skuId,
    quantity: order.quantity,
    unitPrice: order.unitPrice,
    amount: order.amount,
    coupon: order.coupon?.code ?? null,
    discount: order.coupon?.discount ?? 0,
    currency: deps.config.shop.currency,
    payment: order.payment,
    contact: order.contact,
    fields: order.fields,
    createdAt: at.now,
    paidAt: paid ? at.now : null,
    deliveredAt: at.status === 'delivered' ? at.now : null,
    reason: null,
    keys: at.keys,
    delivery: null,
  };
}

export interface Checkout {
  (buyer: User | undefined, input: CheckoutInput, request?: RequestInfo): Promise<CheckoutResult>;
  readonly queue: GroupCommit<PlacedOrder, CheckoutResult>;
}

/**
 * The shop's checkout: validates each request; wallet payments are committed in groups, gateway
 * payments become an unpaid order and the gateway's instructions for paying it.
 */
export function createCheckout(
  deps: Deps,
  gateways: ReadonlyMap<string, PaymentGateway>,
  productTypes: ReadonlyMap<string, ProductTypeDefinition> = new Map(),
  /** Called after a batch wrote delivery or webhook jobs, so a worker starts on them now. */
  jobsWritten: () => void = () => {},
): Checkout {
  const commit = createBatches(deps);
  const run = async (batch: PlacedOrder[]) => {
    const { outcomes, jobs } = await commit(batch);
    if (jobs) jobsWritten();
    return outcomes;
  };
  const queue = new GroupCommit<PlacedOrder, CheckoutResult>(run, {
    maxBatch: deps.config.checkout.maxBatch,
    // SQLite: one batch runs while the next is decided and queued behind it (orders/batch.ts).
    concurrency: deps.db.dialect === 'sqlite' ? 2 : 4,
    waitMs: deps.config.checkout.batchWaitMs,
    failsAll: (err) => isDatabaseUnavailable(err) || isStorageFull(err),
  });
  const checkout = async (buyer: User | undefined, input: CheckoutInput, request?: RequestInfo) => {
    const placed = await prepare(deps, { gateways, productTypes }, buyer, input, request);
    if (placed.payment !== 'wallet') return placeGatewayOrder(deps, gateways.get(placed.payment)!, placed, request);
    const result = await queue.submit(placed);
    crashPoint('checkout.committed');
    const { order } = result;
    deps.hooks.emit('order.created', { order });
    deps.hooks.emit('order.paid', { order });
    if (order.status === 'delivered') deps.hooks.emit('order.delivered', { order });
    return result;
  };
  return Object.assign(checkout, { queue });
}
