import { z } from 'zod';
import { audit } from '../audit/audit.js';
import type { Deps } from '../context.js';
import { transaction } from '../db/dialect.js';
import { errors, fromZod, ShopError } from '../errors.js';
import type { MessageKey } from '../i18n/messages.js';
import type { StuckReason } from '../plugins/hooks.js';
import type { PaymentGateway, QueryResult } from '../plugins/payment.js';
import { retryJob } from '../delivery/jobs.js';
import { loadOrder, refundOrder, type OrderView } from './orders.js';
import { markPaid, type PaidOutcome } from './payments.js';
import { announceStuck } from './stuck.js';
import type { OrderStatus } from './state.js';

/**
 * What an operator does about payment trouble without a database console: confirm a payment by
 * hand (补单), retry a delivery, refund; one order or many; every action audited. The stuck-orders
 * view lists what needs one of them.
 */

export const confirmSchema = z.object({
  tradeNo: z.string({ error: 'field.required' }).trim().min(1, 'field.required').max(128, 'field.too_long'),
  note: z.string({ error: 'field.required' }).trim().min(1, 'field.required').max(255, 'field.too_long'),
});

export interface Actor {
  id: number;
  ip?: string;
}

/**
 * Marks a pending or expired gateway order paid with the trade number the admin found, through
 * markPaid: the same transition, ledger, delivery, margins and hooks as a verified notify, and as
 * harmless twice (or racing the real notify). Audited in markPaid's transaction.
 */
export async function confirmOrder(deps: Deps, input: { no: string; tradeNo?: unknown; note?: unknown }, actor: Actor): Promise<{ outcome: PaidOutcome; order: OrderView }> {
  const parsed = confirmSchema.safeParse(input);
  if (!parsed.success) throw fromZod(parsed.error);
  const row = await deps.db.knex('orders').where('no', input.no).first('no', 'payment', 'amount', 'status');
  if (!row) throw errors.notFound('error.order_not_found');
  if (row.payment === 'wallet') throw errors.invalidState(row.status);
  const outcome = await markPaid(deps, {
    gatewayId: row.payment,
    orderNo: row.no,
    amount: Number(row.amount),
    tradeNo: parsed.data.tradeNo,
    manual: { actorId: actor.id, note: parsed.data.note, ip: actor.ip },
  });
  return { outcome, order: await loadOrder(deps, row.no) };
}

