import { z } from 'zod';
import { audit } from '../audit/audit.js';
import type { User } from '../agents/users.js';
import { invalidateCatalog } from '../catalog/snapshot.js';
import type { Deps } from '../context.js';
import { affected, isUniqueViolation, transaction } from '../db/dialect.js';
import { errors, fromZod, ShopError } from '../errors.js';
import { postJournal, SYSTEM_ACCOUNTS, systemAccountId, walletAccountId } from '../wallet/ledger.js';
import { invalidatePricing, pricingSnapshot, toLevel, type Level } from './pricing.js';
import { RULE_KINDS } from './resolver.js';
import { repriceSkus } from './templates.js';

/** The operator's side of pricing: levels and their rules, overrides, price protection. */

const money = z.number({ error: 'field.integer' }).int('field.integer').min(0, 'field.min').max(1e12, 'field.max');
const ruleValue = (kind: string, value: number) => (kind === 'cost_plus_fixed' || kind === 'fixed' ? value <= 1e12 : value <= 100_000);

export const levelInput = z
  .object({
    code: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'field.slug'),
    name: z.string().trim().min(1, 'field.required').max(60, 'field.too_long'),
    rank: z.number({ error: 'field.integer' }).int('field.integer').min(0, 'field.min').max(1000, 'field.max'),
    ruleKind: z.enum(RULE_KINDS, { error: 'field.invalid' }),
    /** Basis points for the percent rules, minor units for cost_plus_fixed. */
    ruleValue: money,
    upgradeSpend: money.nullable().default(null),
    upgradePrice: money.nullable().default(null),
  })
  .strict()
  .refine((l) => ruleValue(l.ruleKind, l.ruleValue), { path: ['ruleValue'], message: 'field.max' });

