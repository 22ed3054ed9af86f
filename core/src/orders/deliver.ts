import type { Knex } from 'knex';
import type { Deps } from '../context.js';
import { affected } from '../db/dialect.js';
import { claimKeys, isShared, pickKeys, recordDeliveredKeys, shareKeys, sharedPool } from '../inventory/keys.js';
import type { CardKey } from '../inventory/parse.js';
import { creditMargins } from '../pricing/margins.js';
import { encrypt } from '../security/keys.js';
import { enqueueJobs, webhookJobs } from '../delivery/jobs.js';
import { sellReserved } from './reservations.js';
import { transition, type OrderStatus } from './state.js';

/** What an order is delivered with, besides card keys already claimed from stock. */
export interface Goods {
  /** Keys that came from elsewhere (a supplier, a plugin), stored sealed with the order. */
  keys?: CardKey[];
  /** Text the buyer sees: an admin's note, a supplier's receipt. Stored sealed. */
  text?: string;
}

/** The order columns delivery needs. */
export interface DeliverableOrder {
  id: number;
  no: string;
  sku_id: number;
  /** Set for Agent API orders that want a webhook. */
  callback_url?: string | null;
}

/**
 * The one way an order becomes `delivered` after the checkout batch (which delivers in-stock
 * cards in its own statements): a gateway payment of cards, a top-up, an admin's manual delivery,
 * a supplier's or a plugin's result. Runs inside the caller's transaction; the guarded transition
 * makes it happen once, and only the call that moved the order stores the goods. Returns whether
 * this call delivered it.
 */
export async function finishDelivery(
  deps: Deps,
  trx: Knex,
  order: DeliverableOrder,
  from: OrderStatus[],
  goods: Goods = {},
): Promise<boolean> {
  const now = deps.now();
  const moved = await transition(trx, order.id, from, 'delivered', {
    delivered_at: now,
    updated_at: now,
    ...(goods.text ? { delivery: encrypt(deps.keys.encryption, goods.text) } : {}),
  });
  if (!moved) return false;
  if (goods.keys?.length) await recordDeliveredKeys(deps, trx, order.sku_id, order.id, goods.keys);
  // The agents up the chain earn their margins when the goods arrive, in the same transaction.
  await creditMargins(deps, trx, order);
  // An Agent API caller that asked for a webhook hears of it (the job commits with the delivery).
  await enqueueJobs(deps, trx, webhookJobs(order, 'order.delivered'));
  return true;
}

/**
 * Delivers a `paid` card order from stock in the caller's transaction, which has checked (and on
 * MySQL locked) that it is paid: the keys it reserved (an unpaid gateway order's, or one held for
 * review), else keys taken now by a guarded UPDATE of the SKU's counter. Returns false, having
 * changed nothing, when the SKU has too few keys.
 */
export async function deliverCards(
  deps: Deps,
  trx: Knex,
  order: DeliverableOrder & { quantity: number; reserved: number | string },
): Promise<boolean> {
  if (Number(order.reserved) > 0) await sellReserved(deps, trx, order);
  else {
    const pool = (await isShared(trx, order.sku_id)) ? await sharedPool(trx, order.sku_id) : null;
    if (pool && !pool.length) return false;
    const took = await trx('skus')
      .where('id', order.sku_id)
      .andWhere('stock', '>=', order.quantity)
      .update({ stock: trx.raw('stock - ?', [order.quantity]), sold: trx.raw('sold + ?', [order.quantity]) });
    if (affected(took) !== 1) return false;
    if (pool) await shareKeys(deps, trx, { id: order.id, no: order.no, skuId: order.sku_id, quantity: order.quantity }, pool, 'sold');
    else await claimKeys(deps, trx, order.sku_id, await pickKeys(deps, trx, order.sku_id, order.quantity), [{ orderId: order.id, quantity: order.quantity }]);
  }
  if (!(await finishDelivery(deps, trx, order, ['paid']))) throw new Error(`order ${order.no} was not paid when its cards were delivered`);
  return true;
}
