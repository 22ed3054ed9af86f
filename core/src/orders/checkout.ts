import type { Knex } from 'knex';
import { z } from 'zod';
import type { User } from '../agents/users.js';
import { validateFields } from '../catalog/fields.js';
import type { ProductType } from '../catalog/catalog.js';
import { findSku } from '../catalog/snapshot.js';
import type { Deps } from '../context.js';
import { affected, ConflictRetry, transaction } from '../db/dialect.js';
import { errors, fromZod, ShopError } from '../errors.js';
import { claimKeys, pickKeys } from '../inventory/keys.js';
import type { CardKey } from '../inventory/parse.js';
import { multiply } from '../money/money.js';
import { randomToken } from '../security/keys.js';
import {
  creditAccounts,
  debitWallets,
  recordJournal,
  SYSTEM_ACCOUNTS,
  systemAccountId,
  walletAccountId,
  walletCode,
  type JournalTxn,
} from '../wallet/ledger.js';
import { addSpend, marginRows, type MarginShare } from '../pricing/margins.js';
import { invalidatePricing, priceList, pricingSnapshot } from '../pricing/pricing.js';
import { deliveryJob, enqueueJobs, webhookJobs } from '../delivery/jobs.js';
import type { ProductTypeDefinition } from '../delivery/product-type.js';
import { GroupCommit, type Outcome } from './group-commit.js';
import { hashOrderToken, newOrderNo } from './numbers.js';
import type { OrderView } from './orders.js';
import { hashQueryPassword, queryPasswordSchema } from './lookup.js';
import { placeGatewayOrder } from './payments.js';
import type { OrderStatus } from './state.js';
import type { PaymentAction, PaymentGateway } from '../plugins/payment.js';

