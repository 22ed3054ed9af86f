import type { Deps } from '../context.js';
import { affected, transaction } from '../db/dialect.js';
import { claimKeys, pickKeys } from '../inventory/keys.js';
import { finishDelivery } from './deliver.js';
import { loadOrder } from './orders.js';

/**
 * Orders paid while their SKU had no keys, where the SKU backorders (`skus.oversell`): they wait in
 * `paid` and are delivered, oldest first, once keys are there. The oldest waits for enough keys
 * for itself; younger orders never jump it. Runs after a key import and in the minute job.
 */
export async function fillBackorders(deps: Deps, skuId?: number): Promise<number> {
  const skus: number[] = skuId
    ? [skuId]
    : (await deps.db.read('orders').where({ backorder: true, status: 'paid' }).distinct('sku_id')).map((r: { sku_id: number }) => Number(r.sku_id));
  let delivered = 0;
  for (const sku of skus) {
    for (;;) {
      const no = await transaction(deps.db, async (trx) => {
        const q = trx('orders').where({ sku_id: sku, backorder: true, status: 'paid' }).orderBy('id').first('id', 'no', 'sku_id', 'quantity');
        const row = await (deps.db.dialect === 'mysql' ? q.forUpdate() : q);
        if (!row) return null;
        const took = await trx('skus')
          .where('id', sku)
          .andWhere('stock', '>=', row.quantity)
          .update({ stock: trx.raw('stock - ?', [row.quantity]), sold: trx.raw('sold + ?', [row.quantity]) });
        if (affected(took) !== 1) return null;
        await claimKeys(deps, trx, sku, await pickKeys(deps, trx, sku, row.quantity), [{ orderId: row.id, quantity: row.quantity }]);
        await trx('orders').where('id', row.id).update({ backorder: false, reason: null });
        await finishDelivery(deps, trx, row, ['paid']);
        return row.no as string;
      });
      if (!no) break;
      delivered++;
      deps.hooks.emit('order.delivered', { order: await loadOrder(deps, no) });
    }
  }
  return delivered;
}
