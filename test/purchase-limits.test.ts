import path from 'node:path';
import { createApiKey, expireUnpaid, verifyLedger } from '@cardshop/core';
import { dummyPayments, startTestShop, TEST_DIALECTS, type TestClient, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku } from './fixtures.js';

/** Purchase limits per buyer (限购) and a flash sale's per-buyer cap, over HTTP on both databases. */

const PRICE = 1_000;
const EN = { 'accept-language': 'en' };

describe.each(TEST_DIALECTS)('purchase limits (%s)', (dialect) => {
  let t: TestShop;
  let admin: TestClient;

  beforeAll(async () => {
    // Checkouts wait a moment to be committed together, so one batch holds many orders of one buyer.
    t = await startTestShop({ dialect, config: { plugins: [dummyPayments()], checkout: { batchWaitMs: 20 } } });
    const a = await t.createUser({ role: 'admin' });
    admin = await t.client().login(a.email, a.password);
  });
  afterAll(() => t?.close());

  const limited = async (limit: { units: number; per: 'day' | 'ever' } | null, keys = 50) => {
    const sku = await cardSku(t.shop, { keys, price: PRICE });
    const r = await admin.put(`/api/admin/skus/${sku.code}/limit`, { limit });
    expect(r.status, r.text).toBe(200);
    return sku;
  };
  const buyer = async (balance = PRICE * 100) => {
    const u = await t.createUser({ balance });
    return Object.assign(await t.client().login(u.email, u.password), { id: u.id });
  };
  const soldOf = async (code: string) => Number((await t.shop.db.knex('card_keys').join('skus', 'skus.id', 'card_keys.sku_id').where('skus.code', code).andWhere('card_keys.status', 'sold').count({ n: '*' }).first())!.n);
  const ordersOf = async (code: string) => Number((await t.shop.db.knex('orders').join('skus', 'skus.id', 'orders.sku_id').where('skus.code', code).count({ n: '*' }).first())!.n);

  it('lets a buyer have only the units the SKU allows, saying how many are left, and writes nothing when refused', async () => {
    const { code } = await limited({ units: 3, per: 'ever' });
    const me = await buyer();
    expect((await me.post('/api/store/checkout', { sku: code, quantity: 2, payment: 'wallet' })).status).toBe(201);
    const over = await me.post('/api/store/checkout', { sku: code, quantity: 2, payment: 'wallet' }, EN);
    expect(over.status).toBe(409);
    expect(over.body.error).toMatchObject({ code: 'limit_reached', fields: { quantity: 'Over the purchase limit: you may buy 1 more' } });
    const balance = (await me.get('/api/store/me')).body.wallet.balance;
    expect(balance).toBe(PRICE * 98);
    expect((await me.post('/api/store/checkout', { sku: code, payment: 'wallet' })).status).toBe(201);
    const none = await me.post('/api/store/checkout', { sku: code, payment: 'wallet' });
    expect(none.status).toBe(409);
    expect(none.body.error.fields.quantity).toBe('您已达到该商品的限购数量');
    expect(await ordersOf(code)).toBe(2);
    expect(await soldOf(code)).toBe(3);
    // Another buyer has a limit of its own.
    expect((await (await buyer()).post('/api/store/checkout', { sku: code, quantity: 3, payment: 'wallet' })).status).toBe(201);
  });

  it('holds the limit under 200 parallel checkouts of four buyers: three each, no key twice, the ledger balanced', async () => {
    const { code } = await limited({ units: 3, per: 'day' }, 300);
    const buyers = await Promise.all(Array.from({ length: 4 }, () => buyer()));
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => buyers[i % 4]!.post('/api/store/checkout', { sku: code, payment: 'wallet' })));
    const won = results.filter((r) => r.status === 201);
    expect(won).toHaveLength(12);
    for (const r of results.filter((r) => r.status !== 201)) expect([r.status, r.body.error.code]).toEqual([409, 'limit_reached']);
    const keys = won.flatMap((r) => r.body.order.keys.map((k: { card: string }) => k.card));
    expect(new Set(keys).size).toBe(12);
    for (const b of buyers) expect((await b.get('/api/store/me')).body.wallet.balance).toBe(PRICE * 97);
    const counted = await t.shop.db.knex('buyer_units').join('skus', 'skus.id', 'buyer_units.sku_id').where('skus.code', code).select('buyer_units.units');
    expect(counted.map((r) => Number(r.units))).toEqual([3, 3, 3, 3]);
    expect(await verifyLedger(t.shop)).toMatchObject({ ok: true, drift: [], unbalanced: [], negative: [] });
  });

  it('counts a guest by contact across gateway orders, and gives units back when an order expires unpaid or is refunded', async () => {
    const { code } = await limited({ units: 2, per: 'ever' });
    const contacts = ['Guest@Example.com', 'guest@example.com', ' GUEST@example.COM'];
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => t.client().post('/api/store/checkout', { sku: code, contact: contacts[i % 3], payment: 'dummy' })));
    const placed = results.filter((r) => r.status === 201);
    expect(placed).toHaveLength(2);
    for (const r of results.filter((r) => r.status !== 201)) expect(r.body.error.code).toBe('limit_reached');
    expect((await t.client().post('/api/store/checkout', { sku: code, contact: 'someone@example.com', payment: 'dummy' })).status).toBe(201);

    // One of the guest's orders expires unpaid: one unit back, and no more.
    await t.shop.db.knex('orders').where('no', placed[0]!.body.order.no).update({ expires_at: Date.now() - 1 });
    expect(await expireUnpaid(t.shop)).toBeGreaterThanOrEqual(1);
    expect((await t.client().post('/api/store/checkout', { sku: code, contact: 'guest@example.com', payment: 'dummy' })).status).toBe(201);
    expect((await t.client().post('/api/store/checkout', { sku: code, contact: 'guest@example.com', payment: 'dummy' })).status).toBe(409);

    // A refunded wallet order gives its units back too.
    const me = await buyer();
    const paid = await me.post('/api/store/checkout', { sku: code, quantity: 2, payment: 'wallet' });
    expect(paid.status).toBe(201);
    expect((await me.post('/api/store/checkout', { sku: code, payment: 'wallet' })).status).toBe(409);
    expect((await admin.post(`/api/admin/orders/${paid.body.order.no}/refund`, { reason: 'test' })).status).toBe(200);
    expect((await me.post('/api/store/checkout', { sku: code, quantity: 2, payment: 'wallet' })).status).toBe(201);
    expect(await verifyLedger(t.shop)).toMatchObject({ ok: true });
  });

  it("counts a day limit in the day's own period: yesterday's units do not count today", async () => {
    const { code } = await limited({ units: 1, per: 'day' });
    const me = await buyer();
    expect((await me.post('/api/store/checkout', { sku: code, payment: 'wallet' })).status).toBe(201);
    expect((await me.post('/api/store/checkout', { sku: code, payment: 'wallet' })).status).toBe(409);
    // The unit bought moves to the day before (the turn of the day itself: limits.test.ts).
    const skuId = Number((await t.shop.db.knex('skus').where('code', code).first('id')).id);
    const [row] = await t.shop.db.knex('buyer_units').where('sku_id', skuId).select('period');
    expect(row.period).toMatch(/^d:\d+$/);
    await t.shop.db.knex('buyer_units').where('sku_id', skuId).update({ period: `d:${Number(row.period.slice(2)) - 1}` });
    expect((await me.post('/api/store/checkout', { sku: code, payment: 'wallet' })).status).toBe(201);
    expect((await me.post('/api/store/checkout', { sku: code, payment: 'wallet' })).status).toBe(409);
  });

  it("caps a buyer's units at a flash sale's price, across orders and in parallel", async () => {
    const { code } = await cardSku(t.shop, { keys: 100, price: PRICE });
    const now = Date.now();
    const set = await admin.put(`/api/admin/skus/${code}/flash`, { flash: { price: 500, startsAt: now - 1_000, endsAt: now + 3_600_000, cap: 50, perBuyer: 2 } });
    expect(set.status, set.text).toBe(200);
    const me = await buyer();
    const first = await me.post('/api/store/checkout', { sku: code, payment: 'wallet' });
    expect(first.body.order).toMatchObject({ unitPrice: 500 });
    const rush = await Promise.all(Array.from({ length: 20 }, () => me.post('/api/store/checkout', { sku: code, payment: 'wallet' }, EN)));
    expect(rush.filter((r) => r.status === 201)).toHaveLength(1);
    for (const r of rush.filter((r) => r.status !== 201)) expect(r.body.error).toMatchObject({ code: 'limit_reached', fields: { quantity: 'You have bought as many as this item allows' } });
    expect(Number((await t.shop.db.knex('skus').where('code', code).first('flash_sold')).flash_sold)).toBe(2);
    // Another buyer has its own two.
    expect((await (await buyer()).post('/api/store/checkout', { sku: code, quantity: 2, payment: 'wallet' })).body.order).toMatchObject({ unitPrice: 500 });
  });

  it('refuses a bad limit naming the field and changes nothing; lifting it lets buyers buy again', async () => {
    const { code } = await limited({ units: 1, per: 'ever' });
    for (const [body, field] of [
      [{ limit: { units: 0, per: 'day' } }, 'limit.units'],
      [{ limit: { units: 1.5, per: 'day' } }, 'limit.units'],
      [{ limit: { units: 2, per: 'week' } }, 'limit.per'],
      [{ limit: { units: 2 } }, 'limit.per'],
      [{ units: 2 }, 'limit'],
    ] as const) {
      const r = await admin.put(`/api/admin/skus/${code}/limit`, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.fields).toHaveProperty([field]);
    }
    expect((await admin.put('/api/admin/skus/NO-SUCH-SKU/limit', { limit: null })).status).toBe(404);
    expect(await t.shop.db.knex('skus').where('code', code).first('buyer_limit', 'buyer_limit_per')).toMatchObject({ buyer_limit: 1, buyer_limit_per: 'ever' });
    const me = await buyer();
    expect((await me.post('/api/store/checkout', { sku: code, payment: 'wallet' })).status).toBe(201);
    expect((await me.post('/api/store/checkout', { sku: code, payment: 'wallet' })).status).toBe(409);
    expect((await admin.put(`/api/admin/skus/${code}/limit`, { limit: null })).body).toEqual({ limit: null });
    expect((await me.post('/api/store/checkout', { sku: code, quantity: 3, payment: 'wallet' })).status).toBe(201);
    expect((await (await buyer()).put(`/api/admin/skus/${code}/limit`, { limit: null })).status).toBe(403);
  });

  it('sets the limit from the console, and shows it in the Store API, the Agent API and both themes', async () => {
    const { code, product } = await cardSku(t.shop, { keys: 5, price: PRICE });
    const skuId = Number((await t.shop.db.knex('skus').where('code', code).first('id')).id);
    const back = `/admin/catalog/products/${product}`;
    const csrf = await admin.csrf(back);
    const form = (fields: Record<string, string>) => new URLSearchParams({ _csrf: csrf, back, ...fields });
    const saved = await admin.post(`/admin/catalog/skus/${skuId}/limit`, form({ units: '2', per: 'day' }));
    expect(saved.status, saved.text).toBe(303);
    const page = (await admin.get(back)).text;
    expect(page.slice(page.indexOf(`data-limit="${code}"`))).toMatch(/name="units" min="1" value="2"[\s\S]*?<option value="day" selected>/);
    const bad = await admin.post(`/admin/catalog/skus/${skuId}/limit`, form({ units: 'two', per: 'day' }), EN);
    expect(bad.status).toBe(400);

    const listed = (await t.client().get('/api/store/products')).body.products.flatMap((p: { skus: unknown[] }) => p.skus).find((s: { code: string }) => s.code === code);
    expect(listed.buyerLimit).toEqual({ units: 2, per: 'day' });
    const agent = await buyer();
    const api = t.apiClient(await createApiKey(t.shop, agent.id, 'tests'));
    expect((await api.get(`/products/${code}`)).body.product.buyer_limit).toEqual({ units: 2, per: 'day' });
    const placed = await api.post('/orders', { sku: code, quantity: 3 }, { 'idempotency-key': `limit-${code}` });
    expect([placed.status, placed.body.error?.code]).toEqual([409, 'limit_reached']);

    const shown = await t.client().get(`/product/${code.toLowerCase()}`);
    expect(shown.text).toContain('每人每天限购 2 件');
    const wholesale = await startTestShop({ dialect, config: { theme: path.resolve('themes/wholesale') } });
    try {
      const { code: other } = await cardSku(wholesale.shop, { keys: 1, price: PRICE });
      const a = await wholesale.createUser({ role: 'admin' });
      await (await wholesale.client().login(a.email, a.password)).put(`/api/admin/skus/${other}/limit`, { limit: { units: 5, per: 'ever' } });
      const row = (await wholesale.client().request('GET', `/product/${other.toLowerCase()}`, undefined, EN)).text;
      expect(row).toContain('At most 5 a buyer');
    } finally {
      await wholesale.close();
    }

    // Lifted from the console with an empty number.
    expect((await admin.post(`/admin/catalog/skus/${skuId}/limit`, form({ units: '', per: 'day' }))).status).toBe(303);
    expect((await t.shop.db.knex('skus').where('id', skuId).first('buyer_limit')).buyer_limit).toBeNull();
  });
});