/** The gateway's answer about an order, for the console to show beside the confirm form. */
export async function askGateway(gateways: ReadonlyMap<string, PaymentGateway>, order: { no: string; payment: string }): Promise<{ answer?: QueryResult; error?: string } | null> {
  const gateway = gateways.get(order.payment);
  if (!gateway) return null;
  try {
    return { answer: await gateway.query({ orderNo: order.no }) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/**
 * Runs the order's delivery again: its job (dead or waiting) runs at once with its attempts reset,
 * and a failed order reopens. Cards delivered from stock have no job: those are confirmed,
 * backordered or refunded instead.
 */
export async function retryDelivery(deps: Deps, no: string, actor: Actor): Promise<OrderView> {
  const row = await deps.db.knex('orders').where('no', no).first('id', 'no', 'status');
  if (!row) throw errors.notFound('error.order_not_found');
  const job = await deps.db.knex('delivery_jobs').where({ kind: 'deliver', order_id: row.id }).first('id', 'status', 'attempts');
  if (!job || job.status === 'done') throw errors.invalidState(row.status);
  await retryJob(deps, Number(job.id));
  await transaction(deps.db, (trx) =>
    audit(deps, trx, { actorId: actor.id, action: 'order.retry_delivery', targetType: 'order', targetId: no, before: { status: row.status, job: job.status, attempts: job.attempts }, ip: actor.ip }),
  );
  return loadOrder(deps, no);
}

export interface StuckOrder {
  no: string;
  title: string;
  status: OrderStatus;
  payment: string;
  amount: number;
  createdAt: number;
  paidAt: number | null;
  reason: string | null;
  refundDue: boolean;
  backorder: boolean;
  /** Why it is listed. */
  why: MessageKey;
  /** The gateway's trade number, for pending orders the gateway reports paid. */
  gatewayTradeNo?: string;
}

interface StuckRow {
  no: string;
  title: string;
  status: OrderStatus;
  payment: string;
  amount: number | string;
  created_at: number | string;
  paid_at: number | string | null;
  reason: string | null;
  refund_due: number | boolean;
  backorder: number | boolean;
}

const COLUMNS = ['no', 'title', 'status', 'payment', 'amount', 'created_at', 'paid_at', 'reason', 'refund_due', 'backorder'];

const stuck = (r: StuckRow, why: MessageKey, gatewayTradeNo?: string): StuckOrder => ({
  no: r.no,
  title: r.title,
  status: r.status,
  payment: r.payment,
  amount: Number(r.amount),
  createdAt: Number(r.created_at),
  paidAt: r.paid_at === null ? null : Number(r.paid_at),
  reason: r.reason,
  refundDue: Boolean(r.refund_due),
  backorder: Boolean(r.backorder),
  why,
  gatewayTradeNo,
});

/**
 * The orders that need an operator: paid but not delivered after `payments.stuckMinutes`,
 * backorders (at once: they wait for keys the operator must add), failed or dead-lettered deliveries, money owed back to a buyer, and
 * pending orders whose gateway says they were paid (asked now, the `ask` oldest).
 */
export async function stuckOrders(deps: Deps, gateways: ReadonlyMap<string, PaymentGateway>, opts: { ask?: number; limit?: number } = {}): Promise<StuckOrder[]> {
  const limit = opts.limit ?? 200;
  const db = deps.db.read;
  const cutoff = deps.now() - deps.config.payments.stuckMinutes * 60_000;
  const [late, failed, dead, owed, pending] = await Promise.all([
    db('orders')
      .where((q) => q.whereIn('status', ['paid', 'delivering']).andWhere('paid_at', '<', cutoff))
      .orWhere((q) => q.where({ status: 'paid', backorder: true }))
      .orderBy('id')
      .limit(limit)
      .select(COLUMNS) as Promise<StuckRow[]>,
    db('orders').where('status', 'failed').andWhere('refund_due', false).orderBy('id', 'desc').limit(limit).select(COLUMNS) as Promise<StuckRow[]>,
    db('orders')
      .join('delivery_jobs', 'delivery_jobs.order_id', 'orders.id')
      .where('delivery_jobs.status', 'dead')
      .whereNot('orders.status', 'refunded')
      .orderBy('orders.id', 'desc')
      .limit(limit)
      .select(COLUMNS.map((c) => `orders.${c}`)) as Promise<StuckRow[]>,
    db('orders').where('refund_due', true).orderBy('id', 'desc').limit(limit).select(COLUMNS) as Promise<StuckRow[]>,
    opts.ask === 0
      ? []
      : (db('orders').where('status', 'pending_payment').andWhere('created_at', '<', deps.now() - 60_000).orderBy('id').limit(opts.ask ?? 20).select(COLUMNS) as Promise<StuckRow[]>),
  ]);
  const answers = await Promise.all(pending.map((r) => askGateway(gateways, r)));
  const seen = new Set<string>();
  const out: StuckOrder[] = [];
  const add = (o: StuckOrder) => {
    if (seen.has(o.no)) return;
    seen.add(o.no);
    out.push(o);
  };
  for (const r of dead) add(stuck(r, 'admin.stuck.why.dead'));
  for (const r of failed) add(stuck(r, 'admin.stuck.why.failed'));
  for (const r of late) add(stuck(r, r.backorder ? 'admin.stuck.why.backorder' : 'admin.stuck.why.undelivered'));
  for (const r of owed) add(stuck(r, 'admin.stuck.why.owed'));
  pending.forEach((r, i) => {
    const a = answers[i]?.answer;
    if (a?.status === 'paid') add(stuck(r, a.amount === Number(r.amount) ? 'admin.stuck.why.reported_paid' : 'admin.stuck.why.reported_other_amount', a.tradeNo));
  });
  return out;
}

/**
 * The minute chore behind `payment.stuck`: each order that entered the stuck queue is announced
 * once per reason (notice_marks), whichever process sees it first. Gateways are not asked here:
 * the pending sweep already confirms orders they report paid.
 */
export async function raiseStuck(deps: Deps, gateways: ReadonlyMap<string, PaymentGateway>): Promise<number> {
  let raised = 0;
  for (const o of await stuckOrders(deps, gateways, { ask: 0 })) {
    if (await announceStuck(deps, o.no, o.why.slice('admin.stuck.why.'.length) as StuckReason)) raised++;
  }
  return raised;
}

export const bulkSchema = z.object({
  action: z.enum(['confirm', 'retry', 'refund_wallet', 'refund_gateway'], { error: 'field.invalid' }),
  nos: z.array(z.string().max(32)).min(1, 'field.required').max(200, 'field.max'),
  note: z.string().trim().max(255, 'field.too_long').optional(),
});

export interface BulkResult {
  no: string;
  ok: boolean;
  /** A message key (the outcome, or the error's). */
  message: MessageKey;
  params?: ShopError['params'];
}

/**
 * One action on many orders, each on its own (one failing does not stop the others), each
 * audited. A bulk confirm takes each order's trade number from its gateway's query: only orders
 * the gateway reports paid can be confirmed this way.
 */
export async function bulkAction(deps: Deps, gateways: ReadonlyMap<string, PaymentGateway>, input: unknown, actor: Actor): Promise<BulkResult[]> {
  const parsed = bulkSchema.safeParse(input);
  if (!parsed.success) throw fromZod(parsed.error);
  const { action, nos, note } = parsed.data;
  if (action !== 'retry' && !note) throw errors.validation({ note: 'field.required' });
  const results: BulkResult[] = [];
  for (const no of [...new Set(nos)]) {
    try {
      if (action === 'retry') {
        await retryDelivery(deps, no, actor);
        results.push({ no, ok: true, message: 'admin.result.retried' });
      } else if (action === 'confirm') {
        const row = await deps.db.knex('orders').where('no', no).first('no', 'payment');
        const asked = row ? await askGateway(gateways, row) : null;
        const answer = asked?.answer;
        if (answer?.status !== 'paid' || !answer.tradeNo) {
          results.push({ no, ok: false, message: 'admin.result.not_reported_paid' });
          continue;
        }
        const { outcome } = await confirmOrder(deps, { no, tradeNo: answer.tradeNo, note }, actor);
        results.push({ no, ok: true, message: outcome === 'duplicate' ? 'admin.result.already_paid' : 'admin.result.confirmed' });
      } else {
        await refundOrder(deps, gateways, { no, reason: note!, actorId: actor.id, to: action === 'refund_wallet' ? 'wallet' : 'gateway', ip: actor.ip });
        results.push({ no, ok: true, message: 'admin.result.refunded' });
      }
    } catch (err) {
      if (!(err instanceof ShopError)) throw err;
      results.push({ no, ok: false, message: err.messageKey, params: err.params });
    }
  }
  return results;
}

const REFUNDABLE: OrderStatus[] = ['paid', 'failed', 'partial', 'delivered'];

/** What the console's order page shows about an order's payment, and which actions apply. */
export async function paymentDetails(deps: Deps, gateways: ReadonlyMap<string, PaymentGateway>, no: string) {
  const row = await deps.db.read('orders').where('no', no).first('id', 'trade_no');
  if (!row) throw errors.notFound('error.order_not_found');
  const order = await loadOrder(deps, no);
  const job = await deps.db.read('delivery_jobs').where({ kind: 'deliver', order_id: row.id }).first('status', 'attempts', 'last_error');
  const waiting = order.status === 'pending_payment' || order.status === 'expired';
  return {
    order: { ...order, keys: [], delivery: null },
    tradeNo: row.trade_no as string | null,
    job: job ? { status: job.status as string, attempts: Number(job.attempts), lastError: job.last_error as string | null } : null,
    // Asked live: what the gateway says is what the operator decides on.
    gateway: waiting && order.payment !== 'wallet' ? await askGateway(gateways, order) : null,
    canConfirm: waiting && order.payment !== 'wallet' && !(order.productType === 'topup' && row.trade_no),
    canRefund: order.productType !== 'topup' && (Boolean(order.refundDue) || REFUNDABLE.includes(order.status)),
    canRetry: Boolean(job && job.status !== 'done'),
  };
}
