import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { invalidateCatalog } from '../catalog/snapshot.js';
import type { InputField } from '../catalog/fields.js';
import type { Deps } from '../context.js';
import { transaction } from '../db/dialect.js';
import { invalidatePricing } from '../pricing/pricing.js';
import { repriceSkus } from '../pricing/templates.js';
import type { CatalogImport, SupplierConnector, SupplierProduct } from './supplier.js';

/**
 * Imports a supplier's catalog (an upstream shop's, a supplier's price list) as local SKUs routed
 * to that supplier, and keeps them in step: each run brings cost, stock and names up to date and
 * sets the selling price from the cost by the import's markup, so a cost rise never sells at a
 * loss. SKUs the supplier no longer offers are taken off sale. Local products are `direct`: their
 * orders go to the supplier, which answers with keys (cards) or a receipt (top-ups).
 */

export interface SyncReport {
  supplier: string;
  created: number;
  updated: number;
  /** Taken off sale: the supplier no longer lists them. */
  disabled: number;
  /** Supplier SKUs whose local code is taken by a SKU of this shop's own. */
  skipped: string[];
}

/** cost × (1 + percent/100) + fixed, rounded up to a whole minor unit. */
export function markedUp(cost: number, rule: Pick<CatalogImport, 'markupPercent' | 'markupFixed'>): number {
  return Math.ceil((cost * (100 + rule.markupPercent)) / 100) + (rule.markupFixed ?? 0);
}

/** A slug from any name (Chinese ones included): its ASCII letters and digits, and a short hash so two names never meet. */
function slugOf(prefix: string, name: string): string {
  const ascii = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 30);
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 6);
  return [prefix, ascii, hash].filter(Boolean).join('-').slice(0, 64);
}

const toFields = (fields: SupplierProduct['fields']): InputField[] => fields ?? [];

async function upsertCategory(deps: Deps, trx: Knex, supplier: string, name: string): Promise<number> {
  const slug = slugOf(supplier, name);
  await trx('categories').insert({ slug, name: name.slice(0, 120), sort: 100, enabled: true, created_at: deps.now() }).onConflict('slug').ignore();
  return Number((await trx('categories').where('slug', slug).first('id')).id);
}

async function upsertProduct(deps: Deps, trx: Knex, supplier: string, categoryId: number, p: SupplierProduct): Promise<number> {
  const slug = slugOf(supplier, `${p.category ?? ''}/${p.product}`);
  const now = deps.now();
  const row = { category_id: categoryId, name: p.product.slice(0, 200), description: p.description ?? null, fields: JSON.stringify(toFields(p.fields)), updated_at: now };
  await trx('products')
    .insert({ ...row, slug, type: 'direct', sort: 100, enabled: true, created_at: now })
    .onConflict('slug')
    .merge(['name', 'description', 'fields', 'updated_at']);
  return Number((await trx('products').where('slug', slug).first('id')).id);
}

export async function syncSupplierCatalog(deps: Deps, connector: SupplierConnector, rule: CatalogImport): Promise<SyncReport> {
  if (!connector.listProducts) throw new Error(`supplier ${connector.id} cannot list its products`);
  const { products } = await connector.listProducts({});
  const wanted = products.filter((p) => !rule.categories?.length || rule.categories.includes(p.category ?? ''));
  const report: SyncReport = { supplier: connector.id, created: 0, updated: 0, disabled: 0, skipped: [] };
  const prefix = rule.skuPrefix ?? '';
  const now = deps.now();
  await transaction(deps.db, async (trx) => {
    const routes = new Map<string, { sku_id: number; supplier_sku: string }>(
      (await trx('sku_suppliers').where('supplier', connector.id).select('sku_id', 'supplier_sku')).map((r: { sku_id: number; supplier_sku: string }) => [r.supplier_sku, r]),
    );
    for (const p of wanted) {
      const price = markedUp(p.cost, rule);
      const figures = { name: p.name.slice(0, 120), price, cost: p.cost, min_quantity: p.minQuantity ?? 1, max_quantity: p.maxQuantity ?? null, updated_at: now };
      const route = routes.get(p.sku);
      if (route) {
        // A SKU under a markup template keeps the template's retail price (repriced below).
        await trx('skus')
          .where('id', route.sku_id)
          .update({ ...figures, price: trx.raw('CASE WHEN markup_template_id IS NULL THEN ? ELSE price END', [price]), enabled: true });
        report.updated++;
      } else {
        const code = `${prefix}${p.sku}`.slice(0, 64);
        if (await trx('skus').where('code', code).first('id')) {
          report.skipped.push(p.sku);
          continue;
        }
        const productId = await upsertProduct(deps, trx, connector.id, await upsertCategory(deps, trx, connector.id, p.category ?? connector.id), p);
        const [id] = await trx('skus').insert({ ...figures, product_id: productId, code, sort: 0, enabled: true, created_at: now });
        await trx('sku_suppliers').insert({ sku_id: Number(id), supplier: connector.id, supplier_sku: p.sku, priority: 0, enabled: true, created_at: now, updated_at: now });
        report.created++;
      }
      await trx('sku_suppliers').where({ supplier: connector.id, supplier_sku: p.sku }).update({ cost: p.cost, stock: p.stock, synced_at: now, updated_at: now });
    }
    // Costs just changed: SKUs under a markup template get their prices recomputed from them.
    await repriceSkus(deps, trx, wanted.flatMap((p) => (routes.has(p.sku) ? [routes.get(p.sku)!.sku_id] : [])), null);
    const offered = new Set(wanted.map((p) => p.sku));
    const gone = [...routes.values()].filter((r) => !offered.has(r.supplier_sku)).map((r) => r.sku_id);
    if (gone.length) report.disabled = Number(await trx('skus').whereIn('id', gone).andWhere('enabled', true).update({ enabled: false, updated_at: now }));
  });
  invalidateCatalog(deps);
  invalidatePricing(deps);
  return report;
}

/**
 * The suppliers' schedule, run by the shop's minute chore: catalogs are synced every
 * `catalog.syncMinutes`, and balances are checked every ten minutes; a low one is logged and
 * raises `supplier.balance_low` (an alerting plugin tells the operator).
 */
export function supplierChores(deps: Deps, suppliers: ReadonlyMap<string, SupplierConnector>) {
  const last = new Map<string, number>();
  const due = (what: string, minutes: number) => {
    const now = deps.now();
    if (minutes <= 0 || now - (last.get(what) ?? -Infinity) < minutes * 60_000) return false;
    last.set(what, now);
    return true;
  };
  return async () => {
    for (const c of suppliers.values()) {
      if (c.catalog && due(`sync:${c.id}`, c.catalog.syncMinutes ?? 10)) {
        const r = await syncSupplierCatalog(deps, c, c.catalog);
        deps.log.info(`supplier ${c.id}: catalog synced (${r.created} new, ${r.updated} updated, ${r.disabled} off sale${r.skipped.length ? `, ${r.skipped.length} codes taken locally` : ''})`);
      }
      if (c.balance && due(`balance:${c.id}`, 10)) {
        const b = await c.balance({});
        if (b.low) {
          deps.log.warn(`supplier ${c.id}: balance is low (${b.balance} ${b.currency})`);
          deps.hooks.emit('supplier.balance_low', { supplier: c.id, balance: b.balance, currency: b.currency });
        }
      }
    }
  };
}
