import path from 'node:path';
import { becomeAgent, createApiKey, setMarkups, verifyLedger } from '@cardshop/core';
import { startTestShop, TEST_DIALECTS, type TestClient, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku } from './fixtures.js';

/** Wholesale tiers (批发价) over HTTP, on both checkouts, both themes and both databases. */

const PRICE = 10_000;
const TIERS = [
  { minQuantity: 10, percentOff: 500 },
  { minQuantity: 50, percentOff: 1_000 },
];

const skuOf = (products: Array<{ skus: Array<{ code: string }> }>, code: string): any => products.flatMap((p) => p.skus).find((s) => s.code === code);
const balance = async (t: TestShop, userId: number) => Number((await t.shop.db.knex('accounts').where('code', `wallet:${userId}`).first('balance')).balance);

describe.each(TEST_DIALECTS)('wholesale tiers (%s)', (dialect) => {
  let t: TestShop;
  let admin: TestClient;

  beforeAll(async () => {
    t = await startTestShop({ dialect });
    const a = await t.createUser({ role: 'admin' });
    admin = await t.client().login(a.email, a.password);
  });
  afterAll(() => t?.close());

  const tieredSku = async (keys = 80) => {
    const sku = await cardSku(t.shop, { keys, price: PRICE });
    const r = await admin.put(`/api/admin/skus/${sku.code}/tiers`, { tiers: TIERS });
    expect(r.status).toBe(200);
    return sku;
  };

  it('shows the brackets at the buyer’s price and charges the bracket the quantity reaches', async () => {
    const { code } = await tieredSku(200);
    const listed = skuOf((await t.client().get('/api/store/products')).body.products, code);
    expect(listed.tiers).toEqual([
      { minQuantity: 10, percentOff: 500, price: 9_500 },
      { minQuantity: 50, percentOff: 1_000, price: 9_000 },
    ]);
    const page = await t.client().get(`/product/${code.toLowerCase()}`);
    expect(page.status).toBe(200);
    const table = page.text.slice(page.text.indexOf(`data-tiers-of="${code}"`));
    expect(table).toMatch(/10 件起<\/td><td>¥95\.00/);
    expect(table).toMatch(/50 件起<\/td><td>¥90\.00/);
    expect(page.text).toContain(`data-tiers="10:9500 50:9000 "`);

    const u = await t.createUser({ balance: 2_000_000 });
    const me = await t.client().login(u.email, u.password);
    for (const [quantity, unit] of [
      [9, 10_000],
      [10, 9_500],
      [49, 9_500],
      [50, 9_000],
    ] as const) {
      const r = await me.post('/api/store/checkout', { sku: code, quantity, payment: 'wallet' });
      expect(r.status).toBe(201);
      expect(r.body.order).toMatchObject({ quantity, unitPrice: unit, amount: unit * quantity });
      expect(Number((await t.shop.db.knex('orders').where('no', r.body.order.no).first('unit_price')).unit_price)).toBe(unit);
    }
    expect(await balance(t, u.id)).toBe(2_000_000 - 9 * 10_000 - 59 * 9_500 - 50 * 9_000);
    expect(await verifyLedger(t.shop)).toMatchObject({ ok: true });
  });

  it('takes the percent off every price of an agent chain: the agent keeps a margin, the ledger balances', async () => {
    const { code } = await tieredSku();
    const agent = await t.createUser({ balance: 500_000 });
    await setMarkups(t.shop, { ...agent, ...(await becomeAgent(t.shop, agent)) }, { markups: [{ scope: 'all', kind: 'fixed', value: 1_000 }] });
    const buyer = await t.createUser({ uplineId: agent.id, balance: 500_000 });
    const me = await t.client().login(buyer.email, buyer.password);
    // The buyer's price is the agent's ¥100 plus ¥10; ten units take 5 % off both.
    expect(skuOf((await me.get('/api/store/products')).body.products, code).tiers[0]).toMatchObject({ minQuantity: 10, price: 10_450 });
    const r = await me.post('/api/store/checkout', { sku: code, quantity: 10, payment: 'wallet' });
    expect(r.body.order).toMatchObject({ unitPrice: 10_450, amount: 104_500 });
    expect(await balance(t, agent.id)).toBe(500_000 + 10 * 950);
    const margins = await t.shop.db.knex('order_margins').join('orders', 'orders.id', 'order_margins.order_id').where('orders.no', r.body.order.no).select('order_margins.amount');
    expect(margins.map((m) => Number(m.amount))).toEqual([9_500]);

    // The agent's own order through the Agent API: its price less the bracket's percent.
    const api = t.apiClient(await createApiKey(t.shop, agent.id, 'tests'));
    const listed = (await api.get(`/products/${code}`)).body.product;
    expect(listed.tiers).toEqual([
      { min_quantity: 10, percent_off: 500, price: 9_500 },
      { min_quantity: 50, percent_off: 1_000, price: 9_000 },
    ]);
    const placed = await api.post('/orders', { sku: code, quantity: 50 }, { 'idempotency-key': `tiers-${code}` });
    expect(placed.status).toBe(201);
    expect(placed.body.order).toMatchObject({ quantity: 50, unit_price: 9_000, amount: 450_000 });
    expect(await verifyLedger(t.shop)).toMatchObject({ ok: true, drift: [], unbalanced: [], negative: [] });
  });

  it('refuses overlapping brackets, shallower discounts and negative percents, naming the field, writing nothing', async () => {
    const { code } = await tieredSku(1);
    for (const [tiers, field, message] of [
      [[{ minQuantity: 10, percentOff: 500 }, { minQuantity: 10, percentOff: 800 }], 'tiers.1.minQuantity', /overlap|重叠/i],
      [[{ minQuantity: 50, percentOff: 500 }, { minQuantity: 10, percentOff: 800 }], 'tiers.1.minQuantity', /overlap|重叠/i],
      [[{ minQuantity: 10, percentOff: 500 }, { minQuantity: 50, percentOff: 500 }], 'tiers.1.percentOff', /more|更多/],
      [[{ minQuantity: 10, percentOff: -500 }], 'tiers.0.percentOff', /./],
      [[{ minQuantity: 1, percentOff: 500 }], 'tiers.0.minQuantity', /./],
      [[{ minQuantity: 10, percentOff: 10_000 }], 'tiers.0.percentOff', /./],
    ] as const) {
      const r = await admin.put(`/api/admin/skus/${code}/tiers`, { tiers });
      expect(r.status).toBe(400);
      expect(r.body.error.fields[field]).toMatch(message);
    }
    expect(JSON.parse((await t.shop.db.knex('skus').where('code', code).first('wholesale_tiers')).wholesale_tiers)).toEqual(TIERS);
    expect((await admin.put('/api/admin/skus/NO-SUCH/tiers', { tiers: TIERS })).status).toBe(404);
    expect((await t.client().put(`/api/admin/skus/${code}/tiers`, { tiers: [] })).status).toBe(401);
  });

  it('lets the operator type the brackets in the console, and clear them', async () => {
    const { code } = await cardSku(t.shop, { keys: 1, price: PRICE });
    const sku = await t.shop.db.knex('skus').where('code', code).first('id', 'product_id');
    const back = `/admin/catalog/products/${sku.product_id}`;
    const csrf = await admin.csrf(back);
    const saved = await admin.post(`/admin/catalog/skus/${sku.id}/tiers`, new URLSearchParams({ _csrf: csrf, back, tiers: '10:5, 50:10' }));
    expect(saved.status).toBe(303);
    expect((await admin.get(back)).text).toContain('value="10:5, 50:10"');
    expect(skuOf((await t.client().get('/api/store/products')).body.products, code).tiers.map((x: { price: number }) => x.price)).toEqual([9_500, 9_000]);
    const refused = await admin.post(`/admin/catalog/skus/${sku.id}/tiers`, new URLSearchParams({ _csrf: csrf, back, tiers: '10:5, 5:10' }));
    expect(refused.status).toBe(400);
    expect(refused.text).toContain('重叠');
    await admin.post(`/admin/catalog/skus/${sku.id}/tiers`, new URLSearchParams({ _csrf: csrf, back, tiers: '' }));
    expect(skuOf((await t.client().get('/api/store/products')).body.products, code).tiers).toEqual([]);
  });

  it('shows the checkout page the unit price and total the order will charge: the bracket, not the list price', async () => {
    const { code } = await tieredSku();
    const u = await t.createUser({ balance: 1_000_000 });
    const me = await t.client().login(u.email, u.password);
    const page = (await me.request('GET', `/checkout?sku=${code}&quantity=10`, undefined, { 'accept-language': 'en' })).text;
    expect(page).toMatch(/Unit price<\/dt><dd>¥95\.00/);
    expect(page).toContain('¥950.00');
    expect(page).not.toContain('¥1,000.00');
  });
});

