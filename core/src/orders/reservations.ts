import type { Knex } from 'knex';
import type { Deps } from '../context.js';
import { affected, ConflictRetry } from '../db/dialect.js';
import { errors, ShopError } from '../errors.js';
import { isShared, pickKeys, shareKeys, sharedPool } from '../inventory/keys.js';
import { keyTaken } from '../inventory/picks.js';
import { hmacHex } from '../security/keys.js';

/**
 * An unpaid gateway order of cards holds its keys (status `reserved`, with the order's id) until it
 * is paid or expires, so a buyer who pays in time always gets them. To keep bots from locking the
 * shop's stock that way, a contact, an IP address and a browser session may each hold only a few
 * unpaid orders at once: counters in `unpaid_holds`, raised by a guarded UPDATE when an order is
 * placed and lowered in the transaction that moves the order out of `pending_payment`.
 */

export type HoldScope = 'contact' | 'ip' | 'session';

/** Who places an order, as far as the limits are concerned. */
export interface Holder {
  contact?: string | null;
  ip?: string | null;
  /** A stable id of the browser or the signed-in user (see http/context.ts requestInfo). */
  session?: string | null;
}

const CHUNK = 2000;


/**
 * Counts a new unpaid order against each of its holder's limits, inside the transaction that
 * inserts it; beyond a limit it throws 429 `too_many_unpaid` and the transaction writes nothing.
 * Returns the counters taken, to be kept on the order for `releaseHolds`.
 */
export async function takeHolds(deps: Deps, trx: Knex, holder: Holder): Promise<string[]> {
  const limits = deps.config.checkout.maxUnpaid;
  const taken: string[] = [];
  const values: Array<[HoldScope, string | null | undefined]> = [
    ['contact', holder.contact?.trim().toLowerCase()],
    ['ip', holder.ip],
    ['session', holder.session],
  ];
  for (const [scope, value] of values) {
    const limit = limits[scope];
    if (!value || limit === 0) continue;
    // Only an HMAC of the holder is stored: the table never names a contact or an address.
    const id = hmacHex(deps.keys.tokens, `hold:${scope}:${value}`, 16);
    // An upsert that writes (not INSERT IGNORE): it takes the row's write lock at once, so two
    // orders of one holder queue here instead of deadlocking on their way to the UPDATE.
    await trx('unpaid_holds').insert({ scope, holder: id, unpaid: 0 }).onConflict(['scope', 'holder']).merge({ unpaid: trx.raw('unpaid') });
    const n = await trx('unpaid_holds').where({ scope, holder: id }).andWhere('unpaid', '<', limit).increment('unpaid', 1);
    if (affected(n) !== 1) {
      throw new ShopError('too_many_unpaid', 429, 'error.too_many_unpaid', scope === 'contact' ? { contact: 'error.too_many_unpaid' } : undefined, { limit });
    }
    taken.push(`${scope}:${id}`);
  }
  return taken;
}

/** Lowers the counters the given orders hold; runs in the transaction that moved them out of `pending_payment`. */
export async function releaseHolds(trx: Knex, orders: Array<{ holds: string | null }>): Promise<void> {
  const counts = new Map<string, number>();
  for (const o of orders) for (const key of o.holds ? (JSON.parse(o.holds) as string[]) : []) counts.set(key, (counts.get(key) ?? 0) + 1);
  for (const [key, n] of [...counts].sort()) {
    const [scope, holder] = key.split(':');
    await trx('unpaid_holds')
      .where({ scope, holder })
      .update({ unpaid: trx.raw('CASE WHEN unpaid > ? THEN unpaid - ? ELSE 0 END', [n, n]) });
  }
}

/**
 * Takes `quantity` units off the SKU's stock counter for an unpaid order, by a guarded UPDATE, so
 * the checkout batch (which trusts the counter) never sells them. Runs before the order's row is
 * inserted: on MySQL the insert's foreign-key check would otherwise share-lock the SKU row first,
 * and two orders of one SKU would deadlock on their way to this UPDATE.
 */
export async function holdStock(trx: Knex, skuId: number, quantity: number): Promise<void> {
  const took = await trx('skus').where('id', skuId).andWhere('stock', '>=', quantity).update({ stock: trx.raw('stock - ?', [quantity]) });
  if (affected(took) !== 1) {
    const sku = await trx('skus').where('id', skuId).first('stock');
    throw errors.outOfStock(Number(sku?.stock ?? 0));
  }
}

