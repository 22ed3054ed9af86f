import { balanceOf, createApiKey, verifyLedger } from '@cardshop/core';
import { setupPlugin, startTestShop, TEST_DIALECTS, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import acme from './index.js';
import { startFakeAcme, type FakeAcme } from './testing/fake-acme.js';

describe('the settings', () => {
  it('name the key that is wrong, before the shop starts', async () => {
    await expect(setupPlugin(acme, { apiUrl: 'https://api.acme.example', merchantId: 'M1001', apiKey: 'short' })).rejects.toThrow(/apiKey/);
    await expect(setupPlugin(acme, { apiUrl: 'ftp://api.acme.example', merchantId: 'M1001', apiKey: 'a-long-enough-key' })).rejects.toThrow(/apiUrl/);
    const { suppliers } = await setupPlugin(acme, { apiUrl: 'https://api.acme.example/', merchantId: 'M1001', apiKey: 'a-long-enough-key' });
    expect(suppliers.map((s) => [s.id, s.catalog?.markupPercent])).toEqual([['acme', 10]]);
  });
});

// A real shop on a temporary database (SQLite, and MariaDB where the tests have it), listening on
// loopback, with the plugin configured as an operator would, against the fake Acme.
describe.each(TEST_DIALECTS)("a shop selling Acme's goods (%s)", (dialect) => {
  let fake: FakeAcme;
  let t: TestShop;

  beforeAll(async () => {
    fake = await startFakeAcme();
    t = await startTestShop({
      dialect,
      config: {
        plugins: [acme({ apiUrl: fake.url, merchantId: fake.merchantId, apiKey: fake.apiKey, import: { markupPercent: 20, syncMinutes: 0 } })],
        // Orders Acme has not finished wait for its callback: no poll comes in between here.
        delivery: { supplierPollMs: 60_000 },
      },
    });
    expect(await t.shop.delivery.syncCatalog('acme')).toMatchObject({ created: 3, skipped: [] });
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  /** A buyer with 200.00 in its wallet, calling the shop's Agent API with its own signed key, as a downstream shop does. */
  async function buyer() {
    const user = await t.createUser({ balance: 20_000 });
    const api = t.apiClient(await createApiKey(t.shop, user.id));
    const order = async (no: string) => (await api.get(`/orders/${no}`)).body.order;
    return { user, api, order };
  }

  it("imports Acme's catalog at the markup over Acme's price", async () => {
    const { api } = await buyer();
    const prices = Object.fromEntries((await api.get('/products')).body.products.map((p: { sku: string; price: number }) => [p.sku, p.price]));
    expect(prices).toEqual({ 'ACME-10': 1140, 'ACME-TOPUP-50': 5880, 'ACME-GONE': 120 });
  });

  it("sells Acme's keys, one order at Acme however often the buyer repeats it", async () => {
    const { user, api, order } = await buyer();
    const placed = await api.post('/orders', { sku: 'ACME-10', quantity: 1 }, { 'idempotency-key': `keys-${dialect}` });
    expect(placed.status, placed.text).toBe(201);
    await t.shop.delivery.worker.runDue();
    const repeated = await api.post('/orders', { sku: 'ACME-10', quantity: 1 }, { 'idempotency-key': `keys-${dialect}` });
    expect(repeated.body.order.no).toBe(placed.body.order.no);

    const no = placed.body.order.no as string;
    expect(await order(no)).toMatchObject({ status: 'delivered', keys: [{ card: expect.stringMatching(/^ACME-KEY-000\d$/) }] });
    expect(fake.placed.filter((n) => n === no)).toHaveLength(1);
    expect(await balanceOf(t.shop, user.id)).toBe(20_000 - 1140);
  });

  it('finishes a top-up when Acme calls back, and refuses a forged callback', async () => {
    const { api, order } = await buyer();
    const placed = await api.post('/orders', { sku: 'ACME-TOPUP-50', fields: { account: '13800138000' } }, { 'idempotency-key': `topup-${dialect}` });
    expect(placed.status, placed.text).toBe(201);
    await t.shop.delivery.worker.runDue();
    const no = placed.body.order.no as string;
    expect((await order(no)).status).toBe('delivering');

    const forged = JSON.stringify({ order: { ...fake.orders.get(no), status: 'done' } });
    const refused = await t.client().post('/supplier/acme/callback', forged, {
      'content-type': 'application/json',
      'x-acme-timestamp': String(Math.floor(Date.now() / 1000)),
      'x-acme-sign': '0'.repeat(64),
    });
    expect(refused.status).toBe(401);
    expect((await order(no)).status).toBe('delivering');

    expect(await fake.finish(no)).toBe(200);
    expect(await order(no)).toMatchObject({ status: 'delivered', delivery: expect.stringContaining('credited 49') });
  });

  it('refunds the buyer, with the reason, when Acme refuses', async () => {
    const { user, api, order } = await buyer();
    const placed = await api.post('/orders', { sku: 'ACME-GONE' }, { 'idempotency-key': `gone-${dialect}` });
    expect(placed.status, placed.text).toBe(201);
    await t.shop.delivery.worker.runDue();
    expect(await order(placed.body.order.no)).toMatchObject({ status: 'refunded', reason: expect.stringContaining('Acme: sold_out') });
    expect(await balanceOf(t.shop, user.id)).toBe(20_000);
    expect(await verifyLedger(t.shop)).toMatchObject({ ok: true });
  });
});
