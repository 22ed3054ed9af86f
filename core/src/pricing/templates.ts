import type { Knex } from 'knex';
import { z } from 'zod';
import { audit } from '../audit/audit.js';
import { invalidateCatalog } from '../catalog/snapshot.js';
import type { Deps } from '../context.js';
import { caseById, isUniqueViolation, transaction } from '../db/dialect.js';
import { errors, fromZod, ShopError, type FieldErrors } from '../errors.js';
import { pricingSnapshot } from './pricing.js';
import { levelPrice, percentOf, type PriceRule, type PricingTables } from './resolver.js';

/**
 * Markup templates (加价模板): a price for each level, and optionally the retail price, from a
 * SKU's cost (cost + percent, or cost + amount), rounded by a rule (to 0.1 yuan, to .9 endings;
 * up, down or nearest). Templates add no pricing path of their own: a SKU under a template gets
 * ordinary per-level `fixed` overrides in `price_overrides` (marked with the template's id) and,
 * if the template says so, its retail price, so the resolver, floors and ceilings work as for any
 * SKU. They are recomputed whenever the SKU's cost changes (the console, a supplier's catalog
 * sync) and when the template changes. An override set by hand has no template id and is never
 * touched: the operator's word beats the template's.
 */

export const ROUND_STEPS = [1, 10, 100, 1000] as const;
export const ROUND_MODES = ['up', 'down', 'nearest'] as const;

const MAX_PERCENT_BP = 100_000; // 1000 %
const MAX_FIXED = 100_000_000; // ¥1,000,000

const markupRule = z
  .object({
    kind: z.enum(['percent', 'fixed'], { error: 'field.invalid' }),
    /** Basis points over cost (1500 = 15 %) or minor units over cost. */
    value: z.number({ error: 'field.integer' }).int('field.integer').min(0, 'field.min'),
  })
  .strict()
  .refine((r) => r.value <= (r.kind === 'percent' ? MAX_PERCENT_BP : MAX_FIXED), { path: ['value'], message: 'field.max' });
export type MarkupRule = z.output<typeof markupRule>;

const rounding = z
  .object({
    /** Prices are a multiple of `step` (fen) plus `ending`: step 10 rounds to 0.1 yuan; step 100 with ending 90 gives 9.90, 19.90. */
    step: z.number({ error: 'field.invalid' }).refine((n) => (ROUND_STEPS as readonly number[]).includes(n), 'field.invalid'),
    ending: z.number({ error: 'field.integer' }).int('field.integer').min(0, 'field.min').default(0),
    mode: z.enum(ROUND_MODES, { error: 'field.invalid' }).default('up'),
  })
  .strict()
  .refine((r) => r.ending < r.step, { path: ['ending'], message: 'error.ending_not_below_step' });
export type Rounding = z.output<typeof rounding>;

export const templateInput = z
  .object({
    name: z.string({ error: 'field.required' }).trim().min(1, 'field.required').max(80, 'field.too_long'),
    retail: markupRule.nullable().default(null),
    /** By level code. */
    levels: z.record(z.string().max(32), markupRule).default({}),
    rounding: rounding.default({ step: 1, ending: 0, mode: 'up' }),
  })
  .strict()
  .refine((t) => t.retail !== null || Object.keys(t.levels).length > 0, { path: ['levels'], message: 'error.template_no_rules' });
export type TemplateInput = z.input<typeof templateInput>;
export type TemplateRules = z.output<typeof templateInput>;

export interface MarkupTemplate extends TemplateRules {
  id: number;
  /** SKUs under it now. */
  skus: number;
  updatedAt: number;
}

/** `raw` as k × step + ending (k ≥ 0), k chosen by the mode; integer arithmetic only. */
export function roundPrice(raw: number, r: Rounding): number {
  const over = raw - r.ending;
  const k = r.mode === 'up' ? Math.ceil(over / r.step) : r.mode === 'down' ? Math.floor(over / r.step) : Math.floor((2 * over + r.step) / (2 * r.step));
  return Math.max(k, 0) * r.step + r.ending;
}

