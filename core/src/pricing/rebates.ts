import { z } from 'zod';
import { audit } from '../audit/audit.js';
import type { Deps } from '../context.js';
import { isUniqueViolation, transaction } from '../db/dialect.js';
import { errors, fromZod } from '../errors.js';
import { postJournal, SYSTEM_ACCOUNTS, systemAccountId, walletAccountId } from '../wallet/ledger.js';
import { pricingSnapshot } from './pricing.js';
import { percentOf } from './resolver.js';

/**
 * Tiered rebates (阶梯返佣): each level has monthly volume brackets; an agent whose month's volume
 * (its own purchases plus its downline's) reaches a bracket gets that percent of the volume back.
 * Settling a month pays each agent once: the payout row is unique per (month, user) and the
 * journal id `rebate:<month>:<user>` is deterministic, so running it again pays nothing.
 *
 * Months are calendar months in the server's time zone.
 */

export const tierInput = z
  .object({
    level: z.string().max(32),
    minVolume: z.number({ error: 'field.integer' }).int('field.integer').min(0, 'field.min').max(1e13, 'field.max'),
    /** Basis points: 150 = 1.5 %. Absent or null removes the bracket. */
    percentBp: z.number({ error: 'field.integer' }).int('field.integer').min(1, 'field.min').max(5000, 'field.max').nullable().optional(),
  })
  .strict();

export async function setTier(deps: Deps, input: unknown, actor: { id: number; ip?: string }): Promise<void> {
  const parsed = tierInput.safeParse(input);
  if (!parsed.success) throw fromZod(parsed.error);
  const t = parsed.data;
  const level = await deps.db.knex('agent_levels').where('code', t.level).first('id');
  if (!level) throw errors.validation({ level: 'error.level_not_found' });
  const key = { level_id: level.id, min_volume: t.minVolume };
  await transaction(deps.db, async (trx) => {
    await trx('rebate_tiers').where(key).delete();
    if (t.percentBp) await trx('rebate_tiers').insert({ ...key, percent_bp: t.percentBp });
    await audit(deps, trx, { actorId: actor.id, action: 'rebate.tier', targetType: 'level', targetId: t.level, after: t, ip: actor.ip });
  });
}

export async function listTiers(deps: Deps) {
  const rows = await deps.db.read('rebate_tiers as t').join('agent_levels as l', 'l.id', 't.level_id').orderBy([{ column: 'l.rank' }, { column: 't.min_volume' }]).select('l.code as level', 't.min_volume', 't.percent_bp');
  return rows.map((r: Record<string, any>) => ({ level: r.level as string, minVolume: Number(r.min_volume), percentBp: Number(r.percent_bp) }));
}

export function monthRange(month: string): { from: number; to: number } {
  const m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(month);
  if (!m) throw errors.validation({ month: 'field.month' });
  const [y, mo] = [Number(m[1]), Number(m[2])];
  return { from: new Date(y, mo - 1, 1).getTime(), to: new Date(y, mo, 1).getTime() };
}

/** Each user's volume in a month: its own delivered purchases plus sales through it. */
export async function monthVolumes(deps: Deps, month: string): Promise<Map<number, number>> {
  const { from, to } = monthRange(month);
  const knex = deps.db.read;
  const inMonth = (q: any) => q.where('o.status', 'delivered').andWhere('o.delivered_at', '>=', from).andWhere('o.delivered_at', '<', to);
  const [own, through] = await Promise.all([
    inMonth(knex('orders as o').whereNotNull('o.user_id').whereNot('o.product_type', 'topup')).groupBy('o.user_id').select({ id: 'o.user_id' }).sum({ v: 'o.amount' }),
    inMonth(knex('order_margins as m').join('orders as o', 'o.id', 'm.order_id').where('m.status', 'credited')).groupBy('m.agent_id').select({ id: 'm.agent_id' }).sum({ v: 'm.sale' }),
  ]);
  const volumes = new Map<number, number>();
  for (const r of [...own, ...through] as Array<{ id: number; v: unknown }>) volumes.set(Number(r.id), (volumes.get(Number(r.id)) ?? 0) + Number(r.v));
  return volumes;
}

