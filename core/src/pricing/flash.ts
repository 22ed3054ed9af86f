import type { Knex } from 'knex';
import { z } from 'zod';
import { audit } from '../audit/audit.js';
import { invalidateCatalog } from '../catalog/snapshot.js';
import type { Deps } from '../context.js';
import { affected, transaction } from '../db/dialect.js';
import { errors, fromZod, ShopError } from '../errors.js';

/**
 * Flash sales (限时秒杀): one per SKU at a time, a sale price from a start to an end for a cap of
 * units. `flash_sold` only rises by a guarded UPDATE (`flash_sold + n <= flash_cap`) in the order's
 * own transaction (the checkout batch's SKU UPDATE, or `takeFlash` for a gateway order), so the cap
 * holds under any number of parallel checkouts; an unpaid order that expires gives its units back.
 */

const units = z.number({ error: 'field.integer' }).int('field.integer').min(1, 'field.min').max(1e6, 'field.max');
const time = z.number({ error: 'field.integer' }).int('field.integer').min(0, 'field.min').max(8.64e15, 'field.max');

export const flashInput = z
  .object({
    flash: z
      .object({
        price: z.number({ error: 'field.integer' }).int('field.integer').min(0, 'field.min').max(1e12, 'field.max'),
        startsAt: time,
        endsAt: time,
        cap: units,
        perBuyer: units.nullable().default(null),
      })
      .strict()
      .refine((f) => f.endsAt > f.startsAt, { path: ['endsAt'], message: 'flash.end_before_start' })
      .nullable(),
  })
  .strict();

export const flashSoldOut = () => new ShopError('flash_sold_out', 409, 'flash.sold_out');

/** Starts, changes or (with `flash: null`) ends a SKU's flash sale. A new start counts from zero. */
export async function setFlash(deps: Deps, code: string, input: unknown, actor: { id: number; ip?: string }) {
  const parsed = flashInput.safeParse(input);
  if (!parsed.success) throw fromZod(parsed.error);
  const { flash } = parsed.data;
  await transaction(deps.db, async (trx) => {
    const before = await trx('skus').where('code', code).first('id', 'price', 'flash_price', 'flash_starts_at', 'flash_sold');
    if (!before) throw errors.notFound('error.sku_not_found');
    if (flash && flash.price >= Number(before.price)) throw errors.validation({ 'flash.price': 'flash.not_lower' });
    const same = flash && before.flash_price !== null && Number(before.flash_starts_at) === flash.startsAt;
    await trx('skus')
      .where('id', before.id)
      .update({
        flash_price: flash?.price ?? null,
        flash_starts_at: flash?.startsAt ?? null,
        flash_ends_at: flash?.endsAt ?? null,
        flash_cap: flash?.cap ?? 0,
        flash_sold: same ? Number(before.flash_sold) : 0,
        flash_per_buyer: flash?.perBuyer ?? null,
        updated_at: deps.now(),
      });
    await audit(deps, trx, { actorId: actor.id, action: 'sku.flash', targetType: 'sku', targetId: code, before, after: { flash }, ip: actor.ip });
  });
  invalidateCatalog(deps);
  return flash;
}

/** A gateway order's flash units, taken in its transaction before its row is inserted (as holdStock). */
export async function takeFlash(trx: Knex, order: { skuId: number; quantity: number; flash?: { price: number; startsAt: number } | null }, now: number): Promise<void> {
  if (!order.flash) return;
  const n = order.quantity;
  const took = await trx('skus')
    .where({ id: order.skuId, flash_price: order.flash.price, flash_starts_at: order.flash.startsAt })
    .andWhere('flash_ends_at', '>', now)
    .andWhereRaw('flash_sold + ? <= flash_cap', [n])
    .update({ flash_sold: trx.raw('flash_sold + ?', [n]) });
  if (affected(took) !== 1) throw flashSoldOut();
}

/**
 * Gives back the flash units of orders that left `pending_payment` unpaid, to the sale they were
 * taken from (one that was on when the order was placed), in the transaction that moved them.
 */
export async function returnFlash(trx: Knex, orders: Array<{ sku_id: number; flash_units?: number | string; created_at?: number | string }>): Promise<void> {
  for (const o of orders) {
    const n = Number(o.flash_units ?? 0);
    if (!n) continue;
    await trx('skus')
      .where('id', o.sku_id)
      .andWhere('flash_starts_at', '<=', Number(o.created_at))
      .andWhere('flash_sold', '>=', n)
      .update({ flash_sold: trx.raw('flash_sold - ?', [n]) });
  }
}
