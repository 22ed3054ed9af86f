import type { Knex } from 'knex';
import { audit } from '../audit/audit.js';
import type { Deps } from '../context.js';
import { transaction } from '../db/dialect.js';
import { errors, ShopError } from '../errors.js';
import { chainOf, invalidatePricing, pricingSnapshot } from '../pricing/pricing.js';
import { randomToken } from '../security/keys.js';
import { forgetUser, type User } from './users.js';
import { pageNumber } from '../db/paging.js';

/**
 * The agent tree: every user has at most one upline. A user joins below an agent by its invite
 * code (or by registering on its sub-shop); an admin may move anyone, never into a cycle.
 */

/** Anyone may become an agent (invite, mark up, open a sub-shop) unless a plugin's rule says no. */
export async function becomeAgent(deps: Deps, user: User, ip?: string): Promise<User> {
  if (user.role !== 'customer') return user;
  await deps.hooks.check('before.agent.upgrade', { user });
  await transaction(deps.db, async (trx) => {
    await trx('users').where({ id: user.id, role: 'customer' }).update({ role: 'agent', invite_code: await freeInviteCode(trx) });
    await audit(deps, trx, { actorId: user.id, action: 'agent.join', targetType: 'user', targetId: user.id, before: { role: 'customer' }, after: { role: 'agent' }, ip });
  });
  forgetUser(deps, user.id);
  return { ...user, role: 'agent' };
}

export const isAgent = (user: User | undefined): user is User => user?.role === 'agent' || user?.role === 'admin';

export function requireAgent(user: User | undefined): User {
  if (!user) throw errors.unauthorized();
  if (!isAgent(user)) throw new ShopError('not_agent', 403, 'error.not_agent');
  return user;
}

async function freeInviteCode(trx: Knex): Promise<string> {
  for (;;) {
    const code = randomToken(6).replace(/[^A-Za-z0-9]/g, '').slice(0, 8).toUpperCase();
    if (code.length >= 6 && !(await trx('users').where('invite_code', code).first('id'))) return code;
  }
}

/** An agent's invite code, made on first use (admins become agents by having one). */
export async function inviteCodeOf(deps: Deps, user: User): Promise<string> {
  requireAgent(user);
  const row = await deps.db.knex('users').where('id', user.id).first('invite_code');
  if (row?.invite_code) return row.invite_code;
  return transaction(deps.db, async (trx) => {
    const code = await freeInviteCode(trx);
    await trx('users').where('id', user.id).whereNull('invite_code').update({ invite_code: code });
    return (await trx('users').where('id', user.id).first('invite_code')).invite_code as string;
  });
}

/** The agent behind an invite code, if it is one and is active. */
export async function agentByInvite(deps: Deps, code: string): Promise<number | undefined> {
  if (!/^[A-Za-z0-9]{4,16}$/.test(code)) return undefined;
  const row = await deps.db.read('users').where({ invite_code: code.toUpperCase(), disabled: false }).whereIn('role', ['agent', 'admin']).first('id');
  return row ? Number(row.id) : undefined;
}

/**
 * Moves a user below another (or to the top with null), refusing a cycle. Moves are serialised
 * (a lock row on MySQL, the single writer on SQLite) so two moves cannot each pass the cycle
 * check and together close a loop.
 */
export async function moveUser(deps: Deps, input: { userId: number; uplineId: number | null; actorId: number; ip?: string }): Promise<void> {
  const { userId, uplineId } = input;
  if (uplineId === userId) throw new ShopError('tree_cycle', 400, 'error.tree_cycle', { upline: 'error.tree_cycle' });
  await transaction(deps.db, async (trx) => {
    await trx('settings').insert({ key: 'tree_lock', value: '1' }).onConflict('key').ignore();
    const lock = trx('settings').where('key', 'tree_lock').first('value');
    await (deps.db.dialect === 'mysql' ? lock.forUpdate() : lock);
    const user = await trx('users').where('id', userId).first('id', 'upline_id');
    if (!user) throw errors.notFound();
    if (uplineId !== null) {
      const upline = await trx('users').where('id', uplineId).first('id');
      if (!upline) throw errors.validation({ upline: 'error.not_found' });
      if ((await ancestors(trx, uplineId)).includes(userId)) throw new ShopError('tree_cycle', 400, 'error.tree_cycle', { upline: 'error.tree_cycle' });
    }
    await trx('users').where('id', userId).update({ upline_id: uplineId });
    await audit(deps, trx, { actorId: input.actorId, action: 'user.move', targetType: 'user', targetId: userId, before: { upline: user.upline_id }, after: { upline: uplineId }, ip: input.ip });
  });
  invalidatePricing(deps);
}

