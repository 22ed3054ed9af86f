import { balanceOf, createApiKey, verifyLedger } from '@cardshop/core';
import { startTestShop, TEST_DIALECTS, type TestShop } from '@cardshop/core/testing';
import cardshopSupplier from '@cardshop/plugin-supplier-cardshop';
import { afterAll, describe, expect, it } from 'vitest';
import { cardSku } from './fixtures.js';

/**
 * Three shops on loopback, each with its own database (the first on MariaDB): C buys from B, B
 * buys from A through A's Agent API, and a buyer on C gets a key out of A's stock.
 */
describe('a chain of three shops, A ← B ← C', () => {
  const shops: TestShop[] = [];
  afterAll(async () => {
    for (const s of shops.reverse()) await s.close();
  });

  /** A shop that buys from `upstream` as supplier `id`, importing its catalog at +10%. */
  async function downstreamOf(upstream: TestShop, id: string) {
    const agent = await upstream.createUser({ balance: 100_000 });
    const { key, secret } = await createApiKey(upstream.shop, agent.id, `shop ${id}`);
    const shop = await startTestShop({
      config: {
        plugins: [cardshopSupplier({ id, url: upstream.url, key, secret, import: { markupPercent: 10, syncMinutes: 0 } })],
        delivery: { supplierPollMs: 60_000 },
      },
    });
    shops.push(shop);
    expect(await shop.shop.delivery.syncCatalog(id)).toMatchObject({ created: 1 });
    return { shop, agent };
  }

  it("delivers a key from A's stock to a buyer on C, and every ledger balances", async () => {
    const a = await startTestShop({ dialect: TEST_DIALECTS.includes('mysql') ? 'mysql' : 'sqlite' });
    shops.push(a);
    const { keys } = await cardSku(a.shop, { code: 'GAME-100', keys: 5, price: 1000 });
    const b = await downstreamOf(a, 'shop-a');
    const c = await downstreamOf(b.shop, 'shop-b');

    const buyer = await c.shop.createUser({ balance: 10_000 });
    const client = await c.shop.client().login(buyer.email, buyer.password);
    const listed = await client.get('/api/store/products');
    expect(listed.body.products[0].skus[0]).toMatchObject({ code: 'GAME-100', price: 1210 });
    const placed = await client.post('/api/store/checkout', { sku: 'GAME-100', payment: 'wallet' });
    expect(placed.status).toBe(201);

    // C forwards to B and waits; B forwards to A, which delivers from stock; B's webhook tells C.
    await c.shop.shop.delivery.worker.runDue();
    await b.shop.shop.delivery.worker.runDue();
    const order = (await client.get(`/api/store/orders/${placed.body.order.no}`)).body.order;
    expect(order).toMatchObject({ status: 'delivered', keys: [{ card: keys[0] }] });

    expect(await balanceOf(c.shop.shop, buyer.id)).toBe(10_000 - 1210);
    expect(await balanceOf(b.shop.shop, c.agent.id)).toBe(100_000 - 1100);
    expect(await balanceOf(a.shop, b.agent.id)).toBe(100_000 - 1000);
    // What each shop paid its upstream is booked against that supplier.
    const paid = async (t: TestShop, supplier: string) => Number((await t.shop.db.knex('accounts').where('code', `supplier:${supplier}`).first('balance')).balance);
    expect(await paid(c.shop, 'shop-b')).toBe(1100);
    expect(await paid(b.shop, 'shop-a')).toBe(1000);
    for (const t of [a, b.shop, c.shop]) expect(await verifyLedger(t.shop)).toMatchObject({ ok: true });
    // One order at each hop, each under its downstream's order number.
    const upstreamOrder = await b.shop.shop.db.knex('orders').where('idempotency_key', placed.body.order.no).first('no', 'status');
    expect(upstreamOrder.status).toBe('delivered');
    expect(await a.shop.db.knex('orders').where('idempotency_key', upstreamOrder.no).count({ n: '*' }).first()).toMatchObject({ n: 1 });
  });
});