export const checkoutSchema = z
  .object({
    sku: z.union([z.string().min(1).max(64), z.number().int().positive()], { error: 'field.required' }),
    quantity: z.number({ error: 'field.integer' }).int('field.integer').min(1, 'field.min').max(100_000, 'field.max').default(1),
    fields: z.record(z.string(), z.unknown()).optional(),
    contact: z.string().trim().max(120, 'field.too_long').optional(),
    /** A guest's password for finding this order again by its number or contact (orders/lookup.ts). */
    queryPassword: queryPasswordSchema.optional(),
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
  title: string;
  quantity: number;
  /** What this buyer pays per unit (see pricing/resolver.ts). */
  unitPrice: number;
  amount: number;
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
}

/** Whether the checkout delivers the order in its own transaction: in-stock cards not held for review. */
const deliveredAtOnce = (o: PlacedOrder) => o.productType === 'card' && !o.review;

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
  const max = Math.min(sku.maxQuantity ?? Infinity, deps.config.checkout.maxQuantity);
  if (req.quantity < sku.minQuantity) fieldErrors.quantity = 'field.min';
  if (req.quantity > max) fieldErrors.quantity = 'field.max';
  const fields = validateFields(product.fields, req.fields);
  if (!fields.ok) Object.assign(fieldErrors, fields.errors);
  // A plugin's product type may check the input further (an account that must exist, say).
  const check = plugins.productTypes.get(product.type)?.validateInput;
  if (check && fields.ok) {
    for (const [name, message] of Object.entries((await check({ sku: sku.code, quantity: req.quantity, fields: fields.values })) ?? {})) {
      fieldErrors[`fields.${name}`] = message;
    }
  }
  // A guest's contact is how the shop reaches them about the order.
  if ((req.contact && !CONTACT.test(req.contact)) || (!buyer && !req.contact)) fieldErrors.contact = 'field.contact';
  if (Object.keys(fieldErrors).length) {
    throw new ShopError('validation_failed', 400, 'error.validation_failed', fieldErrors, { min: sku.minQuantity, max });
  }
  const price = await priceFor(deps, buyer, request?.site, sku.id);
  const amount = multiply(price.price, req.quantity);
  const review = await deps.hooks.check('before.checkout', {
    buyer,
    skuId: sku.id,
    productId: product.id,
    quantity: req.quantity,
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
    title: `${product.name} - ${sku.name}`.slice(0, 330),
    quantity: req.quantity,
    unitPrice: price.price,
    amount,
    retail: price.retail,
    margins: price.margins.map((m) => ({ ...m, amount: multiply(m.amount, req.quantity) })),
    siteId: request?.site?.id ?? null,
    contact: req.contact || null,
    fields: fields.ok ? fields.values : {},
    queryHash: wallet ? null : hashQueryPassword(deps, req.queryPassword || undefined),
    api: request?.api ?? null,
    review,
  };
}

/** The buyer's price for a SKU, with the catalog price it came from and the agents' margins. */
async function priceFor(deps: Deps, buyer: User | undefined, site: RequestInfo['site'], skuId: number) {
  const who = { userId: buyer?.id ?? null, siteOwnerId: site?.ownerId ?? null };
  let list = await priceList(deps, who);
  // A SKU created in the last second may be in the catalog snapshot before the pricing one.
  if (!list.tables.skus.has(skuId)) {
    invalidatePricing(deps);
    list = await priceList(deps, who);
  }
  const resolved = list.resolve(skuId);
  if (!resolved) throw errors.notFound('error.sku_not_found');
  return { ...resolved, retail: list.tables.skus.get(skuId)!.retail };
}

/** What the batch reads, and locks on MySQL, before it decides anything. */
async function lockBatchRows(deps: Deps, trx: Knex, batch: PlacedOrder[]) {
  const lock = <T extends Knex.QueryBuilder>(q: T) => (deps.db.dialect === 'mysql' ? (q.forUpdate() as T) : q);
  const buyerIds = [...new Set(batch.map((o) => o.userId!))];
  // Agents earning a margin are credited in the same transaction: their wallets too.
  const userIds = [...new Set([...buyerIds, ...batch.flatMap((o) => o.margins.map((m) => m.agentId))])];
  // The buyers' spend and level matter only where a level is reached by spending.
  const lifts = (await pricingSnapshot(deps)).levels.some((l) => l.upgradeSpend !== null);
  const [skuRows, walletRows, buyerRows] = await Promise.all([
    lock(trx('skus').whereIn('id', [...new Set(batch.map((o) => o.skuId))]).select('id', 'price', 'stock', 'enabled')),
    lock(trx('accounts').whereIn('code', userIds.map(walletCode)).orderBy('id').select('id', 'user_id', 'balance')),
    lifts ? lock(trx('users').whereIn('id', buyerIds).select('id', 'spend_total', 'level_id')) : buyerIds.map((id) => ({ id, spend_total: 0, level_id: null })),
  ]);
  const skus = new Map<number, { price: number; stock: number; enabled: boolean }>(
    skuRows.map((r: Record<string, unknown>) => [Number(r.id), { price: Number(r.price), stock: Number(r.stock), enabled: Boolean(r.enabled) }]),
  );
  const wallets = new Map<number, { id: number; balance: number }>(
    walletRows.map((r: Record<string, unknown>) => [Number(r.user_id), { id: Number(r.id), balance: Number(r.balance) }]),
  );
  for (const id of userIds) if (!wallets.has(id)) wallets.set(id, { id: await walletAccountId(deps, trx, id), balance: 0 });
  const buyers = new Map<number, { spent: number; levelId: number | null; amount: number }>(
    buyerRows.map((r: Record<string, unknown>) => [Number(r.id), { spent: Number(r.spend_total), levelId: r.level_id === null ? null : Number(r.level_id), amount: 0 }]),
  );
  return { skus, wallets, buyers };
}

/**
 * Takes sold units off a SKU; for counted stock only while enough is left. Units reserved for
 * orders held for review leave the stock now but count as sold only once delivered.
 */
async function takeUnits(trx: Knex, skuId: number, s: { units: number; reserved: number; counted: boolean }): Promise<void> {
  const q = trx('skus').where('id', skuId);
  if (s.counted) q.andWhere('stock', '>=', s.units);
  const n = await q.update({ ...(s.counted ? { stock: trx.raw('stock - ?', [s.units]) } : {}), sold: trx.raw('sold + ?', [s.units - s.reserved]) });
  if (affected(n) !== 1) throw new ConflictRetry(`stock of sku ${skuId} moved under the batch`);
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
    created_at: now,
    paid_at: paid ? now : null,
    delivered_at: status === 'delivered' ? now : null,
    expires_at: paid ? null : now + deps.config.checkout.paymentMinutes * 60_000,
    updated_at: now,
  };
}