/** The template's price over `cost`, rounded; never below the cost, whatever the rounding's direction. */
export function templatePrice(cost: number, rule: MarkupRule, r: Rounding): number {
  const raw = rule.kind === 'fixed' ? cost + rule.value : cost + percentOf(cost, rule.value);
  const price = roundPrice(raw, r);
  return price >= cost ? price : roundPrice(cost, { ...r, mode: 'up' });
}

const parseRules = (row: Record<string, any>): TemplateRules => {
  const rules = JSON.parse(row.rules) as Pick<TemplateRules, 'retail' | 'levels'>;
  return { name: row.name, retail: rules.retail ?? null, levels: rules.levels ?? {}, rounding: { step: Number(row.round_step), ending: Number(row.round_ending), mode: row.round_mode } };
};

function parseTemplate(input: unknown, levelCodes: ReadonlySet<string>): TemplateRules {
  const parsed = templateInput.safeParse(input);
  if (!parsed.success) throw fromZod(parsed.error);
  const unknown: FieldErrors = {};
  for (const code of Object.keys(parsed.data.levels)) if (!levelCodes.has(code)) unknown[`levels.${code}`] = 'error.level_not_found';
  if (Object.keys(unknown).length) throw errors.validation(unknown);
  return parsed.data;
}

export async function listTemplates(deps: Deps): Promise<MarkupTemplate[]> {
  const [rows, counts] = await Promise.all([
    deps.db.read('markup_templates').orderBy('name').select(),
    deps.db.read('skus').whereNotNull('markup_template_id').groupBy('markup_template_id').select('markup_template_id').count({ n: '*' }),
  ]);
  const skus = new Map(counts.map((c: Record<string, any>) => [Number(c.markup_template_id), Number(c.n)]));
  return rows.map((r: Record<string, any>) => ({ id: Number(r.id), ...parseRules(r), skus: skus.get(Number(r.id)) ?? 0, updatedAt: Number(r.updated_at) }));
}

export async function getTemplate(deps: Deps, id: number): Promise<MarkupTemplate> {
  const found = (await listTemplates(deps)).find((t) => t.id === id);
  if (!found) throw errors.notFound();
  return found;
}

type Actor = { id: number; ip?: string } | null;

interface SkuRow {
  id: number;
  code: string;
  cost: number | null;
  price: number;
  template: number | null;
}

const skuRows = async (trx: Knex, q: Knex.QueryBuilder): Promise<SkuRow[]> =>
  (await q.select('skus.id', 'skus.code', 'skus.cost', 'skus.price', 'skus.markup_template_id')).map((r: Record<string, any>) => ({
    id: Number(r.id),
    code: String(r.code),
    cost: r.cost === null ? null : Number(r.cost),
    price: Number(r.price),
    template: r.markup_template_id === null ? null : Number(r.markup_template_id),
  }));

/** What a template makes of one SKU: its retail price (null: unchanged) and its price per level id. */
function pricesOf(rules: TemplateRules, cost: number | null, levelIds: ReadonlyMap<string, number>) {
  const levels = new Map<number, number>();
  if (cost === null) return { retail: null, levels };
  for (const [code, rule] of Object.entries(rules.levels)) {
    const id = levelIds.get(code);
    if (id !== undefined) levels.set(id, templatePrice(cost, rule, rules.rounding));
  }
  return { retail: rules.retail ? templatePrice(cost, rules.retail, rules.rounding) : null, levels };
}

/**
 * Brings the template-made prices of these SKUs up to date with their cost and template, in the
 * caller's transaction: writes only what differs, audits each SKU it changes (actor null: the
 * shop itself, as in a catalog sync). A SKU without a cost keeps no template overrides (its level
 * rules apply). The caller reloads the catalog and prices after its commit.
 */