export interface Settlement {
  month: string;
  paid: number;
  /** Already paid by an earlier run. */
  skipped: number;
  total: number;
}

/**
 * Pays a month's rebates. Each agent is paid in its own transaction, so a crash half-way loses
 * nothing and a rerun pays only those not yet paid. `onProgress` reports (done, of).
 */
export async function settleRebates(deps: Deps, month: string, onProgress?: (done: number, of: number) => void): Promise<Settlement> {
  const { to } = monthRange(month);
  if (to > deps.now()) throw errors.validation({ month: 'error.month_not_over' });
  const [volumes, tiers, { levelById, baseLevelId }] = await Promise.all([monthVolumes(deps, month), listTiers(deps), pricingSnapshot(deps)]);
  const levelOf = new Map<number, number | null>();
  const ids = [...volumes.keys()];
  for (let i = 0; i < ids.length; i += 500) {
    for (const r of await deps.db.read('users').whereIn('id', ids.slice(i, i + 500)).select('id', 'level_id')) levelOf.set(Number(r.id), r.level_id);
  }
  const due = ids.flatMap((userId) => {
    const level = levelById.get(levelOf.get(userId) ?? baseLevelId);
    const volume = volumes.get(userId)!;
    const tier = tiers.filter((t) => t.level === level?.code && t.minVolume <= volume).pop();
    const amount = tier ? percentOf(volume, tier.percentBp) : 0;
    return amount > 0 ? [{ userId, volume, percentBp: tier!.percentBp, amount }] : [];
  });
  let paid = 0;
  let total = 0;
  for (const [i, d] of due.entries()) {
    try {
      await transaction(deps.db, async (trx) => {
        const now = deps.now();
        await trx('rebate_payouts').insert({ month, user_id: d.userId, volume: d.volume, percent_bp: d.percentBp, amount: d.amount, created_at: now });
        const entries = [
          { accountId: await systemAccountId(deps, trx, SYSTEM_ACCOUNTS.rebates), amount: -d.amount },
          { accountId: await walletAccountId(deps, trx, d.userId), amount: d.amount },
        ];
        await postJournal(deps, trx, [{ id: `rebate:${month}:${d.userId}`, kind: 'rebate', memo: `rebate ${month}`, entries }], new Set());
      });
      paid++;
      total += d.amount;
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
    onProgress?.(i + 1, due.length);
  }
  return { month, paid, skipped: due.length - paid, total };
}

/** An agent's rebate payouts, newest first. */
export async function rebatesOf(deps: Deps, userId: number) {
  const rows = await deps.db.read('rebate_payouts').where('user_id', userId).orderBy('month', 'desc').limit(36);
  return rows.map((r: Record<string, any>) => ({ month: r.month as string, volume: Number(r.volume), percentBp: Number(r.percent_bp), amount: Number(r.amount) }));
}

/** What an agent earned: margins by status and the latest credited ones. */
export async function earningsOf(deps: Deps, agentId: number, opts: { limit?: number } = {}) {
  const knex = deps.db.read;
  const [totals, recent, rebates] = await Promise.all([
    knex('order_margins').where('agent_id', agentId).groupBy('status').select('status').sum({ amount: 'amount' }),
    knex('order_margins as m')
      .join('orders as o', 'o.id', 'm.order_id')
      .where('m.agent_id', agentId)
      .orderBy('m.id', 'desc')
      .limit(Math.min(opts.limit ?? 50, 200))
      .select('o.no', 'o.title', 'o.quantity', 'm.sale', 'm.amount', 'm.status', 'm.created_at'),
    rebatesOf(deps, agentId),
  ]);
  const by = new Map(totals.map((r: Record<string, any>) => [r.status as string, Number(r.amount)]));
  return {
    credited: by.get('credited') ?? 0,
    pending: by.get('pending') ?? 0,
    reversed: by.get('reversed') ?? 0,
    margins: recent.map((r: Record<string, any>) => ({ no: r.no as string, title: r.title as string, quantity: Number(r.quantity), sale: Number(r.sale), amount: Number(r.amount), status: r.status as string, createdAt: Number(r.created_at) })),
    rebates,
  };
}