/** A user and its uplines' ids, read inside a transaction (bounded, like the price chain). */
async function ancestors(trx: Knex, userId: number): Promise<number[]> {
  const ids: number[] = [];
  for (let id: number | null = userId; id !== null && ids.length < 64; ) {
    ids.push(id);
    const row: { upline_id: number | null } | undefined = await trx('users').where('id', id).first('upline_id');
    id = row?.upline_id ?? null;
  }
  return ids;
}

export interface Member {
  id: number;
  email: string;
  level: string;
  joinedAt: number;
  /** Direct downline of this member. */
  members: number;
  /** Sales through this member (its own and its downline's), refunds excluded. */
  volume: number;
  /** What the viewing agent earned from those sales. */
  margin: number;
}

const maskEmail = (email: string) => email.replace(/^(.{1,2})[^@]*/, '$1***');

/**
 * One page of an agent's downline: the direct members of `parentId` (the agent itself by default,
 * or anyone in its downline), each with its level, size, volume and the agent's margin from it.
 * Three queries whatever the page's size.
 */
export async function downline(
  deps: Deps,
  agent: User,
  opts: { parentId?: number; page?: number; pageSize?: number } = {},
): Promise<{ parentId: number; members: Member[]; total: number; page: number; pageSize: number }> {
  const parentId = opts.parentId ?? agent.id;
  if (parentId !== agent.id && !(await chainOf(deps, parentId)).some((l) => l.userId === agent.id)) throw errors.notFound();
  const pageSize = Math.min(Math.max(opts.pageSize ?? 50, 1), 200);
  const page = pageNumber(opts.page);
  const knex = deps.db.read;
  const [rows, count, { levelById, baseLevelId }] = await Promise.all([
    knex('users').where('upline_id', parentId).orderBy('id').limit(pageSize).offset((page - 1) * pageSize).select('id', 'email', 'level_id', 'created_at'),
    knex('users').where('upline_id', parentId).count({ n: '*' }).first(),
    pricingSnapshot(deps),
  ]);
  const ids = rows.map((r: { id: number }) => Number(r.id));
  const [sizes, stats] = ids.length
    ? await Promise.all([
        knex('users').whereIn('upline_id', ids).groupBy('upline_id').select('upline_id').count({ n: '*' }),
        // Every sale through a member passes its upline (parentId): those rows carry the volume;
        // the viewing agent's own row of the same order carries its margin.
        knex('order_margins as a')
          .leftJoin('order_margins as b', (j) => j.on('b.order_id', 'a.order_id').andOnVal('b.agent_id', agent.id))
          .where('a.agent_id', parentId)
          .whereIn('a.via_user_id', ids)
          .whereNot('a.status', 'reversed')
          .groupBy('a.via_user_id')
          .select('a.via_user_id')
          .sum({ volume: 'a.sale' })
          .sum({ margin: knex.raw("CASE WHEN b.status = 'credited' THEN b.amount ELSE 0 END") }),
      ])
    : [[], []];
  const sizeOf = new Map(sizes.map((r: Record<string, unknown>) => [Number(r.upline_id), Number(r.n)]));
  const statOf = new Map(stats.map((r: Record<string, unknown>) => [Number(r.via_user_id), { volume: Number(r.volume ?? 0), margin: Number(r.margin ?? 0) }]));
  return {
    parentId,
    page,
    pageSize,
    total: Number(count?.n ?? 0),
    members: rows.map((r: Record<string, any>) => ({
      id: Number(r.id),
      email: maskEmail(r.email),
      level: levelById.get(r.level_id === null ? baseLevelId : Number(r.level_id))?.name ?? '',
      joinedAt: Number(r.created_at),
      members: sizeOf.get(Number(r.id)) ?? 0,
      volume: statOf.get(Number(r.id))?.volume ?? 0,
      margin: statOf.get(Number(r.id))?.margin ?? 0,
    })),
  };
}
