import path from 'node:path';
import { expireUnpaid, verifyLedger } from '@cardshop/core';
import { dummyPayments, startTestShop, TEST_DIALECTS, type TestClient, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku } from './fixtures.js';

/** Shared keys (循环卡密): one key sold to many buyers against a stock count the operator sets. */

const PRICE = 500;

describe.each(TEST_DIALECTS)('shared keys (%s)', (dialect) => {
  let t: TestShop;
  let admin: TestClient;

  beforeAll(async () => {
    t = await startTestShop({ dialect, config: { plugins: [dummyPayments()] } });
    const a = await t.createUser({ role: 'admin' });
    admin = await t.client().login(a.email, a.password);
  });
  afterAll(() => t?.close());

  const counter = async (code: string) => Number((await t.shop.db.knex('skus').where('code', code).first('stock')).stock);
  const keyStatuses = async (code: string) =>
    Object.fromEntries(
      (await t.shop.db.knex('card_keys').join('skus', 'skus.id', 'card_keys.sku_id').where('skus.code', code).groupBy('card_keys.status').select('card_keys.status').count({ n: '*' })).map((r: Record<string, any>) => [r.status, Number(r.n)]),
    );
  const sharedSku = async (stock: number, keys = 1) => {
    const sku = await cardSku(t.shop, { keys, price: PRICE });
    const r = await admin.put(`/api/admin/inventory/${sku.code}/options`, { mode: 'shared', stock });
    expect(r.status).toBe(204);
    return sku;
  };

  it('sells the same key to 200 of 300 parallel buyers, never past the stock it was given', async () => {
    const { code, keys } = await sharedSku(200);
    const buyers: TestClient[] = [];
    for (let i = 0; i < 30; i++) {
      const u = await t.createUser({ balance: PRICE * 10 });
      buyers.push(await t.client().login(u.email, u.password));
    }
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => buyers[i % buyers.length]!.post('/api/store/checkout', { sku: code, quantity: 1, payment: 'wallet' })));

    const delivered = results.filter((r) => r.status === 201);
    expect(delivered).toHaveLength(200);
    for (const r of results.filter((r) => r.status !== 201)) expect(r.body.error.code).toBe('out_of_stock');
    for (const r of delivered) expect(r.body.order.keys).toEqual([{ card: keys[0] }]);
    expect(await counter(code)).toBe(0);
    // The pool key stays on sale; each order holds a copy of its own.
    expect(await keyStatuses(code)).toEqual({ available: 1, sold: 200 });
    const perOrder = await t.shop.db.knex('card_keys').whereIn('order_id', t.shop.db.knex('orders').where('title', 'like', `%${code}`).select('id')).groupBy('order_id').count({ n: '*' });
    expect(perOrder.map((r) => Number(r.n))).toEqual(Array(200).fill(1));
    expect(await verifyLedger(t.shop)).toMatchObject({ ok: true, drift: [], unbalanced: [], negative: [] });
  });

  it('goes round a pool of several keys, and more stock can be set at any time', async () => {
    const { code, keys } = await sharedSku(4, 2);
    const u = await t.createUser({ balance: PRICE * 20 });
    const buyer = await t.client().login(u.email, u.password);
    const got: string[] = [];
    for (let i = 0; i < 2; i++) got.push(...(await buyer.post('/api/store/checkout', { sku: code, quantity: 2, payment: 'wallet' })).body.order.keys.map((k: { card: string }) => k.card));
    expect(got.sort()).toEqual([keys[0], keys[0], keys[1], keys[1]]);
    expect((await buyer.post('/api/store/checkout', { sku: code, quantity: 1, payment: 'wallet' })).body.error.code).toBe('out_of_stock');
    expect((await admin.put(`/api/admin/inventory/${code}/options`, { stock: 10 })).status).toBe(204);
    expect((await buyer.post('/api/store/checkout', { sku: code, quantity: 1, payment: 'wallet' })).status).toBe(201);
    expect(await counter(code)).toBe(9);
    // An import adds keys to the pool and leaves the stock as set.
    expect((await admin.post(`/api/admin/inventory/${code}/import`, { keys: 'POOL-3' })).body.added).toBe(1);
    expect(await counter(code)).toBe(9);
    // The storefront says it is shared.
    const product = (await t.client().get('/api/store/products')).body.products.flatMap((p: { skus: Array<{ code: string }> }) => p.skus).find((s: { code: string }) => s.code === code);
    expect(product).toMatchObject({ shared: true, stock: 9 });
  });

  it('holds a copy for an unpaid gateway order, delivers it when paid and drops it when the order expires', async () => {
    const { code, keys } = await sharedSku(5);
    const place = async () => (await t.client().post('/api/store/checkout', { sku: code, quantity: 2, contact: 'guest@example.com', payment: 'dummy' })).body;
    const paid = await place();
    const lapsed = await place();
    expect(await counter(code)).toBe(1);
    expect(await keyStatuses(code)).toEqual({ available: 1, reserved: 4 });
    expect((await t.notify({ orderNo: paid.order.no, amount: PRICE * 2 })).text).toBe('ok');
    const view = await t.client().get(`/api/store/orders/${paid.order.no}?token=${encodeURIComponent(paid.token)}`);
    expect(view.body.order).toMatchObject({ status: 'delivered', keys: [{ card: keys[0] }, { card: keys[0] }] });

    await t.shop.db.knex('orders').where('no', lapsed.order.no).update({ expires_at: 1 });
    expect(await expireUnpaid(t.shop)).toBeGreaterThanOrEqual(1);
    expect(await counter(code)).toBe(3);
    expect(await keyStatuses(code)).toEqual({ available: 1, sold: 2 });
  });

  it('refuses bad options naming the field, a stock for unique keys, and a switch while keys are held', async () => {
    const { code } = await cardSku(t.shop, { keys: 3 });
    for (const body of [{ mode: 'loop' }, { mode: 'shared', stock: -1 }, { mode: 'shared', stock: 1.5 }, { stock: 5 }]) {
      const r = await admin.put(`/api/admin/inventory/${code}/options`, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(Object.keys(r.body.error.fields)).toEqual([Object.keys(body).at(-1)]);
    }
    expect(await counter(code)).toBe(3);
    await t.client().post('/api/store/checkout', { sku: code, quantity: 1, contact: 'guest@example.com', payment: 'dummy' });
    const held = await admin.put(`/api/admin/inventory/${code}/options`, { mode: 'shared', stock: 50 });
    expect(held.status).toBe(400);
    expect(held.body.error.fields).toEqual({ mode: expect.any(String) });
    expect(await counter(code)).toBe(2);
    // With no order holding keys it switches; back to unique, the stock is its keys again.
    const { code: other } = await sharedSku(50, 2);
    expect((await admin.put(`/api/admin/inventory/${other}/options`, { mode: 'unique' })).status).toBe(204);
    expect(await counter(other)).toBe(2);
  });

  it('switches a SKU to shared keys from the console, and both themes say the key is shared', async () => {
    const { code } = await cardSku(t.shop, { keys: 1 });
    const csrf = await admin.csrf(`/admin/inventory/${code}`);
    const r = await admin.post(`/admin/inventory/${code}/options`, new URLSearchParams({ _csrf: csrf, dedupe: '1', mode: 'shared', stock: '25' }));
    expect(r.status).toBe(303);
    expect(await counter(code)).toBe(25);
    expect((await admin.get(`/admin/inventory/${code}`)).text).toMatch(/<option value="shared" selected/);
    const page = await t.client().get(`/product/${code.toLowerCase()}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('data-shared');
    expect(page.text).toContain('共享卡密');

    const wholesale = await startTestShop({ dialect, config: { theme: path.resolve('themes/wholesale') } });
    try {
      const sku = await cardSku(wholesale.shop, { keys: 1 });
      const a = await wholesale.createUser({ role: 'admin' });
      const boss = await wholesale.client().login(a.email, a.password);
      expect((await boss.put(`/api/admin/inventory/${sku.code}/options`, { mode: 'shared', stock: 7 })).status).toBe(204);
      const grid = await wholesale.client().get(`/product/${sku.code.toLowerCase()}`);
      expect(grid.text).toContain('data-shared');
    } finally {
      await wholesale.close();
    }
  });
});
