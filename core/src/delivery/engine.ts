import type { Knex } from 'knex';
import type { Deps } from '../context.js';
import { crashPoint } from '../crash.js';
import { affected, isUniqueViolation, transaction } from '../db/dialect.js';
import { deliverCards, finishDelivery, type Goods } from '../orders/deliver.js';
import { loadOrder, refundOrder } from '../orders/orders.js';
import { transition, type OrderStatus } from '../orders/state.js';
import type { CardKey } from '../inventory/parse.js';
import type { NotifyReply, NotifyRequest, PaymentGateway } from '../plugins/payment.js';
import { postJournal, SYSTEM_ACCOUNTS, supplierAccountId, systemAccountId } from '../wallet/ledger.js';
import { wakeJob, type Job } from './jobs.js';
import { SupplierUnavailable, type SupplierHealth } from './health.js';
import type { ProductTypeDefinition } from './product-type.js';
import type { SupplierConnector, SupplierResult } from './supplier.js';
import { PermanentJobError, type JobHandler } from './worker.js';

/**
 * Delivery strategies by product type, run by the `deliver` job every paid order gets unless it
 * was delivered inline (in-stock cards):
 * - `direct`: through the SKU's suppliers, by priority. Each supplier gets our order number as its
 *   idempotency reference; a row in `supplier_orders` is written before the call, so after a crash
 *   or a timeout the next run asks that supplier first and never places a second order. A final
 *   failure moves on to the next supplier, and so does one that was sent the order `routeAttempts`
 *   times and is known not to have it (it said "not now", could not be reached, or a query found
 *   nothing); one that may have it (no readable answer, and no query answered since) is asked
 *   again and again, never bypassed. When no supplier is left the order is refunded. Calls go
 *   through the supplier's breaker and limit (health.ts): a supplier whose breaker is open is
 *   skipped for orders it never got, and waited for by those it may have.
 * - `manual`: waits for an admin (deliverManually).
 * - `card`: only orders an admin approved after a review hold (others are delivered when paid):
 *   the keys they reserved, else from stock; backordered or refunded when there are none.
 * - plugin types: their `deliver`, with the same results and the same refund on final failure;
 *   a type that takes goods from suppliers (`fromSupplier`) goes through its SKU's routes when it has some.
 * A pending supplier order completes by its callback or by polling, whichever comes first; both
 * go through `applyResult`, whose guarded updates deliver it once.
 */

export interface DeliveryEngineOptions {
  gateways: ReadonlyMap<string, PaymentGateway>;
  suppliers: ReadonlyMap<string, SupplierConnector>;
  productTypes: ReadonlyMap<string, ProductTypeDefinition>;
  health: SupplierHealth;
  /** This shop's address as suppliers reach it, for callback URLs. */
  baseUrl(): string;
}

interface OrderRow {
  id: number;
  no: string;
  sku_id: number;
  sku_code: string;
  status: OrderStatus;
  product_type: string;
  quantity: number;
  fields: string | null;
  reason: string | null;
}

interface Attempt {
  id: number;
  supplier: string;
  supplier_sku: string;
  status: 'placing' | 'pending' | 'delivered' | 'failed';
  supplier_order_no: string | null;
  reason: string | null;
  /** Times it was sent to the supplier. */
  tries: number;
  /** The last send may have reached the supplier: it is asked about before anything else. */
  unsure: boolean | number;
}

interface Route {
  supplier: string;
  supplier_sku: string;
  cost: number | string | null;
}

type Next = 'done' | 'pending' | 'failed';

/** States a paid order waits in before it is delivered. */
const UNDELIVERED: OrderStatus[] = ['paid', 'delivering'];