export async function repriceSkus(deps: Deps, trx: Knex, skuIds: number[], actor: Actor): Promise<Array<{ code: string; before: Record<string, number>; after: Record<string, number> }>> {
  const ids = [...new Set(skuIds)];
  const changes: Array<{ code: string; before: Record<string, number>; after: Record<string, number> }> = [];
  if (!ids.length) return changes;
  const [levels, templateRows] = await Promise.all([trx('agent_levels').select('id', 'code'), trx('markup_templates').select()]);
  const levelIds = new Map<string, number>(levels.map((l: Record<string, any>) => [String(l.code), Number(l.id)]));
  const levelCodes = new Map<number, string>(levels.map((l: Record<string, any>) => [Number(l.id), String(l.code)]));
  const templates = new Map<number, TemplateRules>(templateRows.map((r: Record<string, any>) => [Number(r.id), parseRules(r)]));
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    const [skus, overrides] = await Promise.all([
      skuRows(trx, trx('skus').whereIn('id', chunk)),
      trx('price_overrides').where('scope', 'sku').whereIn('scope_id', chunk).select('id', 'level_id', 'scope_id', 'rule_value', 'template_id'),
    ]);
    const existing = new Map<string, { id: number; value: number; manual: boolean }>(
      overrides.map((o: Record<string, any>) => [`${o.level_id}:${o.scope_id}`, { id: Number(o.id), value: Number(o.rule_value), manual: o.template_id === null }]),
    );
    const drop: number[] = [];
    const add: Array<Record<string, unknown>> = [];
    const retail: Array<[number, number]> = [];
    for (const sku of skus) {
      const rules = sku.template === null ? undefined : templates.get(sku.template);
      const wanted = rules ? pricesOf(rules, sku.cost, levelIds) : { retail: null, levels: new Map<number, number>() };
      const before: Record<string, number> = {};
      const after: Record<string, number> = {};
      for (const [levelId, code] of levelCodes) {
        const have = existing.get(`${levelId}:${sku.id}`);
        if (have?.manual) continue;
        const want = wanted.levels.get(levelId);
        if (have?.value === want) continue;
        if (have) {
          drop.push(have.id);
          before[code] = have.value;
        }
        if (want !== undefined) {
          add.push({ level_id: levelId, scope: 'sku', scope_id: sku.id, rule_kind: 'fixed', rule_value: want, template_id: sku.template });
          after[code] = want;
        }
      }
      if (wanted.retail !== null && wanted.retail !== sku.price) {
        retail.push([sku.id, wanted.retail]);
        before.retail = sku.price;
        after.retail = wanted.retail;
      }
      if (Object.keys(before).length || Object.keys(after).length) changes.push({ code: sku.code, before, after });
    }
    if (drop.length) await trx('price_overrides').whereIn('id', drop).delete();
    if (add.length) await trx.batchInsert('price_overrides', add, 200);
    if (retail.length) await trx('skus').whereIn('id', retail.map(([id]) => id)).update({ price: caseById(trx, retail), updated_at: deps.now() });
  }
  for (const c of changes) {
    await audit(deps, trx, { actorId: actor?.id ?? null, action: 'sku.template_price', targetType: 'sku', targetId: c.code, before: c.before, after: c.after, ip: actor?.ip });
  }
  return changes;
}

/** SKUs of a category (by id or slug), for previewing and applying. */
async function categorySkus(trx: Knex, category: string | number): Promise<{ id: number; name: string; skus: number[] }> {
  const row = await trx('categories').where(typeof category === 'number' ? 'id' : 'slug', category).whereNot('slug', '_system').first('id', 'name');
  if (!row) throw errors.validation({ category: 'error.not_found' });
  const skus = await trx('skus').join('products', 'products.id', 'skus.product_id').where('products.category_id', row.id).orderBy([{ column: 'products.sort' }, { column: 'skus.sort' }, { column: 'skus.id' }]).select('skus.id');
  return { id: Number(row.id), name: String(row.name), skus: skus.map((s: { id: number }) => Number(s.id)) };
}

