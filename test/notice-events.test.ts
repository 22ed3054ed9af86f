import { definePlugin, raiseStuck, setRoute, type HookEvents } from '@cardshop/core';
import { createDummySupplier, startTestShop, TEST_DIALECTS, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku, otherSku } from './fixtures.js';

/** The events alert plugins subscribe to: `supplier.failed` and `payment.stuck`, each raised once. */
describe.each(TEST_DIALECTS)('supplier.failed and payment.stuck (%s)', (dialect) => {
  const a = createDummySupplier('ev-a');
  const b = createDummySupplier('ev-b');
  const failed: Array<HookEvents['supplier.failed']> = [];
  const stuck: Array<{ no: string; status: string; why: string }> = [];
  const listener = definePlugin({
    name: 'listener',
    version: '1.0.0',
    core: '>=0.1.0',
    setup(ctx) {
      ctx.on('supplier.failed', (e) => void failed.push(e));
      ctx.on('payment.stuck', (e) => void stuck.push({ no: e.order.no, status: e.order.status, why: e.why }));
    },
  });
  let t: TestShop;

  beforeAll(async () => {
    t = await startTestShop({
      dialect,
      config: { plugins: [a.plugin, b.plugin, listener()], delivery: { backoffMs: 0, timeoutMs: 400, maxAttempts: 2, supplierPollMs: 60_000 } },
    });
  });
  afterAll(() => t?.close());

  const buy = async (code: string) => {
    const buyer = await t.createUser({ balance: 10_000 });
    const c = await t.client().login(buyer.email, buyer.password);
    const res = await c.post('/api/store/checkout', { sku: code, fields: { phone: '13800138000' }, payment: 'wallet' });
    expect(res.status).toBe(201);
    return res.body.order.no as string;
  };
  const settle = async () => {
    await t.shop.delivery.worker.runDue();
    await t.shop.hooks.idle();
  };

  it('raises supplier.failed for a refusal (the next route delivers) and for a delivery that gave up', async () => {
    a.behaviour.set('A-GONE', 'fail');
    const { code } = await otherSku(t.shop, 'direct', 'EV-FAILOVER');
    await setRoute(t.shop, code, { supplier: 'ev-a', supplierSku: 'A-GONE', priority: 0, cost: 100 });
    await setRoute(t.shop, code, { supplier: 'ev-b', supplierSku: 'B-OK', priority: 1, cost: 100 });
    const no = await buy(code);
    await settle();
    expect(failed).toEqual([{ supplier: 'ev-a', sku: code, order: no, reason: 'A-GONE is sold out' }]);

    a.behaviour.set('A-DOWN', 'retry');
    const down = await otherSku(t.shop, 'direct', 'EV-DOWN');
    await setRoute(t.shop, down.code, { supplier: 'ev-a', supplierSku: 'A-DOWN', priority: 0, cost: 100 });
    const gaveUp = await buy(down.code);
    await settle();
    await settle(); // a rerun of the chores and jobs raises nothing new
    expect(failed.slice(1)).toEqual([{ supplier: 'ev-a', sku: down.code, order: gaveUp, reason: 'ev-a: under maintenance' }]);
  });

  it('raises supplier.failed, without an order, when a supplier refuses a restock purchase', async () => {
    b.behaviour.set('B-NOKEYS', 'fail');
    const { code } = await cardSku(t.shop, { keys: 1 });
    await t.shop.db.knex('skus').where('code', code).update({ low_stock: 1, restock_target: 5 });
    await setRoute(t.shop, code, { supplier: 'ev-b', supplierSku: 'B-NOKEYS' });
    const before = failed.length;
    expect(await t.shop.delivery.checkStock()).toBe(1);
    await settle();
    expect(failed.slice(before)).toEqual([{ supplier: 'ev-b', sku: code, order: null, reason: 'B-NOKEYS is sold out' }]);
  });

  it('raises payment.stuck once per order and reason, however often the chore runs', async () => {
    // The order that gave up above is failed with a dead job; a pending one becomes stuck after stuckMinutes.
    a.behaviour.set('A-PEND', 'pending');
    const { code } = await otherSku(t.shop, 'direct', 'EV-PEND');
    await setRoute(t.shop, code, { supplier: 'ev-a', supplierSku: 'A-PEND', priority: 0, cost: 100 });
    const late = await buy(code);
    await settle();
    await Promise.all([raiseStuck(t.shop, t.shop.plugins.gateways), raiseStuck(t.shop, t.shop.plugins.gateways)]);
    await t.shop.hooks.idle();
    const dead = failed[1]!.order!;
    expect(stuck).toEqual([{ no: dead, status: 'failed', why: 'dead' }]);

    const realNow = t.shop.now;
    (t.shop as { now: () => number }).now = () => Date.now() + (t.shop.config.payments.stuckMinutes + 1) * 60_000;
    try {
      expect(await raiseStuck(t.shop, t.shop.plugins.gateways)).toBe(1);
      expect(await raiseStuck(t.shop, t.shop.plugins.gateways)).toBe(0);
    } finally {
      (t.shop as { now: () => number }).now = realNow;
    }
    await t.shop.hooks.idle();
    expect(stuck.slice(1)).toEqual([{ no: late, status: 'delivering', why: 'undelivered' }]);
  });
});
