import { definePlugin, setRoute, stockOf, verifyLedger } from '@cardshop/core';
import { createDummySupplier, startTestShop, TEST_DIALECTS, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku } from './fixtures.js';

describe.each(TEST_DIALECTS)('restocking a card SKU from its supplier (%s)', (dialect) => {
  const supplier = createDummySupplier('keys-sup');
  const alerts: Array<{ sku: string; stock: number; lowStock: number }> = [];
  const alerting = definePlugin({ name: 'alerts', version: '1.0.0', core: '>=0.1.0', setup: (ctx) => ctx.on('stock.low', (e) => void alerts.push(e)) });
  let t: TestShop;

  beforeAll(async () => {
    t = await startTestShop({ dialect, config: { plugins: [supplier.plugin, alerting()], delivery: { backoffMs: 0, maxAttempts: 3 } } });
  });
  afterAll(() => t?.close());

  it('raises stock.low once per dip and buys up to the restock target, once', async () => {
    const { code } = await cardSku(t.shop, { keys: 3, price: 500 });
    await t.shop.db.knex('skus').where('code', code).update({ low_stock: 1, restock_target: 6 });
    await setRoute(t.shop, code, { supplier: 'keys-sup', supplierSku: 'UPSTREAM-KEY' });
    supplier.cost = 300;
    const buyer = await t.createUser({ balance: 10_000 });
    const client = await t.client().login(buyer.email, buyer.password);
    expect((await client.post('/api/store/checkout', { sku: code, quantity: 2, payment: 'wallet' })).status).toBe(201);

    // The check may run many times (every minute, in every app process): one alert, one purchase.
    expect(await t.shop.delivery.checkStock()).toBe(1);
    expect(await t.shop.delivery.checkStock()).toBe(1);
    await t.shop.delivery.worker.runDue();
    await t.shop.hooks.idle();
    expect(alerts).toEqual([{ sku: code, stock: 1, lowStock: 1 }]);
    expect(supplier.calls.filter((r) => r.startsWith('restock-'))).toHaveLength(1);
    expect(await stockOf(t.shop, code)).toEqual({ counter: 6, available: 6 });

    // Restocked keys sell like imported ones.
    const sold = await client.post('/api/store/checkout', { sku: code, quantity: 2, payment: 'wallet' });
    expect(sold.body.order.keys).toHaveLength(2);
    expect(await t.shop.delivery.checkStock()).toBe(0);
    expect((await verifyLedger(t.shop)).ok).toBe(true);
    const cost = await t.shop.db.knex('journal_transactions').where('id', 'like', 'restock-%').count({ n: '*' }).first();
    expect(Number(cost?.n)).toBe(1);
  });
});
