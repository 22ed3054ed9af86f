import { stockOf, verifyLedger } from '@cardshop/core';
import { startTestShop, TEST_DIALECTS, type TestClient, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku } from './fixtures.js';

const PRICE = 990;

describe.each(TEST_DIALECTS)('parallel wallet checkouts (%s)', (dialect) => {
  let t: TestShop;

  beforeAll(async () => {
    t = await startTestShop({ dialect });
  });
  afterAll(() => t?.close());

  it('sells 300 keys to 500 parallel buyers exactly once each', async () => {
    const { code, keys } = await cardSku(t.shop, { keys: 300, price: PRICE });
    const buyers: Array<{ id: number; client: TestClient }> = [];
    for (let i = 0; i < 100; i++) {
      const u = await t.createUser({ balance: PRICE * 10 });
      buyers.push({ id: u.id, client: await t.client().login(u.email, u.password) });
    }

    const results = await Promise.all(
      Array.from({ length: 500 }, (_, i) => buyers[i % buyers.length]!.client.post('/api/store/checkout', { sku: code, quantity: 1, payment: 'wallet' })),
    );

    const delivered = results.filter((r) => r.status === 201);
    const refused = results.filter((r) => r.status !== 201);
    expect(delivered).toHaveLength(300);
    expect(refused).toHaveLength(200);
    for (const r of refused) {
      expect(r.status).toBe(409);
      expect(r.body.error.code).toBe('out_of_stock');
    }

    const sold = delivered.flatMap((r) => r.body.order.keys.map((k: { card: string }) => k.card));
    expect(new Set(sold).size).toBe(300);
    expect(new Set(sold)).toEqual(new Set(keys));

    // the database agrees: each key in one order, each order with one key
    const knex = t.shop.db.knex;
    const perOrder = await knex('card_keys').whereNotNull('order_id').groupBy('order_id').select('order_id').count({ n: '*' });
    expect(perOrder).toHaveLength(300);
    expect(perOrder.every((r) => Number(r.n) === 1)).toBe(true);
    expect(await stockOf(t.shop, code)).toEqual({ counter: 0, available: 0 });

    // every balance is what that buyer's delivered orders say
    const paidBy = new Map<number, number>();
    for (const r of delivered) {
      const order = await knex('orders').where('no', r.body.order.no).first('user_id', 'amount');
      paidBy.set(order.user_id, (paidBy.get(order.user_id) ?? 0) + Number(order.amount));
    }
    for (const b of buyers) {
      const me = await b.client.get('/api/store/me');
      expect(me.body.wallet.balance).toBe(PRICE * 10 - (paidBy.get(b.id) ?? 0));
    }
    const ledger = await verifyLedger(t.shop);
    expect(ledger).toMatchObject({ ok: true, drift: [], unbalanced: [], negative: [] });
  });

  it('never lets one buyer spend more than the balance, however many tabs pay at once', async () => {
    const { code } = await cardSku(t.shop, { keys: 200, price: PRICE });
    const u = await t.createUser({ balance: PRICE * 7 + 500 });
    const client = await t.client().login(u.email, u.password);

    const results = await Promise.all(
      Array.from({ length: 60 }, () => client.post('/api/store/checkout', { sku: code, quantity: 1, payment: 'wallet' })),
    );
    const ok = results.filter((r) => r.status === 201);
    expect(ok).toHaveLength(7);
    for (const r of results.filter((r) => r.status !== 201)) expect(r.body.error.code).toBe('insufficient_balance');

    expect((await client.get('/api/store/me')).body.wallet.balance).toBe(500);
    // keys not paid for stay in stock
    expect(await stockOf(t.shop, code)).toEqual({ counter: 193, available: 193 });
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });

  it('sells multi-key orders without splitting or sharing keys', async () => {
    const { code } = await cardSku(t.shop, { keys: 50, price: 100, maxQuantity: 10 });
    const users = await Promise.all(Array.from({ length: 20 }, () => t.createUser({ balance: 100_000 })));
    const clients = await Promise.all(users.map((u) => t.client().login(u.email, u.password)));
    const results = await Promise.all(
      clients.map((c, i) => c.post('/api/store/checkout', { sku: code, quantity: (i % 4) + 1, payment: 'wallet' })),
    );
    const delivered = results.filter((r) => r.status === 201);
    const keys = delivered.flatMap((r) => r.body.order.keys.map((k: { card: string }) => k.card));
    for (const r of delivered) expect(r.body.order.keys).toHaveLength(r.body.order.quantity);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.length).toBe(50 - (await stockOf(t.shop, code)).available);
    expect((await stockOf(t.shop, code)).counter).toBe((await stockOf(t.shop, code)).available);
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });
});
