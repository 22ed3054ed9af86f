import { z } from 'zod';
import { audit } from '../audit/audit.js';
import { invalidateCatalog } from '../catalog/snapshot.js';
import type { Deps } from '../context.js';
import { transaction } from '../db/dialect.js';
import { errors, fromZod } from '../errors.js';
import { tiersOf } from './pricing.js';
import type { Tier } from './resolver.js';

/**
 * Wholesale tiers (批发价): per SKU, quantity brackets that take a percent off the buyer's own
 * price (its level's, through its agents), so one table serves every level and every agent keeps a
 * margin (resolver.ts `resolveOrder`). Kept on the SKU as JSON, read with the pricing tables.
 */

const quantity = z.number({ error: 'field.integer' }).int('field.integer').min(2, 'field.min').max(1e6, 'field.max');
/** Basis points: 500 is 5 % off. Never all of the price. */
const percentOff = z.number({ error: 'field.integer' }).int('field.integer').min(1, 'field.min').max(9_999, 'field.max');

export const tiersInput = z
  .object({
    tiers: z
      .array(z.object({ minQuantity: quantity, percentOff }).strict(), { error: 'field.invalid' })
      .max(10, 'field.max')
      // Brackets in order, none starting where another does, each taking more off than the one below.
      .superRefine((tiers, ctx) => {
        for (const [i, t] of tiers.entries()) {
          const below = tiers[i - 1];
          if (!below) continue;
          if (t.minQuantity <= below.minQuantity) ctx.addIssue({ code: 'custom', path: [i, 'minQuantity'], message: 'wholesale.overlap' });
          else if (t.percentOff <= below.percentOff) ctx.addIssue({ code: 'custom', path: [i, 'percentOff'], message: 'wholesale.not_deeper' });
        }
      }),
  })
  .strict();

/** Replaces a SKU's tiers (an empty list removes them), audited. */
export async function setTiers(deps: Deps, code: string, input: unknown, actor: { id: number; ip?: string }): Promise<Tier[]> {
  const parsed = tiersInput.safeParse(input);
  if (!parsed.success) throw fromZod(parsed.error);
  const { tiers } = parsed.data;
  await transaction(deps.db, async (trx) => {
    const before = await trx('skus').where('code', code).first('id', 'wholesale_tiers');
    if (!before) throw errors.notFound('error.sku_not_found');
    await trx('skus').where('id', before.id).update({ wholesale_tiers: tiers.length ? JSON.stringify(tiers) : null, updated_at: deps.now() });
    await audit(deps, trx, { actorId: actor.id, action: 'sku.tiers', targetType: 'sku', targetId: code, before: { tiers: tiersOf(before.wholesale_tiers) }, after: { tiers }, ip: actor.ip });
  });
  invalidateCatalog(deps);
  return tiers;
}
