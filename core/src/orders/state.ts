import type { Knex } from 'knex';
import { affected } from '../db/dialect.js';

export const ORDER_STATUSES = [
  'pending_payment',
  'paid',
  'delivering',
  'delivered',
  'partial',
  'failed',
  'refunded',
  'cancelled',
  'expired',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/**
 * The only moves an order can make. Final states have no way out, except that an admin may
 * confirm an expired order's payment by hand (markPaid's `manual`): a notify never revives one.
 */
export const TRANSITIONS: Record<OrderStatus, readonly OrderStatus[]> = {
  pending_payment: ['paid', 'cancelled', 'expired'],
  paid: ['delivering', 'delivered', 'failed', 'refunded'],
  delivering: ['delivered', 'partial', 'failed'],
  partial: ['delivered', 'refunded'],
  failed: ['delivering', 'refunded'],
  delivered: ['refunded'],
  refunded: [],
  cancelled: [],
  expired: ['paid'],
};

export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/**
 * Moves an order from one of `from` to `to` with a guarded UPDATE, so a transition happens once
 * however many requests race for it. Returns false when the order was not in a `from` state.
 */
export async function transition(
  trx: Knex,
  orderId: number,
  from: OrderStatus | OrderStatus[],
  to: OrderStatus,
  patch: Record<string, unknown> = {},
): Promise<boolean> {
  const sources = (Array.isArray(from) ? from : [from]).filter((f) => canTransition(f, to));
  if (!sources.length) throw new Error(`no transition to ${to} from ${String(from)}`);
  const n = await trx('orders')
    .where('id', orderId)
    .whereIn('status', sources)
    .update({ ...patch, status: to, updated_at: patch.updated_at ?? Date.now() });
  return affected(n) === 1;
}