async function orderIds(trx: Knex, nos: string[]): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  for (let i = 0; i < nos.length; i += 500) {
    const rows = await trx('orders').whereIn('no', nos.slice(i, i + 500)).select('id', 'no');
    for (const r of rows as Array<{ id: number; no: string }>) ids.set(r.no, Number(r.id));
  }
  return ids;
}

/**
 * Commits a batch of wallet checkouts in one transaction, with a fixed number of statements
 * whatever the batch's size:
 * 1. read (on MySQL: lock) the SKUs' price and stock and the buyers' balances;
 * 2. decide every order in arrival order against those figures, so a buyer who lacks stock or
 *    balance fails alone;
 * 3. apply the decisions with guarded UPDATEs (`stock >= n`, `balance >= amount`; one statement
 *    per SKU and one for all wallets) whose row counts must match: the database, not this code,
 *    keeps stock and balances from going below zero;
 * 4. insert the orders, claim their keys and write the journal with multi-row statements.
 */
async function commitBatch(deps: Deps, batch: PlacedOrder[]): Promise<Array<Outcome<CheckoutResult>>> {
  let lifted: number[] = [];
  const outcomes = await transaction(deps.db, async (trx) => {
    const now = deps.now();
    const outcomes: Array<Outcome<CheckoutResult>> = new Array(batch.length);
    const revenue = await systemAccountId(deps, trx, SYSTEM_ACCOUNTS.revenue);
    const { skus, wallets, buyers } = await lockBatchRows(deps, trx, batch);

    const sold = new Map<number, { units: number; reserved: number; counted: boolean }>();
    const debits = new Map<number, number>();
    const accepted: Array<{ index: number; order: PlacedOrder; no: string; token: string }> = [];
    for (const [index, order] of batch.entries()) {
      const sku = skus.get(order.skuId);
      const wallet = wallets.get(order.userId!)!;
      const counted = order.productType === 'card';
      if (!sku?.enabled) outcomes[index] = errors.notFound('error.sku_not_found');
      else if (sku.price !== order.retail) outcomes[index] = new ShopError('price_changed', 409, 'error.price_changed');
      else if (counted && sku.stock < order.quantity) outcomes[index] = errors.outOfStock(sku.stock);
      else if (wallet.balance < order.amount) outcomes[index] = errors.insufficientBalance();
      else {
        if (counted) sku.stock -= order.quantity;
        wallet.balance -= order.amount;
        const s = sold.get(order.skuId) ?? { units: 0, reserved: 0, counted };
        s.units += order.quantity;
        if (counted && order.review) s.reserved += order.quantity;
        sold.set(order.skuId, s);
        debits.set(wallet.id, (debits.get(wallet.id) ?? 0) + order.amount);
        buyers.get(order.userId!)!.amount += order.amount;
        accepted.push({ index, order, no: newOrderNo(now), token: randomToken(24) });
      }
    }
    if (!accepted.length) return outcomes;

    // From here on, statements that do not depend on each other are sent together: they queue
    // on the transaction's one connection, so the batch waits one round trip for each group
    // instead of one per statement.
    const cardSkus = [...sold].filter(([, s]) => s.counted);
    const [picked, , , , liftedNow] = await Promise.all([
      Promise.all(cardSkus.map(([skuId, { units }]) => pickKeys(deps, trx, skuId, units))),
      debitWallets(trx, debits),
      trx.batchInsert(
        'orders',
        // A card order held for review keeps its keys reserved until an admin decides.
        accepted.map((a) => ({ ...orderRow(deps, a, now), reserved: a.order.productType === 'card' && a.order.review ? a.order.quantity : 0 })),
        200,
      ),
      Promise.all([...sold].map(([skuId, s]) => takeUnits(trx, skuId, s))),
      addSpend(deps, trx, new Map([...buyers].filter(([, b]) => b.amount > 0))),
    ]);
    lifted = liftedNow;
    const ids = await orderIds(trx, accepted.map((a) => a.no));

    // A delivered order (a card in stock) pays its agents their margins in the same journal
    // transaction as the sale; an order delivered later pays them then (pricing/margins.ts).
    const keys = new Map<number, CardKey[]>();
    const credits = new Map<number, number>();
    const journal: JournalTxn[] = accepted.map((a) => {
      const shares = deliveredAtOnce(a.order) ? a.order.margins.filter((m) => m.amount > 0) : [];
      const entries = [
        { accountId: wallets.get(a.order.userId!)!.id, amount: -a.order.amount },
        { accountId: revenue, amount: a.order.amount - shares.reduce((sum, m) => sum + m.amount, 0) },
        ...shares.map((m) => ({ accountId: wallets.get(m.agentId)!.id, amount: m.amount })),
      ];
      // The wallets were debited above; the other side is credited below, in one statement.
      for (const e of entries.slice(1)) credits.set(e.accountId, (credits.get(e.accountId) ?? 0) + e.amount);
      return { id: `order:${a.no}:pay`, kind: 'purchase', orderId: ids.get(a.no)!, entries };
    });
    const margins = accepted.flatMap((a) => marginRows(ids.get(a.no)!, a.order.amount, a.order.margins, deliveredAtOnce(a.order), now));
    await Promise.all([
      ...cardSkus.map(async ([skuId], i) => {
        const mine = accepted.filter((a) => a.order.skuId === skuId);
        const claims = mine.map((a) => ({ orderId: ids.get(a.no)!, quantity: a.order.quantity }));
        for (const [orderId, k] of await claimKeys(deps, trx, skuId, picked[i]!, claims)) keys.set(orderId, k);
        const held = mine.filter((a) => a.order.review).map((a) => ids.get(a.no)!);
        if (held.length) await trx('card_keys').whereIn('order_id', held).update({ status: 'reserved', sold_at: null });
      }),
      recordJournal(deps, trx, journal),
      creditAccounts(trx, credits),
      margins.length ? trx.batchInsert('order_margins', margins, 200) : null,
      // Orders not delivered here are delivered by a worker: their job commits with the payment
      // (held for review: it waits for an admin); cards delivered here with a callback URL get
      // their webhook the same way.
      enqueueJobs(
        deps,
        trx,
        accepted.flatMap((a) => {
          const order = { id: ids.get(a.no)!, no: a.no, callback_url: a.order.api?.callbackUrl ?? null };
          return deliveredAtOnce(a.order) ? webhookJobs(order, 'order.delivered') : [{ ...deliveryJob(order), held: Boolean(a.order.review) }];
        }),
      ),
    ]);

    for (const a of accepted) {
      const id = ids.get(a.no)!;
      const status = deliveredAtOnce(a.order) ? 'delivered' : 'paid';
      outcomes[a.index] = { token: a.token, order: newOrderView(deps, a.order, { id, no: a.no, status, now, keys: status === 'delivered' ? (keys.get(id) ?? []) : [] }) };
    }
    return outcomes;
  });
  // A buyer lifted to a better level pays its new prices from its next order on.
  if (lifted.length) invalidatePricing(deps);
  return outcomes;
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
): Checkout {
  const queue = new GroupCommit<PlacedOrder, CheckoutResult>((batch) => commitBatch(deps, batch), {
    maxBatch: deps.config.checkout.maxBatch,
    concurrency: deps.db.dialect === 'sqlite' ? 1 : 4,
    waitMs: deps.config.checkout.batchWaitMs,
  });
  const checkout = async (buyer: User | undefined, input: CheckoutInput, request?: RequestInfo) => {
    const placed = await prepare(deps, { gateways, productTypes }, buyer, input, request);
    if (placed.payment !== 'wallet') return placeGatewayOrder(deps, gateways.get(placed.payment)!, placed, request);
    const result = await queue.submit(placed);
    const { order } = result;
    deps.hooks.emit('order.created', { order });
    deps.hooks.emit('order.paid', { order });
    if (order.status === 'delivered') deps.hooks.emit('order.delivered', { order });
    return result;
  };
  return Object.assign(checkout, { queue });
}
