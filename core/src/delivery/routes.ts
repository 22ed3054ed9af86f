import { z } from 'zod';
import { audit } from '../audit/audit.js';
import type { Deps } from '../context.js';
import { transaction } from '../db/dialect.js';
import { errors } from '../errors.js';

/** Which suppliers fill a SKU, tried by priority (lower first) while enabled. */

export const routeSchema = z
  .object({
    supplier: z.string({ error: 'field.required' }).regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'field.invalid'),
    supplierSku: z.string({ error: 'field.required' }).trim().min(1, 'field.required').max(96, 'field.too_long'),
    priority: z.number({ error: 'field.integer' }).int('field.integer').min(0, 'field.min').max(1000, 'field.max').default(0),
    /** What the supplier charges a unit (minor units), until a sync tells better. */
    cost: z.number({ error: 'field.integer' }).int('field.integer').min(0, 'field.min').max(1e12, 'field.max').optional(),
    enabled: z.boolean().default(true),
  })
  .strict();

export interface RouteView {
  supplier: string;
  supplierSku: string;
  priority: number;
  cost: number | null;
  stock: number | null;
  enabled: boolean;
}

async function skuId(deps: Deps, code: string): Promise<number> {
  const row = await deps.db.knex('skus').where('code', code).first('id');
  if (!row) throw errors.notFound('error.sku_not_found');
  return Number(row.id);
}

/** Adds a supplier to a SKU's routes, or changes its route; an admin's change is audited with it. */
export async function setRoute(deps: Deps, sku: string, input: z.input<typeof routeSchema>, actor?: { id: number; ip?: string }): Promise<RouteView[]> {
  const r = routeSchema.parse(input);
  const id = await skuId(deps, sku);
  const now = deps.now();
  await transaction(deps.db, async (trx) => {
    const before = actor && (await trx('sku_suppliers').where({ sku_id: id, supplier: r.supplier }).first('supplier_sku', 'priority', 'cost', 'enabled'));
    await trx('sku_suppliers')
      .insert({ sku_id: id, supplier: r.supplier, supplier_sku: r.supplierSku, priority: r.priority, cost: r.cost ?? null, enabled: r.enabled, created_at: now, updated_at: now })
      .onConflict(['sku_id', 'supplier'])
      .merge(['supplier_sku', 'priority', 'enabled', 'updated_at', ...(r.cost === undefined ? [] : ['cost'])]);
    if (actor) await audit(deps, trx, { actorId: actor.id, action: 'sku.route', targetType: 'sku', targetId: sku, before: before ?? null, after: r, ip: actor.ip });
  });
  return listRoutes(deps, sku);
}

export async function listRoutes(deps: Deps, sku: string): Promise<RouteView[]> {
  const rows = await deps.db
    .knex('sku_suppliers')
    .where('sku_id', await skuId(deps, sku))
    .orderBy([{ column: 'priority' }, { column: 'id' }]);
  return rows.map((r: Record<string, unknown>) => ({
    supplier: String(r.supplier),
    supplierSku: String(r.supplier_sku),
    priority: Number(r.priority),
    cost: r.cost === null ? null : Number(r.cost),
    stock: r.stock === null ? null : Number(r.stock),
    enabled: Boolean(r.enabled),
  }));
}