export interface PreviewRow {
  code: string;
  cost: number | null;
  /** Per level code: the price now and after applying (floors and ceilings counted), as the resolver gives them. */
  levels: Array<{ level: string; name: string; now: number; then: number }>;
  retail: { now: number; then: number };
}

/** What each SKU of a category would cost per level under a template (saved or not), before anything is written. */
export async function previewTemplate(deps: Deps, input: unknown, category: string | number): Promise<{ category: string; rows: PreviewRow[] }> {
  const tables = await pricingSnapshot(deps);
  const rules = parseTemplate(input, new Set(tables.levels.map((l) => l.code)));
  const levelIds = new Map(tables.levels.map((l) => [l.code, l.id]));
  const { name, skus } = await categorySkus(deps.db.read, category);
  const manual = new Set<string>();
  for (let i = 0; i < skus.length; i += 500) {
    const rows = await deps.db.read('price_overrides').where('scope', 'sku').whereNull('template_id').whereIn('scope_id', skus.slice(i, i + 500)).select('level_id', 'scope_id');
    for (const r of rows as Array<Record<string, any>>) manual.add(`${r.level_id}:${r.scope_id}`);
  }
  const codes = new Map<number, string>();
  for (let i = 0; i < skus.length; i += 500) {
    for (const r of await deps.db.read('skus').whereIn('id', skus.slice(i, i + 500)).select('id', 'code')) codes.set(Number(r.id), String(r.code));
  }
  const rows: PreviewRow[] = [];
  for (const id of skus) {
    const sku = tables.skus.get(id);
    if (!sku) continue;
    const wanted = pricesOf(rules, sku.cost, levelIds);
    // The same tables with this SKU's template overrides swapped in: the resolver then says what it would charge.
    const overrides = new Map<string, PriceRule>(tables.overrides);
    for (const l of tables.levels) {
      const key = `${l.id}:sku:${id}`;
      if (manual.has(`${l.id}:${id}`)) continue;
      const want = wanted.levels.get(l.id);
      if (want === undefined) overrides.delete(key);
      else overrides.set(key, { kind: 'fixed', value: want });
    }
    const then: PricingTables = { rules: tables.rules, overrides };
    const next = { ...sku, retail: wanted.retail ?? sku.retail };
    rows.push({
      code: codes.get(id) ?? String(id),
      cost: sku.cost,
      levels: tables.levels.map((l) => ({ level: l.code, name: l.name, now: levelPrice(tables, sku, l.id), then: levelPrice(then, next, l.id) })),
      retail: { now: sku.retail, then: next.retail },
    });
  }
  return { category: name, rows };
}

async function levelCodes(deps: Deps): Promise<Set<string>> {
  return new Set((await deps.db.read('agent_levels').select('code')).map((l: { code: string }) => l.code));
}

/** Creates a template (id null) or changes one; a change reprices every SKU under it at once. */
export async function saveTemplate(deps: Deps, id: number | null, input: unknown, actor: NonNullable<Actor>): Promise<MarkupTemplate> {
  const t = parseTemplate(input, await levelCodes(deps));
  const row = { name: t.name, rules: JSON.stringify({ retail: t.retail, levels: t.levels }), round_step: t.rounding.step, round_ending: t.rounding.ending, round_mode: t.rounding.mode, updated_at: deps.now() };
  try {
    const saved = await transaction(deps.db, async (trx) => {
      if (id === null) {
        const [newId] = await trx('markup_templates').insert({ ...row, created_at: deps.now() });
        await audit(deps, trx, { actorId: actor.id, action: 'template.create', targetType: 'template', targetId: Number(newId), after: t, ip: actor.ip });
        return Number(newId);
      }
      const before = await trx('markup_templates').where('id', id).first();
      if (!before) throw errors.notFound();
      await trx('markup_templates').where('id', id).update(row);
      await audit(deps, trx, { actorId: actor.id, action: 'template.update', targetType: 'template', targetId: id, before: parseRules(before), after: t, ip: actor.ip });
      const under = await trx('skus').where('markup_template_id', id).select('id');
      await repriceSkus(deps, trx, under.map((s: { id: number }) => Number(s.id)), actor);
      return id;
    });
    invalidateCatalog(deps);
    return getTemplate(deps, saved);
  } catch (err) {
    if (isUniqueViolation(err)) throw errors.validation({ name: 'field.taken' });
    throw err;
  }
}