/**
 * Marks the units `holdStock` took as this order's keys (`reserved`, with its id), the row count
 * checked: the keys its buyer picked (refused with `key_taken` if one is gone), else the next ones;
 * for a shared SKU, copies of its keys, reserved the same way.
 */
export async function reserveKeys(deps: Deps, trx: Knex, order: { id: number; no: string; skuId: number; quantity: number; picks?: number[] }): Promise<void> {
  if (await isShared(trx, order.skuId)) {
    const pool = await sharedPool(trx, order.skuId);
    if (!pool.length) throw errors.outOfStock(0);
    await shareKeys(deps, trx, order, pool, 'reserved');
    await trx('orders').where('id', order.id).update({ reserved: order.quantity });
    return;
  }
  const picked = order.picks ?? (await pickKeys(deps, trx, order.skuId, order.quantity)).map((k) => k.id);
  if (picked.length < order.quantity) throw new Error(`stock counter of sku ${order.skuId} is ahead of its keys`);
  for (let i = 0; i < picked.length; i += CHUNK) {
    const ids = picked.slice(i, i + CHUNK);
    const n = await trx('card_keys').whereIn('id', ids).andWhere({ sku_id: order.skuId, status: 'available' }).update({ status: 'reserved', order_id: order.id });
    if (affected(n) === ids.length) continue;
    throw order.picks ? keyTaken() : new ConflictRetry(`reserved ${affected(n)} of ${ids.length} keys of sku ${order.skuId}`);
  }
  await trx('orders').where('id', order.id).update({ reserved: order.quantity });
}

/**
 * Puts the keys of orders that just left `pending_payment` unpaid (expired, cancelled) back on
 * sale. The caller's guarded transition makes this run once per order; the keys freed must be
 * exactly the ones the orders held.
 */
export async function releaseKeys(trx: Knex, orders: Array<{ id: number; sku_id: number; reserved: number | string }>): Promise<void> {
  const holding = orders.filter((o) => Number(o.reserved) > 0);
  if (!holding.length) return;
  const perSku = new Map<number, number>();
  for (const o of holding) perSku.set(o.sku_id, (perSku.get(o.sku_id) ?? 0) + Number(o.reserved));
  // A shared SKU's reserved keys are the order's copies: they go, the pool stays.
  const shared = new Set((await trx('skus').whereIn('id', [...perSku.keys()]).andWhere('key_mode', 'shared').pluck('id')).map(Number));
  let freed = 0;
  for (let i = 0; i < holding.length; i += CHUNK) {
    const chunk = holding.slice(i, i + CHUNK);
    for (const copies of [false, true]) {
      const ids = chunk.filter((o) => shared.has(Number(o.sku_id)) === copies).map((o) => o.id);
      if (!ids.length) continue;
      const held = trx('card_keys').whereIn('order_id', ids).andWhere('status', 'reserved');
      freed += affected(copies ? await held.delete() : await held.update({ status: 'available', order_id: null }));
    }
    await trx('orders').whereIn('id', chunk.map((o) => o.id)).update({ reserved: 0 });
  }
  const expected = [...perSku.values()].reduce((a, b) => a + b, 0);
  if (freed !== expected) throw new Error(`released ${freed} reserved keys, the orders held ${expected}`);
  for (const [skuId, n] of [...perSku].sort((a, b) => a[0] - b[0])) await trx('skus').where('id', skuId).increment('stock', n);
}

/** Sells the keys a paid order held: they were off the stock counter already; now they count as sold. */
export async function sellReserved(deps: Deps, trx: Knex, order: { id: number; sku_id: number; quantity: number; reserved: number | string }): Promise<void> {
  const n = affected(await trx('card_keys').where({ order_id: order.id, status: 'reserved' }).update({ status: 'sold', sold_at: deps.now() }));
  if (n !== Number(order.reserved)) throw new Error(`order ${order.id} held ${order.reserved} keys, found ${n}`);
  await trx('skus').where('id', order.sku_id).increment('sold', order.quantity);
  await trx('orders').where('id', order.id).update({ reserved: 0 });
}
