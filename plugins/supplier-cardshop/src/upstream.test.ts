import { verifyLedger } from '@cardshop/core';
import { setupPlugin, startTestShop, TEST_DIALECTS, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import cardshopSupplier from './index.js';
import { startFakeUpstream, type FakeUpstream } from './testing/fake-upstream.js';

describe('the connector', () => {
  it('reads the upstream balance and says when it is low', async () => {
    const up = await startFakeUpstream({ balance: 5_000 });
    try {
      const { suppliers } = await setupPlugin(cardshopSupplier, { url: up.url, key: up.key, secret: up.secret, lowBalance: 10_000 });
      expect(await suppliers[0]!.balance!({})).toEqual({ balance: 5_000, currency: 'CNY', low: true });
      const wrong = (await setupPlugin(cardshopSupplier, { url: up.url, key: up.key, secret: 'cs_not-the-secret' })).suppliers[0]!;
      await expect(wrong.balance!({})).rejects.toThrow(/bad_signature/);
    } finally {
      await up.close();
    }
  });
});

describe.each(TEST_DIALECTS)('a shop buying from an upstream cardshop (%s)', (dialect) => {
  let up: FakeUpstream;
  let t: TestShop;

  beforeAll(async () => {
    up = await startFakeUpstream();
    t = await startTestShop({
      dialect,
      config: {
        plugins: [cardshopSupplier({ id: 'up', url: up.url, key: up.key, secret: up.secret, import: { markupPercent: 10, syncMinutes: 0 } })],
        delivery: { backoffMs: 0, maxAttempts: 3, supplierPollMs: 60_000 },
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await up?.close();
  });

  async function buy(sku: string) {
    const buyer = await t.createUser({ balance: 20_000 });
    const client = await t.client().login(buyer.email, buyer.password);
    const r = await client.post('/api/store/checkout', { sku, payment: 'wallet' });
    expect(r.status, r.text).toBe(201);
    await t.shop.delivery.worker.runDue();
    return { no: r.body.order.no as string, order: async () => (await client.get(`/api/store/orders/${r.body.order.no}`)).body.order, balance: async () => (await client.get('/api/store/me')).body.wallet.balance };
  }

  it('imports the upstream catalog at its markup, and follows the upstream price', async () => {
    expect(await t.shop.delivery.syncCatalog('up')).toMatchObject({ created: 3, updated: 0 });
    const skus = await t.client().get('/api/store/products');
    const prices = Object.fromEntries(skus.body.products.flatMap((p: { skus: Array<{ code: string; price: number }> }) => p.skus.map((s) => [s.code, s.price])));
    expect(prices).toMatchObject({ INSTANT: 990, LATER: 5280, 'SOLD-OUT': 99 });
    up.products.find((p) => p.sku === 'SOLD-OUT')!.price = 200;
    expect(await t.shop.delivery.syncCatalog('up')).toMatchObject({ created: 0, updated: 3 });
    expect(Number((await t.shop.db.knex('skus').where('code', 'SOLD-OUT').first('price')).price)).toBe(220);
  });

  it('forwards an order under its own number and delivers the upstream keys', async () => {
    const { no, order } = await buy('INSTANT');
    expect(await order()).toMatchObject({ status: 'delivered', keys: [{ card: 'UP-1-KEY-1' }] });
    expect(up.posts).toEqual([no]);
    expect(up.orders.get(no)!.callback_url).toBe(`${t.url}/supplier/up/callback`);
  });

  it("completes a waiting order by the upstream's signed webhook, or by polling, and refuses a forged webhook", async () => {
    const hooked = await buy('LATER');
    expect((await hooked.order()).status).toBe('delivering');
    const forged = await t.client().post('/supplier/up/callback', { event: 'order.delivered', order: { idempotency_key: hooked.no } }, { 'x-cardshop-key': up.key });
    expect(forged.status).toBe(401);
    expect(await up.deliver(hooked.no)).toBe(200);
    expect((await hooked.order()).status).toBe('delivered');

    const polled = await buy('LATER');
    await up.deliver(polled.no, { webhook: false });
    await t.shop.delivery.worker.runDue(Date.now() + 120_000);
    expect((await polled.order()).keys).toHaveLength(1);
    expect(up.posts.filter((p) => p === polled.no)).toHaveLength(1);
  });

  it('refunds the buyer when the upstream refuses or refunds, with its reason', async () => {
    const soldOut = await buy('SOLD-OUT');
    expect(await soldOut.order()).toMatchObject({ status: 'refunded', reason: expect.stringContaining('out_of_stock') });
    expect(await soldOut.balance()).toBe(20_000);

    const refunded = await buy('LATER');
    await up.deliver(refunded.no, { refund: true });
    await t.shop.delivery.worker.runDue();
    expect(await refunded.order()).toMatchObject({ status: 'refunded', reason: expect.stringContaining('upstream refunded') });
    expect(await refunded.balance()).toBe(20_000);
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });
});
