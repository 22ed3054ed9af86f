import type { Knex } from 'knex';
import { audit } from '../audit/audit.js';
import type { Deps } from '../context.js';
import { affected, transaction } from '../db/dialect.js';
import { errors } from '../errors.js';
import { releaseKeys } from './reservations.js';
import { transition } from './state.js';

/**
 * Orders held for review. A `before.checkout` check may let an order through but hold its delivery
 * (plugins/hooks.ts `ReviewHold`): the order is paid as usual, `orders.review` says why, a card
 * order keeps its keys reserved, and its delivery job waits as `held`, which no worker claims.
 * An admin then approves (the job runs: delivered once, like any other) or rejects (the order
 * fails, its keys go back on sale, and the job refunds it, retrying until the refund goes through).
 * Both are one guarded UPDATE of the job (`held` → `queued`): a second decision finds nothing.
 */

export interface HeldOrder {
  no: string;
  title: string;
  productType: string;
  quantity: number;
  amount: number;
  currency: string;
  payment: string;
  userId: number | null;
  contact: string | null;
  /** Why it is held, as the check that held it said. */
  review: string;
  createdAt: number;
  paidAt: number | null;
}

/** Paid orders waiting for review, oldest first. */
export async function heldOrders(deps: Deps, opts: { limit?: number } = {}): Promise<HeldOrder[]> {
  const rows: Array<Record<string, unknown>> = await deps.db
    .read('orders')
    .join('delivery_jobs', 'delivery_jobs.order_id', 'orders.id')
    .where({ 'delivery_jobs.kind': 'deliver', 'delivery_jobs.status': 'held', 'orders.status': 'paid' })
    .orderBy('orders.id')
    .limit(Math.min(opts.limit ?? 100, 500))
    .select('orders.no', 'orders.title', 'orders.product_type', 'orders.quantity', 'orders.amount', 'orders.currency', 'orders.payment', 'orders.user_id', 'orders.contact', 'orders.review', 'orders.created_at', 'orders.paid_at');
  return rows.map((r) => ({
    no: String(r.no),
    title: String(r.title),
    productType: String(r.product_type),
    quantity: Number(r.quantity),
    amount: Number(r.amount),
    currency: String(r.currency),
    payment: String(r.payment),
    userId: r.user_id === null ? null : Number(r.user_id),
    contact: (r.contact as string | null) ?? null,
    review: String(r.review ?? ''),
    createdAt: Number(r.created_at),
    paidAt: r.paid_at === null ? null : Number(r.paid_at),
  }));
}

export interface ReviewDecision {
  no: string;
  actorId: number;
  ip?: string;
}

/** Releases the held delivery job of a paid order, in the caller's transaction; false when there is none (decided already). */
async function release(deps: Deps, trx: Knex, no: string) {
  const q = trx('orders').where('no', no).first('id', 'no', 'sku_id', 'status', 'reserved', 'review');
  const order = await (deps.db.dialect === 'mysql' ? q.forUpdate() : q);
  if (!order) throw errors.notFound('error.order_not_found');
  const now = deps.now();
  const released =
    order.status === 'paid' &&
    affected(await trx('delivery_jobs').where({ kind: 'deliver', order_id: order.id, status: 'held' }).update({ status: 'queued', run_at: now, updated_at: now })) === 1;
  if (!released) throw errors.invalidState(order.status);
  return order as { id: number; no: string; sku_id: number; status: string; reserved: number | string; review: string | null };
}

/** Approves a held order: its delivery runs now, once. */
export async function approveHeld(deps: Deps, input: ReviewDecision): Promise<void> {
  await transaction(deps.db, async (trx) => {
    const order = await release(deps, trx, input.no);
    await audit(deps, trx, { actorId: input.actorId, action: 'order.review.approve', targetType: 'order', targetId: order.no, before: { review: order.review }, ip: input.ip });
  });
}

/** Rejects a held order: never delivered, its reserved keys back on sale, its money refunded by its job. */
export async function rejectHeld(deps: Deps, input: ReviewDecision & { reason: string }): Promise<void> {
  const reason = input.reason.trim();
  if (!reason) throw errors.validation({ reason: 'field.required' });
  if (reason.length > 255) throw errors.validation({ reason: 'field.too_long' });
  await transaction(deps.db, async (trx) => {
    const order = await release(deps, trx, input.no);
    await transition(trx, order.id, 'paid', 'failed', { reason, updated_at: deps.now() });
    await releaseKeys(trx, [order]);
    await audit(deps, trx, { actorId: input.actorId, action: 'order.review.reject', targetType: 'order', targetId: order.no, before: { review: order.review }, after: { reason }, ip: input.ip });
  });
}