export function deliveryStrategies(deps: Deps, opts: DeliveryEngineOptions) {
  const knex = deps.db.knex;

  const loadRow = async (where: { 'orders.id': number } | { 'orders.no': string }): Promise<OrderRow | undefined> =>
    knex('orders').join('skus', 'skus.id', 'orders.sku_id').where(where).first('orders.*', 'skus.code as sku_code');

  const attemptsOf = (orderId: number): Promise<Attempt[]> => knex('supplier_orders').where('order_id', orderId).orderBy('id');

  /** Refunds an order nothing could deliver; the reason is what its buyer reads. */
  async function refund(order: OrderRow, reason: string): Promise<void> {
    await transition(knex, order.id, UNDELIVERED, 'failed', { reason: reason.slice(0, 255), updated_at: deps.now() });
    await refundOrder(deps, opts.gateways, { no: order.no, reason, actorId: null });
  }

  async function delivered(order: OrderRow, goods: Goods, cost: { supplier: string; amount: number } | null, attempt?: Attempt): Promise<void> {
    const { first, moved } = await transaction(deps.db, async (trx) => {
      // The same answer twice (a callback and a poll): only the first one counts.
      const first = attempt
        ? affected(
            await trx('supplier_orders')
              .where('id', attempt.id)
              .whereIn('status', ['placing', 'pending'])
              .update({ status: 'delivered', cost: cost?.amount ?? null, updated_at: deps.now() }),
          ) === 1
        : true;
      const moved = first && (await finishDelivery(deps, trx, order, [...UNDELIVERED, 'failed'], goods));
      if (moved && cost?.amount) await recordCost(deps, trx, order, cost.supplier, cost.amount);
      return { first, moved };
    });
    if (moved) deps.hooks.emit('order.delivered', { order: await loadOrder(deps, order.no) });
    else if (first) deps.log.warn(`order ${order.no} was delivered by ${cost?.supplier ?? 'its product type'} after it was settled otherwise: check it by hand`);
  }

  /**
   * Applies a supplier's answer for one attempt; the same path for a job's call, a poll and a
   * callback. `moveOn`: another supplier could take the order, so one that keeps saying "not now"
   * is given up once its tries are spent.
   */
  async function applyResult(order: OrderRow, attempt: Attempt, result: SupplierResult, routeCost: number | null, moveOn = false): Promise<Next> {
    const now = deps.now();
    if (result.status === 'delivered') {
      const amount = result.cost ?? (routeCost === null ? 0 : routeCost * order.quantity);
      await delivered(order, await supplied(order, result), { supplier: attempt.supplier, amount }, attempt);
      return 'done';
    }
    if (result.status === 'pending') {
      await knex('supplier_orders')
        .where('id', attempt.id)
        .whereIn('status', ['placing', 'pending'])
        .update({ status: 'pending', supplier_order_no: result.supplierOrderNo ?? attempt.supplier_order_no, updated_at: now });
      return 'pending';
    }
    // Retryable: the supplier did not take it; the attempt stays open and the job tries again
    // (with backoff, until the job's attempts are spent), or the next supplier does.
    if (result.retryable && !(moveOn && attempt.tries >= deps.config.delivery.routeAttempts)) {
      await knex('supplier_orders').where('id', attempt.id).whereIn('status', ['placing', 'pending']).update({ unsure: false, reason: result.reason.slice(0, 255), updated_at: now });
      throw new Error(`${attempt.supplier}: ${result.reason}`);
    }
    const failed = await knex('supplier_orders')
      .where('id', attempt.id)
      .whereIn('status', ['placing', 'pending'])
      .update({ status: 'failed', reason: result.reason.slice(0, 255), updated_at: now });
    if (affected(failed) === 1) deps.hooks.emit('supplier.failed', { supplier: attempt.supplier, sku: order.sku_code, order: order.no, reason: result.reason });
    return 'failed';
  }

  function connector(id: string): SupplierConnector {
    const c = opts.suppliers.get(id);
    if (!c) throw new Error(`supplier ${id} is not loaded (is its plugin configured?)`);
    return c;
  }

  const shopUrl = () => opts.baseUrl().replace(/\/+$/, '');
  const callbackUrl = (supplier: string) => `${shopUrl()}/supplier/${supplier}/callback`;
  const fieldsOf = (order: OrderRow) => (order.fields ? (JSON.parse(order.fields) as Record<string, string>) : {});
  const inputOf = (order: OrderRow) => ({
    reference: order.no,
    sku: order.sku_code,
    quantity: order.quantity,
    fields: fieldsOf(order),
    shopUrl: shopUrl(),
    locale: deps.config.shop.locale,
  });
  /** A plugin type's goods as the buyer gets them: its keys, and its text (rendered, if it renders). */
  const goodsOf = (type: ProductTypeDefinition, out: { keys?: CardKey[]; receipt?: string }): Goods => {
    const keys = out.keys ?? [];
    return { keys, text: type.render ? type.render({ keys, receipt: out.receipt }, { locale: deps.config.shop.locale }) : out.receipt };
  };
  /** What a supplier delivered; a plugin type that takes goods from suppliers makes them its own first. */
  async function supplied(order: OrderRow, result: { keys?: CardKey[]; receipt?: string }): Promise<Goods> {
    const type = opts.productTypes.get(order.product_type);
    if (!type?.fromSupplier) return { keys: result.keys, text: result.receipt };
    return goodsOf(type, await type.fromSupplier({ ...inputOf(order), keys: result.keys ?? [], receipt: result.receipt }));
  }

  /** Sends the order under its fixed reference; the try is written first, so a crash mid-call leaves it unsure. */
  async function place(order: OrderRow, attempt: Attempt, signal: AbortSignal): Promise<SupplierResult> {
    const mark = (patch: Record<string, unknown>) => knex('supplier_orders').where('id', attempt.id).update({ ...patch, updated_at: deps.now() });
    try {
      return await opts.health.call(attempt.supplier, async () => {
        await mark({ tries: knex.raw('tries + 1'), unsure: true });
        attempt.tries++;
        return connector(attempt.supplier).placeOrder({
          reference: order.no,
          sku: attempt.supplier_sku,
          quantity: order.quantity,
          fields: fieldsOf(order),
          callbackUrl: callbackUrl(attempt.supplier),
          signal,
        });
      });
    } catch (err) {
      if (!(err instanceof SupplierUnavailable)) await mark({ reason: (err instanceof Error ? err.message : String(err)).slice(0, 255) });
      throw err;
    }
  }

  /**
   * An attempt opened before (a crash, a timeout, "not now", a pending answer): a supplier that may
   * have the order is asked by reference first, never sent it blindly; one known not to have it
   * is sent it again, or given up when its tries are spent and another supplier may take it.
   */
  async function resume(order: OrderRow, open: Attempt, moveOn: boolean, signal: AbortSignal): Promise<SupplierResult> {
    if (open.status === 'pending' || open.unsure) {
      const answer = await opts.health.call(open.supplier, () =>
        connector(open.supplier).queryOrder({ reference: order.no, sku: open.supplier_sku, supplierOrderNo: open.supplier_order_no ?? undefined, signal }),
      );
      if (answer.status !== 'unknown') return answer;
      if (open.status === 'pending') throw new Error(`${open.supplier} no longer knows order ${order.no}, which it accepted`);
    }
    if (moveOn && open.tries >= deps.config.delivery.routeAttempts) {
      return { status: 'failed', retryable: false, reason: `${open.reason ?? 'not delivered'} (${open.tries} tries)` };
    }
    return place(order, open, signal); // it never arrived: send it, under the same reference
  }

  /** Writes the attempt before the supplier is called; a second run racing for it finds it there. */
  async function openAttempt(order: OrderRow, route: Route, status: Attempt['status'], reason: string | null = null): Promise<Attempt | undefined> {
    const now = deps.now();
    try {
      await knex('supplier_orders').insert({
        order_id: order.id,
        supplier: route.supplier,
        supplier_sku: route.supplier_sku,
        status,
        reason,
        created_at: now,
        updated_at: now,
      });
    } catch (err) {
      if (isUniqueViolation(err)) return undefined;
      throw err;
    }
    return knex('supplier_orders').where({ order_id: order.id, supplier: route.supplier }).first();
  }

  async function viaSuppliers(order: OrderRow, signal: AbortSignal): Promise<{ again: number } | void> {
    const routes: Route[] = await knex('sku_suppliers')
      .where({ sku_id: order.sku_id, enabled: true })
      .orderBy([{ column: 'priority' }, { column: 'id' }])
      .select('supplier', 'supplier_sku', 'cost');
    const costOf = (supplier: string) => {
      const c = routes.find((r) => r.supplier === supplier)?.cost;
      return c === null || c === undefined ? null : Number(c);
    };
    await transition(knex, order.id, 'paid', 'delivering', { updated_at: deps.now() });
    for (;;) {
      const attempts = await attemptsOf(order.id);
      const open = attempts.find((a) => a.status === 'placing' || a.status === 'pending');
      // Whether a configured supplier other than this one has not had the order yet.
      const moveOn = (supplier: string) => routes.some((r) => r.supplier !== supplier && opts.suppliers.has(r.supplier) && !attempts.some((a) => a.supplier === r.supplier));
      let attempt: Attempt;
      let result: SupplierResult;
      try {
        if (open) {
          attempt = open;
          result = await resume(order, open, moveOn(open.supplier), signal);
        } else {
          const untried = routes.filter((r) => !attempts.some((a) => a.supplier === r.supplier));
          // A supplier whose breaker is open is passed over: it never had this order.
          const route = untried.find((r) => !opts.suppliers.has(r.supplier) || opts.health.openUntil(r.supplier) === null);
          if (!route && untried.length) return { again: Math.min(...untried.map((r) => opts.health.openUntil(r.supplier)!)) };
          if (!route) {
            const why = attempts.map((a) => `${a.supplier}: ${a.reason ?? a.status}`).join('; ');
            return refund(order, why ? `not delivered (${why}); refunded` : 'no supplier for this item; refunded');
          }
          if (!opts.suppliers.has(route.supplier)) {
            await openAttempt(order, route, 'failed', 'supplier not configured');
            continue;
          }
          const opened = await openAttempt(order, route, 'placing');
          if (!opened) continue; // another run opened it: it is now the open attempt
          attempt = opened;
          result = await place(order, attempt, signal);
        }
      } catch (err) {
        // Not called (its breaker is open, or it has enough calls in flight): not a failed attempt.
        if (err instanceof SupplierUnavailable) return { again: err.retryAt };
        throw err;
      }
      crashPoint('supplier.placed');
      const next = await applyResult(order, attempt, result, costOf(attempt.supplier), moveOn(attempt.supplier));
      if (next === 'done') return;
      if (next === 'pending') return { again: deps.now() + deps.config.delivery.supplierPollMs };
    }
  }

  async function viaProductType(order: OrderRow, type: ProductTypeDefinition, signal: AbortSignal): Promise<{ again: number } | void> {
    await transition(knex, order.id, 'paid', 'delivering', { updated_at: deps.now() });
    const result = await type.deliver({ ...inputOf(order), signal });
    if (result.status === 'pending') return { again: deps.now() + deps.config.delivery.supplierPollMs };
    if (result.status === 'failed') {
      if (result.retryable) throw new Error(`${type.name}: ${result.reason}`);
      return refund(order, `not delivered (${result.reason}); refunded`);
    }
    await delivered(order, goodsOf(type, result), null);
  }

  /** A card order an admin approved after review: its reserved keys, else stock; else backordered or refunded. */
  async function fromStock(order: OrderRow): Promise<void> {
    const outcome = await transaction(deps.db, async (trx) => {
      const q = trx('orders').where('id', order.id).first('id', 'no', 'sku_id', 'quantity', 'reserved', 'status', 'callback_url');
      const row = await (deps.db.dialect === 'mysql' ? q.forUpdate() : q);
      if (row.status !== 'paid') return 'settled';
      if (await deliverCards(deps, trx, row)) return 'delivered';
      const sku = await trx('skus').where('id', row.sku_id).first('oversell');
      if (sku?.oversell !== 'backorder') return 'empty';
      await trx('orders').where('id', row.id).update({ backorder: true, reason: 'backordered: delivered when new keys arrive', updated_at: deps.now() });
      return 'backordered';
    });
    if (outcome === 'delivered') deps.hooks.emit('order.delivered', { order: await loadOrder(deps, order.no) });
    if (outcome === 'empty') await refund(order, 'out of stock; refunded');
  }

  const deliver: JobHandler = {
    async run(job: Job, signal: AbortSignal) {
      const order = await loadRow({ 'orders.id': job.orderId! });
      if (!order) throw new PermanentJobError(`order ${job.ref} does not exist`);
      // A refund that did not go through last time (a gateway that was down) is tried again.
      if (order.status === 'failed') return refund(order, order.reason ?? 'not delivered; refunded');
      if (!UNDELIVERED.includes(order.status)) return; // delivered, refunded, …: nothing left to do
      if (order.product_type === 'manual') return; // an admin delivers it
      if (order.product_type === 'card') return fromStock(order);
      if (order.product_type === 'direct') return viaSuppliers(order, signal);
      const type = opts.productTypes.get(order.product_type);
      if (!type) throw new Error(`no delivery for product type "${order.product_type}" (is its plugin loaded?)`);
      if (type.fromSupplier && (await knex('sku_suppliers').where({ sku_id: order.sku_id, enabled: true }).first('id'))) return viaSuppliers(order, signal);
      return viaProductType(order, type, signal);
    },
    /** Given up (supplier unreachable for hours): the order shows as failed, for an admin to deliver or refund. */
    async dead(job: Job, error: string) {
      if (job.orderId === null) return;
      await transition(knex, job.orderId, UNDELIVERED, 'failed', { reason: `delivery stopped: ${error}`.slice(0, 255), updated_at: deps.now() });
      // Given up while a supplier had it (unreachable, erroring): that supplier failed the order.
      const order = await loadRow({ 'orders.id': job.orderId });
      const open = order && (await attemptsOf(order.id)).find((a) => a.status === 'placing' || a.status === 'pending');
      if (order && open) deps.hooks.emit('supplier.failed', { supplier: open.supplier, sku: order.sku_code, order: order.no, reason: error });
    },
  };

  /**
   * A supplier's callback: verified by its connector, then applied like a poll's answer. A final
   * failure wakes the order's job, which tries the next supplier at once. Returns the reply for the
   * supplier, or undefined for a supplier this shop does not have (404).
   */
  async function handleCallback(supplierId: string, request: NotifyRequest): Promise<NotifyReply | undefined> {
    const c = opts.suppliers.get(supplierId);
    if (!c?.handleCallback) return undefined;
    const answer = await c.handleCallback(request);
    if ('invalid' in answer) {
      deps.log.warn(`supplier ${supplierId}: refused a callback: ${answer.invalid}`);
      return answer.reply;
    }
    const order = await loadRow({ 'orders.no': answer.reference });
    const attempt = order && (await attemptsOf(order.id)).find((a) => a.supplier === supplierId);
    if (!order || !attempt) {
      deps.log.warn(`supplier ${supplierId}: callback for ${answer.reference}, which was never sent to it`);
      return answer.reply;
    }
    const route = await knex('sku_suppliers').where({ sku_id: order.sku_id, supplier: supplierId }).first('cost');
    let next: Next;
    try {
      next = await applyResult(order, attempt, answer.result, route?.cost == null ? null : Number(route.cost));
    } catch (err) {
      deps.log.info(`supplier ${supplierId}: order ${order.no}: ${(err as Error).message}`);
      next = 'failed';
    }
    if (next === 'failed') await wakeJob(deps, knex, { kind: 'deliver', orderId: order.id });
    return answer.reply;
  }

  return { deliver, handleCallback };
}

/** The supplier's cost of a delivered order, moved from revenue to what the shop paid that supplier. */
async function recordCost(deps: Deps, trx: Knex, order: { id: number; no: string }, supplier: string, amount: number): Promise<void> {
  const revenue = await systemAccountId(deps, trx, SYSTEM_ACCOUNTS.revenue);
  const paid = await supplierAccountId(deps, trx, supplier);
  const entries = [
    { accountId: revenue, amount: -amount },
    { accountId: paid, amount },
  ];
  await postJournal(deps, trx, [{ id: `order:${order.no}:cost`, kind: 'supplier_cost', orderId: order.id, memo: supplier, entries }], new Set());
}