describe.each(TEST_DIALECTS)('wholesale tiers on the wholesale theme (%s)', (dialect) => {
  it('shows the brackets beside the SKU, in English too', async () => {
    const t = await startTestShop({ dialect, config: { theme: path.resolve('themes/wholesale') } });
    try {
      const a = await t.createUser({ role: 'admin' });
      const admin = await t.client().login(a.email, a.password);
      const { code } = await cardSku(t.shop, { keys: 1, price: PRICE });
      await admin.put(`/api/admin/skus/${code}/tiers`, { tiers: TIERS });
      const page = await t.client().request('GET', `/product/${code.toLowerCase()}`, undefined, { 'accept-language': 'en' });
      expect(page.status).toBe(200);
      const row = page.text.slice(page.text.indexOf(`data-tiers-of="${code}"`));
      expect(row).toMatch(/10\+ <b>¥95\.00<\/b>.*50\+ <b>¥90\.00<\/b>/s);
    } finally {
      await t.close();
    }
  });
});

describe.each(TEST_DIALECTS)('flash sales (%s)', (dialect) => {
  let t: TestShop;
  let admin: TestClient;

  beforeAll(async () => {
    t = await startTestShop({ dialect, config: { checkout: { batchWaitMs: 5 } } });
    const a = await t.createUser({ role: 'admin' });
    admin = await t.client().login(a.email, a.password);
  });
  afterAll(() => t?.close());

  it('sells exactly the cap at the sale price under 300 parallel checkouts, never more', async () => {
    const { code } = await cardSku(t.shop, { keys: 400, price: PRICE });
    const now = Date.now();
    const set = await admin.put(`/api/admin/skus/${code}/flash`, { flash: { price: 5_000, startsAt: now - 1_000, endsAt: now + 3_600_000, cap: 50 } });
    expect(set.status).toBe(200);
    expect(skuOf((await t.client().get('/api/store/products')).body.products, code).flash).toMatchObject({ price: 5_000, left: 50 });
    // The checkout page says what the order will charge: the sale's price.
    expect((await t.client().get(`/checkout?sku=${code}&quantity=2`)).text).toMatch(/<dd>¥50\.00<\/dd>[\s\S]*<dd>¥100\.00<\/dd>/);
    const buyers = await Promise.all(Array.from({ length: 30 }, async () => {
      const u = await t.createUser({ balance: 200_000 });
      return t.client().login(u.email, u.password);
    }));
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => buyers[i % 30]!.post('/api/store/checkout', { sku: code, payment: 'wallet' })));
    expect(results.every((r) => r.status === 201 || (r.status === 409 && r.body.error.code === 'flash_sold_out'))).toBe(true);
    const won = results.filter((r) => r.status === 201 && r.body.order.unitPrice === 5_000);
    expect(won).toHaveLength(50);
    expect(Number((await t.shop.db.knex('skus').where('code', code).first('flash_sold')).flash_sold)).toBe(50);
    expect(Number((await t.shop.db.knex('orders').join('skus', 'skus.id', 'orders.sku_id').where('skus.code', code).andWhere('orders.unit_price', 5_000).count({ n: '*' }).first())!.n)).toBe(50);
    expect(await verifyLedger(t.shop)).toMatchObject({ ok: true });
  });

  it('charges the normal price outside the window, and refuses bad sales naming the field', async () => {
    const { code } = await cardSku(t.shop, { keys: 5, price: PRICE });
    const now = Date.now();
    await admin.put(`/api/admin/skus/${code}/flash`, { flash: { price: 5_000, startsAt: now + 3_600_000, endsAt: now + 7_200_000, cap: 5 } });
    const u = await t.createUser({ balance: 100_000 });
    const me = await t.client().login(u.email, u.password);
    expect((await me.post('/api/store/checkout', { sku: code, payment: 'wallet' })).body.order).toMatchObject({ unitPrice: PRICE });
    for (const [flash, field] of [
      [{ price: 5_000, startsAt: now, endsAt: now - 1, cap: 5 }, 'flash.endsAt'],
      [{ price: -1, startsAt: now, endsAt: now + 1_000, cap: 5 }, 'flash.price'],
      [{ price: PRICE, startsAt: now, endsAt: now + 1_000, cap: 5 }, 'flash.price'],
      [{ price: 5_000, startsAt: now, endsAt: now + 1_000, cap: 0 }, 'flash.cap'],
    ] as const) {
      const r = await admin.put(`/api/admin/skus/${code}/flash`, { flash });
      expect(r.status).toBe(400);
      expect(r.body.error.fields).toHaveProperty([field]);
    }
    expect(Number((await t.shop.db.knex('skus').where('code', code).first('flash_starts_at')).flash_starts_at)).toBe(now + 3_600_000);
  });

  it('starts, shows and ends a flash sale from the console, in Beijing time, refusing a bad form by field', async () => {
    const { code, product } = await cardSku(t.shop, { keys: 5, price: PRICE });
    const skuId = Number((await t.shop.db.knex('skus').where('code', code).first('id')).id);
    const back = `/admin/catalog/products/${product}`;
    const csrf = await admin.csrf(back);
    const form = (fields: Record<string, string>) => new URLSearchParams({ _csrf: csrf, back, ...fields });
    const sale = { price: '45.00', startsAt: '2026-01-01T10:00', endsAt: '2099-01-01T10:00', cap: '20', perBuyer: '2' };
    const saved = await admin.post(`/admin/catalog/skus/${skuId}/flash`, form(sale));
    expect(saved.status, saved.text).toBe(303);
    const row = await t.shop.db.knex('skus').where('id', skuId).first('flash_price', 'flash_starts_at', 'flash_ends_at', 'flash_cap', 'flash_per_buyer');
    expect(row).toMatchObject({ flash_price: 4_500, flash_cap: 20, flash_per_buyer: 2 });
    expect(Number(row.flash_starts_at)).toBe(Date.parse('2026-01-01T10:00:00+08:00'));
    const page = (await admin.request('GET', back, undefined, { 'accept-language': 'en' })).text;
    const shown = page.slice(page.indexOf(`data-flash="${code}"`));
    expect(shown).toMatch(/¥45\.00 · 0 \/ 20 sold · 2 a buyer/);
    expect(shown).toContain('value="2026-01-01T10:00"');
    expect(skuOf((await t.client().get('/api/store/products')).body.products, code).flash).toMatchObject({ price: 4_500, perBuyer: 2 });

    const bad = await admin.post(`/admin/catalog/skus/${skuId}/flash`, form({ ...sale, price: '200.00' }), { 'accept-language': 'en' });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('Sale price: The sale price must be below the price');
    expect(Number((await t.shop.db.knex('skus').where('id', skuId).first('flash_price')).flash_price)).toBe(4_500);

    expect((await admin.post(`/admin/catalog/skus/${skuId}/flash`, form({ end: '1' }))).status).toBe(303);
    expect((await t.shop.db.knex('skus').where('id', skuId).first('flash_price')).flash_price).toBeNull();
    expect(skuOf((await t.client().get('/api/store/products')).body.products, code).flash).toBeNull();
  });
});
