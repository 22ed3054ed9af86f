import { z } from 'zod';
import { audit } from '../audit/audit.js';
import { requireAgent } from '../agents/tree.js';
import type { User } from '../agents/users.js';
import { findSku, getCategory } from '../catalog/snapshot.js';
import type { Deps } from '../context.js';
import { transaction } from '../db/dialect.js';
import { fromZod, ShopError, type FieldErrors } from '../errors.js';
import { chainOf, invalidatePricing, markupKey, pricingSnapshot } from './pricing.js';
import { percentOf, resolvePrice } from './resolver.js';

/**
 * An agent's markups for its downline and its sub-shop's customers. `PUT` semantics: the list
 * given replaces the agent's markups, all or nothing.
 */

const MAX_PERCENT_BP = 100_000; // 1000 %
const MAX_FIXED = 100_000_000; // ¥1,000,000 on one unit

export const markupInput = z
  .object({
    scope: z.enum(['all', 'category', 'sku'], { error: 'field.invalid' }),
    /** A category slug or a SKU code; absent for scope `all`. */
    target: z.string().max(64, 'field.too_long').optional(),
    /** A level code; absent for any level. */
    level: z.string().max(32, 'field.too_long').optional(),
    kind: z.enum(['fixed', 'percent'], { error: 'field.invalid' }),
    /** Minor units (fixed) or basis points (percent: 500 = 5 %). */
    value: z.number({ error: 'field.integer' }).int('field.integer'),
  })
  .strict();

export const markupsInput = z.object({ markups: z.array(markupInput).max(500, 'field.max') }).strict();

export type MarkupInput = z.input<typeof markupInput>;

export interface MarkupView extends Required<Omit<MarkupInput, 'target' | 'level'>> {
  target: string | null;
  level: string | null;
}

export async function listMarkups(deps: Deps, agentId: number): Promise<MarkupView[]> {
  const rows = await deps.db
    .read('agent_markups as m')
    .leftJoin('agent_levels as l', 'l.id', 'm.level_id')
    .leftJoin('categories as c', (j) => j.on('c.id', 'm.scope_id').andOnVal('m.scope', 'category'))
    .leftJoin('skus as s', (j) => j.on('s.id', 'm.scope_id').andOnVal('m.scope', 'sku'))
    .where('m.agent_id', agentId)
    .orderBy('m.id')
    .select('m.scope', 'm.kind', 'm.value', 'l.code as level', 'c.slug as category', 's.code as sku');
  return rows.map((r: Record<string, any>) => ({
    scope: r.scope,
    target: r.scope === 'category' ? r.category : r.scope === 'sku' ? r.sku : null,
    level: r.level ?? null,
    kind: r.kind,
    value: Number(r.value),
  }));
}

/**
 * Replaces an agent's markups. Refused as a whole, naming each bad entry's field: a negative markup
 * (it would sell below the agent's own price), an absurd one, an unknown target or level, or a
 * SKU markup that would cross the SKU's ceiling at the agent's price.
 */
export async function setMarkups(deps: Deps, user: User, input: unknown, ip?: string): Promise<MarkupView[]> {
  const agent = requireAgent(user);
  const parsed = markupsInput.safeParse(input);
  if (!parsed.success) throw fromZod(parsed.error);
  const tables = await pricingSnapshot(deps);
  const chain = await chainOf(deps, agent.id);
  const levelByCode = new Map(tables.levels.map((l) => [l.code, l]));
  const fieldErrors: FieldErrors = {};
  const rows: Array<Record<string, unknown>> = [];
  const seen = new Set<string>();
  const now = deps.now();
  for (const [i, m] of parsed.data.markups.entries()) {
    const at = (f: string) => `markups.${i}.${f}`;
    const level = m.level === undefined ? null : levelByCode.get(m.level);
    if (level === undefined) fieldErrors[at('level')] = 'error.level_not_found';
    let scopeId = 0;
    if (m.scope !== 'all') {
      const target = m.target ?? '';
      const found = await (m.scope === 'sku' ? findSku(deps, target).then((f) => f.sku.id) : getCategory(deps, target).then((c) => c.id)).catch(() => undefined);
      if (found === undefined) fieldErrors[at('target')] = 'error.not_found';
      else scopeId = found;
    }
    if (m.value < 0) fieldErrors[at('value')] = 'error.markup_below_price';
    else if (m.value > (m.kind === 'percent' ? MAX_PERCENT_BP : MAX_FIXED)) fieldErrors[at('value')] = 'field.max';
    else if (m.scope === 'sku' && scopeId) {
      const sku = tables.skus.get(scopeId);
      const own = sku && resolvePrice(tables, sku, chain).price;
      const asked = own === undefined ? 0 : own + (m.kind === 'fixed' ? m.value : percentOf(own, m.value));
      if (sku?.ceiling != null && asked > sku.ceiling) fieldErrors[at('value')] = 'error.markup_above_ceiling';
    }
    const key = markupKey(m.scope, scopeId, level?.id ?? null);
    if (seen.has(key)) fieldErrors[at('scope')] = 'error.markup_duplicate';
    seen.add(key);
    rows.push({ agent_id: agent.id, level_id: level?.id ?? null, level_key: level?.id ?? 0, scope: m.scope, scope_id: scopeId, kind: m.kind, value: m.value, updated_at: now });
  }
  if (Object.keys(fieldErrors).length) throw new ShopError('validation_failed', 400, 'error.validation_failed', fieldErrors);
  const before = await listMarkups(deps, agent.id);
  await transaction(deps.db, async (trx) => {
    await trx('agent_markups').where('agent_id', agent.id).delete();
    if (rows.length) await trx.batchInsert('agent_markups', rows, 200);
    await audit(deps, trx, { actorId: agent.id, action: 'agent.markups', targetType: 'user', targetId: agent.id, before, after: parsed.data.markups, ip });
  });
  invalidatePricing(deps);
  return listMarkups(deps, agent.id);
}
