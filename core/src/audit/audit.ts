import type { Knex } from 'knex';
import type { Deps } from '../context.js';

/**
 * The audit log: one row per admin action (and per action the shop takes on its own behalf, with
 * no actor), written in the caller's transaction so the record and the change commit together or
 * not at all.
 */
export interface AuditEntry {
  /** The user who acted; null or absent for the shop itself (a scheduled job). */
  actorId?: number | null;
  /** Dotted verb, e.g. `order.confirm`, `order.refund`, `payment.replay`, `wallet.adjust`. */
  action: string;
  targetType: string;
  targetId: string | number;
  /** What the target looked like before and after (small JSON-able objects, no secrets). */
  before?: unknown;
  after?: unknown;
  ip?: string | null;
}

export interface AuditRecord extends Required<Omit<AuditEntry, 'targetId'>> {
  id: number;
  targetId: string;
  createdAt: number;
}

const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));

export async function audit(deps: Deps, trx: Knex, entry: AuditEntry): Promise<void> {
  await trx('audit_log').insert({
    actor_id: entry.actorId ?? null,
    action: entry.action.slice(0, 64),
    target_type: entry.targetType.slice(0, 32),
    target_id: String(entry.targetId).slice(0, 64),
    before: json(entry.before),
    after: json(entry.after),
    ip: entry.ip?.slice(0, 64) ?? null,
    created_at: deps.now(),
  });
}

interface AuditRow {
  id: number | string;
  actor_id: number | null;
  action: string;
  target_type: string;
  target_id: string;
  before: string | null;
  after: string | null;
  ip: string | null;
  created_at: number | string;
}

/** Newest first; filter by target, actor or action (prefix `order.` matches every order action). */
export async function listAudit(
  deps: Deps,
  filter: { targetType?: string; targetId?: string | number; actorId?: number; action?: string; limit?: number; beforeId?: number } = {},
): Promise<AuditRecord[]> {
  const q = deps.db.read('audit_log').orderBy('id', 'desc').limit(Math.min(filter.limit ?? 50, 500));
  if (filter.targetType) q.where('target_type', filter.targetType);
  if (filter.targetId !== undefined) q.where('target_id', String(filter.targetId));
  if (filter.actorId !== undefined) q.where('actor_id', filter.actorId);
  if (filter.action) q.where('action', filter.action.endsWith('.') ? 'like' : '=', filter.action.endsWith('.') ? `${filter.action}%` : filter.action);
  if (filter.beforeId) q.where('id', '<', filter.beforeId);
  const rows: AuditRow[] = await q;
  return rows.map((r) => ({
    id: Number(r.id),
    actorId: r.actor_id,
    action: r.action,
    targetType: r.target_type,
    targetId: r.target_id,
    before: r.before === null ? null : JSON.parse(r.before),
    after: r.after === null ? null : JSON.parse(r.after),
    ip: r.ip,
    createdAt: Number(r.created_at),
  }));
}