/** Creates a level, or updates the one with the same code. */
export async function saveLevel(deps: Deps, input: unknown, actor: { id: number; ip?: string }): Promise<Level> {
  const parsed = levelInput.safeParse(input);
  if (!parsed.success) throw fromZod(parsed.error);
  const l = parsed.data;
  const row = {
    code: l.code,
    name: l.name,
    rank: l.rank,
    rule_kind: l.ruleKind,
    rule_value: l.ruleValue,
    upgrade_spend: l.upgradeSpend,
    upgrade_price: l.upgradePrice,
  };
  try {
    await transaction(deps.db, async (trx) => {
      const before = await trx('agent_levels').where('code', l.code).first();
      if (before) await trx('agent_levels').where('id', before.id).update(row);
      else await trx('agent_levels').insert({ ...row, created_at: deps.now() });
      await audit(deps, trx, { actorId: actor.id, action: 'level.save', targetType: 'level', targetId: l.code, before: before ?? null, after: row, ip: actor.ip });
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw errors.validation({ rank: 'error.rank_taken' });
    throw err;
  }
  invalidatePricing(deps);
  return toLevel(await deps.db.knex('agent_levels').where('code', l.code).first());
}

export async function listLevels(deps: Deps): Promise<Level[]> {
  return (await deps.db.read('agent_levels').orderBy('rank')).map(toLevel);
}

const overrideKey = z
  .object({
    level: z.string().max(32),
    scope: z.enum(['category', 'sku'], { error: 'field.invalid' }),
    /** A category slug or a SKU code. */
    target: z.string().min(1, 'field.required').max(64, 'field.too_long'),
  })
  .strict();

export const overrideInput = overrideKey
  .extend({ ruleKind: z.enum(['fixed', ...RULE_KINDS], { error: 'field.invalid' }), ruleValue: money })
  .refine((o) => ruleValue(o.ruleKind, o.ruleValue), { path: ['ruleValue'], message: 'field.max' });

async function levelByCode(deps: Deps, code: string, field = 'level') {
  const row = await deps.db.knex('agent_levels').where('code', code).first('id');
  if (!row) throw errors.validation({ [field]: 'error.level_not_found' });
  return Number(row.id);
}

async function targetId(deps: Deps, scope: 'category' | 'sku', target: string): Promise<number> {
  const row = scope === 'sku' ? await deps.db.knex('skus').where('code', target).first('id') : await deps.db.knex('categories').where('slug', target).first('id');
  if (!row) throw errors.validation({ target: 'error.not_found' });
  return Number(row.id);
}

/** Sets a level's override for a category or a SKU, or with `remove` takes it away. */
export async function setOverride(deps: Deps, input: unknown, actor: { id: number; ip?: string }, remove = false): Promise<void> {
  const parsed = remove ? overrideKey.safeParse(input) : overrideInput.safeParse(input);
  if (!parsed.success) throw fromZod(parsed.error);
  const o = parsed.data as z.output<typeof overrideKey> & Partial<z.output<typeof overrideInput>>;
  const key = { level_id: await levelByCode(deps, o.level), scope: o.scope, scope_id: await targetId(deps, o.scope, o.target) };
  await transaction(deps.db, async (trx) => {
    const before = await trx('price_overrides').where(key).first('rule_kind', 'rule_value');
    await trx('price_overrides').where(key).delete();
    if (!remove) await trx('price_overrides').insert({ ...key, rule_kind: o.ruleKind, rule_value: o.ruleValue });
    const after = remove ? null : { ruleKind: o.ruleKind, ruleValue: o.ruleValue };
    await audit(deps, trx, { actorId: actor.id, action: 'price.override', targetType: o.scope, targetId: `${o.target}@${o.level}`, before: before ?? null, after, ip: actor.ip });
    // A SKU under a markup template gets the template's price back where a hand-set one was removed.
    if (remove && o.scope === 'sku') await repriceSkus(deps, trx, [key.scope_id], actor);
  });
  // The template may have set the retail price again: the catalog too, not only the prices.
  invalidateCatalog(deps);
}

export async function listOverrides(deps: Deps) {
  const rows = await deps.db
    .read('price_overrides as o')
    .join('agent_levels as l', 'l.id', 'o.level_id')
    .leftJoin('categories as c', (j) => j.on('c.id', 'o.scope_id').andOnVal('o.scope', 'category'))
    .leftJoin('skus as s', (j) => j.on('s.id', 'o.scope_id').andOnVal('o.scope', 'sku'))
    .orderBy([{ column: 'l.rank' }, { column: 'o.scope' }, { column: 'o.scope_id' }])
    .select('l.code as level', 'o.scope', 'o.rule_kind', 'o.rule_value', 'c.slug as category', 's.code as sku');
  return rows.map((r: Record<string, any>) => ({
    level: r.level as string,
    scope: r.scope as 'category' | 'sku',
    target: (r.scope === 'sku' ? r.sku : r.category) as string,
    ruleKind: r.rule_kind as string,
    ruleValue: Number(r.rule_value),
  }));
}

export const protectionInput = z
  .object({
    sku: z.string().min(1, 'field.required').max(64),
    cost: money.nullable(),
    floor: money.nullable(),
    ceiling: money.nullable(),
  })
  .strict()
  .refine((p) => p.floor === null || p.ceiling === null || p.floor <= p.ceiling, { path: ['floor'], message: 'error.floor_above_ceiling' });

/** A SKU's cost (for cost-plus rules) and its price protection. */
export async function setSkuPricing(deps: Deps, input: unknown, actor: { id: number; ip?: string }): Promise<void> {
  const parsed = protectionInput.safeParse(input);
  if (!parsed.success) throw fromZod(parsed.error);
  const p = parsed.data;
  const id = await targetId(deps, 'sku', p.sku).catch(() => {
    throw errors.validation({ sku: 'error.sku_not_found' });
  });
  await transaction(deps.db, async (trx) => {
    const before = await trx('skus').where('id', id).first('cost', 'floor_price', 'ceiling_price');
    await trx('skus').where('id', id).update({ cost: p.cost, floor_price: p.floor, ceiling_price: p.ceiling, updated_at: deps.now() });
    await audit(deps, trx, { actorId: actor.id, action: 'sku.pricing', targetType: 'sku', targetId: p.sku, before, after: p, ip: actor.ip });
    // Under a markup template, a new cost means new prices.
    await repriceSkus(deps, trx, [id], actor);
  });
  invalidateCatalog(deps);
}

/** An admin puts a user on a level (up or down). */
export async function assignLevel(deps: Deps, input: { userId: number; level: string; actorId: number; ip?: string }): Promise<void> {
  const levelId = await levelByCode(deps, input.level);
  await transaction(deps.db, async (trx) => {
    const before = await trx('users').where('id', input.userId).first('level_id');
    if (!before) throw errors.notFound();
    await trx('users').where('id', input.userId).update({ level_id: levelId });
    await audit(deps, trx, { actorId: input.actorId, action: 'user.level', targetType: 'user', targetId: input.userId, before: { level: before.level_id }, after: { level: levelId }, ip: input.ip });
  });
  invalidatePricing(deps);
}

/**
 * A user buys a better level from its wallet. The journal id `upgrade:<user>:<level>` makes a
 * double click pay once; the level only moves up (guarded by the level the user had).
 */
export async function buyLevel(deps: Deps, user: User, code: string, ip?: string): Promise<Level> {
  const { levels, levelById, baseLevelId } = await pricingSnapshot(deps);
  const target = levels.find((l) => l.code === code);
  if (!target || target.upgradePrice === null) throw errors.validation({ level: 'error.level_not_for_sale' });
  await deps.hooks.check('before.agent.upgrade', { user });
  const paid = transaction(deps.db, async (trx) => {
    const row = await trx('users').where('id', user.id).first('level_id');
    const current = levelById.get(row.level_id ?? baseLevelId);
    if (current && current.rank >= target.rank) throw new ShopError('level_not_higher', 409, 'error.level_not_higher');
    const wallet = await walletAccountId(deps, trx, user.id);
    const revenue = await systemAccountId(deps, trx, SYSTEM_ACCOUNTS.revenue);
    const entries = [
      { accountId: wallet, amount: -target.upgradePrice! },
      { accountId: revenue, amount: target.upgradePrice! },
    ];
    await postJournal(deps, trx, [{ id: `upgrade:${user.id}:${target.id}`, kind: 'upgrade', memo: `level ${target.code}`, actorId: user.id, entries }], new Set([wallet]));
    const moved = await trx('users').where('id', user.id).andWhere((q) => (row.level_id === null ? q.whereNull('level_id') : q.where('level_id', row.level_id))).update({ level_id: target.id });
    if (affected(moved) !== 1) throw new ShopError('level_not_higher', 409, 'error.level_not_higher');
    await audit(deps, trx, { actorId: user.id, action: 'level.buy', targetType: 'user', targetId: user.id, before: { level: current?.code }, after: { level: target.code, paid: target.upgradePrice }, ip });
  });
  await paid.catch((err: unknown) => {
    // Bought once already (and since moved down by an admin): the level is not sold twice.
    throw isUniqueViolation(err) ? new ShopError('level_not_higher', 409, 'error.level_not_higher') : err;
  });
  invalidatePricing(deps);
  return target;
}
