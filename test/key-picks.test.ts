import path from 'node:path';
import { createApiKey, stockOf, verifyLedger } from '@cardshop/core';
import { dummyPayments, startTestShop, TEST_DIALECTS, type TestClient, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku } from './fixtures.js';

/** Key pre-selection (卡密预选): buyers pick keys from masked previews, at a surcharge, atomically. */

const PRICE = 1000;
const SURCHARGE = 150;

describe.each(TEST_DIALECTS)('picking keys (%s)', (dialect) => {
  let t: TestShop;
  let admin: TestClient;

  beforeAll(async () => {
    // Checkouts wait a moment to be committed together, so one batch holds many picks of one key.
    t = await startTestShop({ dialect, config: { plugins: [dummyPayments()], checkout: { batchWaitMs: 20 } } });
    const a = await t.createUser({ role: 'admin' });
    admin = await t.client().login(a.email, a.password);
  });
  afterAll(() => t?.close());

  const pickableSku = async (keys: number, pick: object = { shown: 'head', chars: 6, surcharge: SURCHARGE }) => {
    const sku = await cardSku(t.shop, { keys, price: PRICE });
    expect((await admin.put(`/api/admin/inventory/${sku.code}/options`, { pick })).status).toBe(204);
    return sku;
  };
  const buyer = async (balance = PRICE * 10) => {
    const u = await t.createUser({ balance });
    return t.client().login(u.email, u.password);
  };

  it('lists masked previews, never the key, and sells the picked key at the surcharge', async () => {
    const { code, keys } = await pickableSku(3);
    const list = await t.client().get(`/api/store/skus/${code}/picks`);
    expect(list.status).toBe(200);
    expect(list.body).toMatchObject({ sku: code, surcharge: SURCHARGE, next: null });
    expect(list.body.picks).toHaveLength(3);
    for (const [i, p] of list.body.picks.entries()) {
      expect(p.preview).toBe(`${keys[i]!.slice(0, 6)}${'•'.repeat(8)}`);
      expect(JSON.stringify(list.body)).not.toContain(keys[i]);
    }

    const me = await buyer();
    const chosen = list.body.picks[2];
    const r = await me.post('/api/store/checkout', { sku: code, pick: [chosen.id], payment: 'wallet' });
    expect(r.status).toBe(201);
    expect(r.body.order).toMatchObject({ quantity: 1, unitPrice: PRICE + SURCHARGE, amount: PRICE + SURCHARGE, keys: [{ card: keys[2] }] });
    expect((await me.get('/api/store/me')).body.wallet.balance).toBe(PRICE * 10 - PRICE - SURCHARGE);
    // Gone from the list, and an ordinary order takes the oldest key left.
    expect((await t.client().get(`/api/store/skus/${code}/picks`)).body.picks.map((p: { id: number }) => p.id)).not.toContain(chosen.id);
    expect((await me.post('/api/store/checkout', { sku: code, payment: 'wallet' })).body.order).toMatchObject({ amount: PRICE, keys: [{ card: keys[0] }] });
    expect(await verifyLedger(t.shop)).toMatchObject({ ok: true });
  });

  it('gives a key picked by many buyers at once to exactly one of them, the others told at once', async () => {
    const { code } = await pickableSku(5);
    const [wanted, other] = (await t.client().get(`/api/store/skus/${code}/picks`)).body.picks;
    const buyers = await Promise.all(Array.from({ length: 20 }, () => buyer()));
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => buyers[i % buyers.length]!.post('/api/store/checkout', { sku: code, pick: i % 2 ? [wanted.id] : [wanted.id, other.id], payment: 'wallet' })),
    );
    const won = results.filter((r) => r.status === 201);
    expect(won).toHaveLength(1);
    for (const r of results.filter((r) => r.status !== 201)) {
      expect(r.status).toBe(409);
      expect(r.body.error).toMatchObject({ code: 'key_taken', fields: { pick: expect.any(String) } });
    }
    const sold = won[0]!.body.order.keys.length;
    expect(await stockOf(t.shop, code)).toEqual({ counter: 5 - sold, available: 5 - sold });
    const perKey = await t.shop.db.knex('card_keys').whereNotNull('order_id').whereIn('id', [wanted.id, other.id]).select('id', 'order_id');
    expect(perKey.every((k) => k.order_id !== null)).toBe(true);
    expect(await verifyLedger(t.shop)).toMatchObject({ ok: true, drift: [], unbalanced: [], negative: [] });
  });

  it('holds a picked key for an unpaid gateway order, so nobody else can pick or draw it', async () => {
    const { code, keys } = await pickableSku(2, { shown: 'tail', chars: 4, surcharge: 0 });
    const [first] = (await t.client().get(`/api/store/skus/${code}/picks`)).body.picks;
    expect(first.preview).toBe(`${'•'.repeat(8)}${keys[0]!.slice(-4)}`);
    const guest = await t.client().post('/api/store/checkout', { sku: code, pick: [first.id], contact: 'guest@example.com', payment: 'dummy' });
    expect(guest.status).toBe(201);
    const me = await buyer();
    expect((await me.post('/api/store/checkout', { sku: code, pick: [first.id], payment: 'wallet' })).body.error.code).toBe('key_taken');
    expect((await me.post('/api/store/checkout', { sku: code, payment: 'wallet' })).body.order.keys).toEqual([{ card: keys[1] }]);
    expect((await t.notify({ orderNo: guest.body.order.no, amount: PRICE })).text).toBe('ok');
    const paid = await t.client().get(`/api/store/orders/${guest.body.order.no}?token=${encodeURIComponent(guest.body.token)}`);
    expect(paid.body.order).toMatchObject({ status: 'delivered', keys: [{ card: keys[0] }] });
  });

  it('refuses picks it cannot honour, naming the field, and writes nothing', async () => {
    const { code } = await pickableSku(3);
    const plain = await cardSku(t.shop, { keys: 3 });
    const [a, b] = (await t.client().get(`/api/store/skus/${code}/picks`)).body.picks;
    const me = await buyer();
    const cases: Array<[object, string]> = [
      [{ sku: plain.code, pick: [a.id] }, 'pick'],
      [{ sku: code, pick: [a.id, a.id] }, 'pick'],
      [{ sku: code, pick: [a.id, b.id], quantity: 3 }, 'quantity'],
      [{ sku: code, pick: ['x'] }, 'pick.0'],
      [{ sku: code, pick: [] }, 'pick'],
    ];
    for (const [body, field] of cases) {
      const r = await me.post('/api/store/checkout', { ...body, payment: 'wallet' });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(Object.keys(r.body.error.fields)).toEqual([field]);
    }
    // A key of another SKU is not there to pick.
    const foreign = await t.shop.db.knex('card_keys').join('skus', 'skus.id', 'card_keys.sku_id').where('skus.code', plain.code).first('card_keys.id');
    expect((await me.post('/api/store/checkout', { sku: code, pick: [Number(foreign.id)], payment: 'wallet' })).body.error.code).toBe('key_taken');
    expect(await stockOf(t.shop, code)).toEqual({ counter: 3, available: 3 });
    expect((await t.client().get(`/api/store/skus/${plain.code}/picks`)).status).toBe(404);
    for (const pick of [{ shown: 'all' }, { shown: 'head', chars: 0 }, { shown: 'head', surcharge: -1 }]) {
      expect((await admin.put(`/api/admin/inventory/${code}/options`, { pick })).status, JSON.stringify(pick)).toBe(400);
    }
    expect((await admin.put(`/api/admin/inventory/${code}/options`, { mode: 'shared', stock: 5 })).body.error.fields).toHaveProperty('pick');
  });

  it('lets an Agent API caller list and pick keys', async () => {
    const { code, keys } = await pickableSku(2, { shown: 'card', chars: 4, surcharge: SURCHARGE });
    const agent = await t.createUser({ role: 'agent', balance: PRICE * 5 });
    const api = t.apiClient(await createApiKey(t.shop, agent.id, 'picks'));
    const list = await api.get(`/products/${code}/picks`);
    expect(list.status).toBe(200);
    // Keys without a password show only their start, even where the card number is to be shown.
    expect(list.body.picks[1].preview).toBe(`${keys[1]!.slice(0, 4)}${'•'.repeat(8)}`);
    const r = await api.post('/orders', { sku: code, pick: [list.body.picks[1].id] }, { 'idempotency-key': `pick-${dialect}-1` });
    expect(r.status).toBe(201);
    expect(r.body.order).toMatchObject({ quantity: 1, keys: [{ card: keys[1] }] });
  });

  it('is switched on from the console, shows pickable keys on the checkout page of both themes and buys the ones ticked', async () => {
    const { code, keys } = await cardSku(t.shop, { keys: 3, price: PRICE });
    const csrf0 = await admin.csrf(`/admin/inventory/${code}`);
    const on = await admin.post(`/admin/inventory/${code}/options`, new URLSearchParams({ _csrf: csrf0, dedupe: '1', mode: 'unique', pickShown: 'head', pickChars: '6', pickSurcharge: '1.50' }));
    expect(on.status).toBe(303);
    expect((await t.client().get(`/api/store/skus/${code}/picks`)).body).toMatchObject({ surcharge: 150 });
    expect((await admin.get(`/admin/inventory/${code}`)).text).toMatch(/<option value="head" selected/);
    const me = await buyer();
    const page = await me.get(`/checkout?sku=${code}`);
    expect(page.status).toBe(200);
    expect(page.text.match(/name="pick"/g)).toHaveLength(3);
    expect(page.text).not.toContain(keys[1]);
    const ids = [...page.text.matchAll(/name="pick" value="(\d+)"/g)].map((m) => m[1]!);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
    const r = await me.post('/checkout', new URLSearchParams([['_csrf', csrf], ['sku', code], ['quantity', '1'], ['pick', ids[1]!], ['pick', ids[2]!], ['payment', 'wallet']]));
    expect(r.status).toBe(303);
    const order = await me.get(r.headers.get('location')!);
    expect(order.text).toContain(keys[1]);
    expect(order.text).toContain(keys[2]);

    const wholesale = await startTestShop({ dialect, config: { theme: path.resolve('themes/wholesale') } });
    try {
      const sku = await cardSku(wholesale.shop, { keys: 2 });
      const a = await wholesale.createUser({ role: 'admin' });
      const boss = await wholesale.client().login(a.email, a.password);
      expect((await boss.put(`/api/admin/inventory/${sku.code}/options`, { pick: { shown: 'head', chars: 3, surcharge: 0 } })).status).toBe(204);
      const u = await wholesale.createUser({ balance: 10_000 });
      const shopper = await wholesale.client().login(u.email, u.password);
      expect(((await shopper.get(`/checkout?sku=${sku.code}`)).text.match(/name="pick"/g) ?? []).length).toBe(2);
    } finally {
      await wholesale.close();
    }
  });
});
