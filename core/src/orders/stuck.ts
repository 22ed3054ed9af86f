import type { Deps } from '../context.js';
import { markOnce } from '../notices/marks.js';
import type { StuckReason } from '../plugins/hooks.js';
import { loadOrder } from './orders.js';

/** Raises `payment.stuck` for an order, once per order and reason across app processes. */
export async function announceStuck(deps: Deps, no: string, why: StuckReason): Promise<boolean> {
  if (!(await markOnce(deps, `stuck:${no}:${why}`))) return false;
  deps.hooks.emit('payment.stuck', { order: await loadOrder(deps, no), why });
  return true;
}

/** The same from a payment's path, which must answer the gateway whatever happens to the notice. */
export function announceStuckPayment(deps: Deps, no: string, why: StuckReason): Promise<unknown> {
  return announceStuck(deps, no, why).catch((err: unknown) => deps.log.warn(`order ${no}: could not announce it as stuck (${why})`, err));
}
