import type { Deps } from '../context.js';
import { isUniqueViolation, transaction } from '../db/dialect.js';
import { stockKeys } from '../inventory/keys.js';
import { postJournal, SYSTEM_ACCOUNTS, supplierAccountId, systemAccountId } from '../wallet/ledger.js';
import type { SupplierHealth } from './health.js';
import { enqueueJobs, type NewJob } from './jobs.js';
import type { SupplierConnector } from './supplier.js';
import type { JobHandler } from './worker.js';

/**
 * Restock: a card SKU at or below its low-stock level (`skus.low_stock`, set in the console) raises
 * `stock.low` once per dip and, when it has a restock target and a supplier route, gets a `restock`
 * job that buys the difference from the first enabled route and adds the keys to stock. The job's
 * ref is the SKU and its sold count, so one dip makes one purchase however often the check runs;
 * its reference at the supplier is fixed by the ref, so a retry asks before it buys again.
 */

interface RestockPayload {
  skuId: number;
  supplier: string;
  supplierSku: string;
  quantity: number;
}

/** Looks at every card SKU with a low-stock level; `alerted` remembers the dips already reported. */
export async function checkStock(deps: Deps, suppliers: ReadonlyMap<string, SupplierConnector>, alerted: Set<number>): Promise<number> {
  const low: Array<{ id: number; code: string; stock: number; low_stock: number; restock_target: number | null; sold: number }> = await deps.db
    .read('skus')
    .join('products', 'products.id', 'skus.product_id')
    .where('products.type', 'card')
    .whereNotNull('skus.low_stock')
    .andWhereRaw('skus.stock <= skus.low_stock')
    .select('skus.id', 'skus.code', 'skus.stock', 'skus.low_stock', 'skus.restock_target', 'skus.sold');
  const now = new Set(low.map((s) => Number(s.id)));
  for (const id of alerted) if (!now.has(id)) alerted.delete(id);
  const jobs: NewJob[] = [];
  for (const s of low) {
    const id = Number(s.id);
    if (!alerted.has(id)) {
      alerted.add(id);
      deps.hooks.emit('stock.low', { sku: s.code, stock: Number(s.stock), lowStock: Number(s.low_stock) });
    }
    const wanted = Number(s.restock_target ?? 0) - Number(s.stock);
    if (wanted <= 0) continue;
    const routes: Array<{ supplier: string; supplier_sku: string }> = await deps.db
      .read('sku_suppliers')
      .where({ sku_id: id, enabled: true })
      .orderBy([{ column: 'priority' }, { column: 'id' }])
      .select('supplier', 'supplier_sku');
    const route = routes.find((r) => suppliers.has(r.supplier));
    if (!route) continue;
    const payload: RestockPayload = { skuId: id, supplier: route.supplier, supplierSku: route.supplier_sku, quantity: wanted };
    jobs.push({ kind: 'restock', ref: `${id}:${s.sold}`, payload });
  }
  if (jobs.length) await transaction(deps.db, (trx) => enqueueJobs(deps, trx, jobs));
  return jobs.length;
}

export function restockHandler(deps: Deps, suppliers: ReadonlyMap<string, SupplierConnector>, health: SupplierHealth, baseUrl: () => string): JobHandler {
  const supplierFailed = async (p: RestockPayload, reason: string) => {
    const sku = await deps.db.read('skus').where('id', p.skuId).first('code');
    deps.hooks.emit('supplier.failed', { supplier: p.supplier, sku: sku?.code ?? String(p.skuId), order: null, reason });
  };
  return {
    /** Gave up (the supplier kept failing or timing out): the purchase did not happen. */
    dead: (job, error) => supplierFailed(job.payload as RestockPayload, error),
    async run(job, signal) {
      const p = job.payload as RestockPayload;
      const connector = suppliers.get(p.supplier);
      if (!connector) throw new Error(`supplier ${p.supplier} is not loaded`);
      const reference = `restock-${job.ref.replace(':', '-')}`;
      // Asked first: after a crash or a timeout the purchase may already be made.
      // Through the supplier's breaker; a supplier not called now is retried with backoff.
      let result = await health.call(p.supplier, () => connector.queryOrder({ reference, sku: p.supplierSku, signal }));
      if (result.status === 'unknown') {
        const callbackUrl = `${baseUrl().replace(/\/+$/, '')}/supplier/${p.supplier}/callback`;
        result = await health.call(p.supplier, () => connector.placeOrder({ reference, sku: p.supplierSku, quantity: p.quantity, fields: {}, callbackUrl, signal }));
      }
      if (result.status === 'pending') return { again: deps.now() + deps.config.delivery.supplierPollMs };
      if (result.status === 'failed') {
        if (result.retryable) throw new Error(`${p.supplier}: ${result.reason}`);
        deps.log.warn(`restock of sku ${p.skuId} from ${p.supplier} refused: ${result.reason}`);
        await supplierFailed(p, result.reason);
        return;
      }
      const keys = result.keys ?? [];
      try {
        const added = await transaction(deps.db, async (trx) => {
          const revenue = await systemAccountId(deps, trx, SYSTEM_ACCOUNTS.revenue);
          const paid = await supplierAccountId(deps, trx, p.supplier);
          // The journal id is the purchase's: a second run of the same answer adds nothing.
          const cost = result.cost ?? 0;
          const entries = [
            { accountId: revenue, amount: -cost },
            { accountId: paid, amount: cost },
          ];
          await postJournal(deps, trx, [{ id: `${reference}:cost`, kind: 'supplier_cost', memo: `${keys.length} keys from ${p.supplier}`, entries }], new Set());
          return stockKeys(deps, trx, p.skuId, keys);
        });
        deps.log.info(`restocked sku ${p.skuId} with ${added} keys from ${p.supplier}`);
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
      }
    },
  };
}