/**
 * Puts SKUs under a template (a whole category, or SKUs by code) and prices them by it now, in
 * one transaction with an audit row per SKU repriced. SKUs under another template move to this one.
 */
export async function applyTemplate(deps: Deps, id: number, target: { category?: string | number; skus?: string[] }, actor: NonNullable<Actor>) {
  return finish(
    deps,
    transaction(deps.db, async (trx) => {
      if (!(await trx('markup_templates').where('id', id).first('id'))) throw errors.notFound();
      const ids = await targetSkus(trx, target);
      const lock = trx('skus').whereIn('id', ids.slice(0, 5000));
      // On MySQL the SKUs are locked, so a catalog sync changing their cost now waits and then reprices them itself.
      await (deps.db.dialect === 'mysql' ? lock.forUpdate().select('id') : lock.select('id'));
      for (let i = 0; i < ids.length; i += 500) await trx('skus').whereIn('id', ids.slice(i, i + 500)).update({ markup_template_id: id, updated_at: deps.now() });
      return repriceSkus(deps, trx, ids, actor);
    }),
  );
}

/** Takes SKUs out of their template: its overrides go, their level rules price them again. */
export async function detachSkus(deps: Deps, codes: string[], actor: NonNullable<Actor>) {
  return finish(
    deps,
    transaction(deps.db, async (trx) => {
      const ids = await targetSkus(trx, { skus: codes });
      for (let i = 0; i < ids.length; i += 500) await trx('skus').whereIn('id', ids.slice(i, i + 500)).update({ markup_template_id: null, updated_at: deps.now() });
      return repriceSkus(deps, trx, ids, actor);
    }),
  );
}

/** Deletes a template; its SKUs are priced by their level rules again. */
export async function deleteTemplate(deps: Deps, id: number, actor: NonNullable<Actor>): Promise<void> {
  await finish(
    deps,
    transaction(deps.db, async (trx) => {
      const before = await trx('markup_templates').where('id', id).first();
      if (!before) throw errors.notFound();
      const ids = (await trx('skus').where('markup_template_id', id).select('id')).map((s: { id: number }) => Number(s.id));
      for (let i = 0; i < ids.length; i += 500) await trx('skus').whereIn('id', ids.slice(i, i + 500)).update({ markup_template_id: null });
      const changes = await repriceSkus(deps, trx, ids, actor);
      await trx('markup_templates').where('id', id).delete();
      await audit(deps, trx, { actorId: actor.id, action: 'template.delete', targetType: 'template', targetId: id, before: parseRules(before), ip: actor.ip });
      return changes;
    }),
  );
}

async function targetSkus(trx: Knex, target: { category?: string | number; skus?: string[] }): Promise<number[]> {
  if (target.category !== undefined && target.category !== '') return (await categorySkus(trx, target.category)).skus;
  const codes = [...new Set((target.skus ?? []).filter((c) => typeof c === 'string'))];
  if (!codes.length) throw errors.validation({ category: 'field.required' });
  if (codes.length > 5000) throw errors.validation({ skus: 'field.too_long' });
  const rows = await trx('skus').whereIn('code', codes).select('id');
  if (rows.length !== codes.length) throw new ShopError('validation_failed', 400, 'error.validation_failed', { skus: 'error.sku_not_found' });
  return rows.map((r: { id: number }) => Number(r.id));
}

async function finish<T>(deps: Deps, work: Promise<T>): Promise<T> {
  const result = await work;
  invalidateCatalog(deps);
  return result;
}
