import type { Knex } from 'knex';
import { z } from 'zod';
import { audit } from '../audit/audit.js';
import { invalidateCatalog } from '../catalog/snapshot.js';
import type { Deps } from '../context.js';
import { affected, transaction } from '../db/dialect.js';
import { errors, fromZod, ShopError } from '../errors.js';
import { dayOf } from '../reports/periods.js';
import { buyerKey } from './buyer.js';

/**
 * Purchase limits per buyer (限购): a SKU may cap the units one buyer gets per day (the shop's day,
 * Asia/Shanghai, reports/periods.ts `dayOf`) or ever, and a flash sale the units one buyer gets at its price. A buyer is an
 * account, or a guest by the contact they give. Units are counted in `buyer_units` by guarded
 * UPDATEs (`units + n <= limit`) in the order's own transaction: the checkout batch's for wallet
 * orders, `takeLimits` for gateway orders, so the limit holds under any number of parallel
 * checkouts. An order expired or cancelled unpaid, or refunded, gives its units back
 * (`returnLimits`) to the periods it recorded.
 */

export const LIMIT_PERIODS = ['day', 'ever'] as const;
export type LimitPeriod = (typeof LIMIT_PERIODS)[number];

/** A SKU's limit per buyer: `units` per `per`. */
export interface BuyerLimit {
  units: number;
  per: LimitPeriod;
}

/** One cap an order's units count against: the period's key and its limit. */
export interface Counted {
  period: string;
  limit: number;
}

/** What an order counts against its buyer's limits (none: not limited). */
export interface OrderLimits {
  buyer: string;
  counts: Counted[];
}

export const limitInput = z
  .object({
    limit: z
      .object({
        units: z.number({ error: 'field.integer' }).int('field.integer').min(1, 'field.min').max(1e6, 'field.max'),
        per: z.enum(LIMIT_PERIODS, { error: 'field.invalid' }),
      })
      .strict()
      .nullable(),
  })
  .strict();

/** A SKU's limit per buyer from its columns, or null. */
export function limitOf(row: { buyer_limit?: number | string | null; buyer_limit_per?: string | null }): BuyerLimit | null {
  if (row.buyer_limit === null || row.buyer_limit === undefined) return null;
  return { units: Number(row.buyer_limit), per: row.buyer_limit_per === 'day' ? 'day' : 'ever' };
}

/** The caps `quantity` units bought `now` count against: the SKU's limit, and the flash sale's where its price was got. */
export function countsOf(sku: { buyerLimit: BuyerLimit | null }, flash: { startsAt: number; perBuyer: number | null } | null, now: number): Counted[] {
  const counts: Counted[] = [];
  if (sku.buyerLimit) counts.push({ period: sku.buyerLimit.per === 'day' ? `d:${dayOf(now)}` : 'ever', limit: sku.buyerLimit.units });
  if (flash?.perBuyer) counts.push({ period: `f:${flash.startsAt}`, limit: flash.perBuyer });
  return counts;
}

/** Refused for a limit: how many more units the buyer may still have (0: none until it starts again). */
export const limitReached = (left: number) =>
  new ShopError('limit_reached', 409, 'limit.reached', { quantity: left > 0 ? 'limit.left' : 'limit.none_left' }, { left: Math.max(0, left) });

/** The fewest units left to the buyer under any of the caps, given what each period has counted. */
export const unitsLeft = (counts: Counted[], used: (period: string) => number) => Math.min(...counts.map((c) => c.limit - used(c.period)));

/**
 * Refuses at once an order its buyer's limits cannot take (a read: it spares the buyer a checkout
 * that would fail; the order's transaction decides).
 */
export async function checkLimits(deps: Deps, skuId: number, limits: OrderLimits, quantity: number): Promise<void> {
  const left = await leftTo(deps.db.read, skuId, limits);
  if (left < quantity) throw limitReached(left);
}

/** The units the buyer may still have under its tightest cap, from what `buyer_units` has counted. */
async function leftTo(knex: Knex, skuId: number, limits: OrderLimits): Promise<number> {
  const rows = await knex('buyer_units').where({ sku_id: skuId, buyer: limits.buyer }).whereIn('period', limits.counts.map((c) => c.period)).select('period', 'units');
  const used = new Map(rows.map((r) => [String(r.period), Number(r.units)]));
  return unitsLeft(limits.counts, (p) => used.get(p) ?? 0);
}

/** Counts a gateway order's units, in the transaction that inserts the order (before it, as holdStock). */
export async function takeLimits(trx: Knex, skuId: number, limits: OrderLimits, quantity: number): Promise<void> {
  for (const c of limits.counts) {
    await trx('buyer_units').insert({ sku_id: skuId, buyer: limits.buyer, period: c.period, units: 0 }).onConflict(['sku_id', 'buyer', 'period']).ignore();
    const took = await trx('buyer_units')
      .where({ sku_id: skuId, buyer: limits.buyer, period: c.period })
      .andWhereRaw('units + ? <= ?', [quantity, c.limit])
      .increment('units', quantity);
    if (affected(took) !== 1) throw limitReached(await leftTo(trx, skuId, limits));
  }
}

/**
 * Gives back the units of orders that will never be paid for or were refunded. The caller's guarded
 * transition of each order makes this run once per order.
 */
export async function returnLimits(
  deps: Deps,
  trx: Knex,
  orders: Array<{ sku_id: number; quantity: number | string; limit_periods?: string | null; user_id: number | null; contact: string | null }>,
): Promise<void> {
  for (const o of orders) {
    if (!o.limit_periods) continue;
    const n = Number(o.quantity);
    const buyer = buyerKey(deps, { userId: o.user_id, contact: o.contact });
    for (const period of o.limit_periods.split(' ')) {
      await trx('buyer_units').where({ sku_id: o.sku_id, buyer, period }).andWhere('units', '>=', n).decrement('units', n);
    }
  }
}

/** Sets (or with `limit: null` removes) a SKU's limit per buyer; what buyers have counted stays. */
export async function setBuyerLimit(deps: Deps, code: string, input: unknown, actor: { id: number; ip?: string }): Promise<BuyerLimit | null> {
  const parsed = limitInput.safeParse(input);
  if (!parsed.success) throw fromZod(parsed.error);
  const { limit } = parsed.data;
  await transaction(deps.db, async (trx) => {
    const before = await trx('skus').where('code', code).first('id', 'buyer_limit', 'buyer_limit_per');
    if (!before) throw errors.notFound('error.sku_not_found');
    await trx('skus').where('id', before.id).update({ buyer_limit: limit?.units ?? null, buyer_limit_per: limit?.per ?? null, updated_at: deps.now() });
    await audit(deps, trx, { actorId: actor.id, action: 'sku.limit', targetType: 'sku', targetId: code, before: { limit: limitOf(before) }, after: { limit }, ip: actor.ip });
  });
  invalidateCatalog(deps);
  return limit;
}
