import { expireUnpaid, stockOf, verifyLedger } from '@cardshop/core';
import { dummyPayments, startTestShop, TEST_DIALECTS, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku } from './fixtures.js';

const keysBy = async (t: TestShop, skuCode: string) => {
  const rows: Array<{ status: string; n: number | string }> = await t.shop.db
    .knex('card_keys')
    .join('skus', 'skus.id', 'card_keys.sku_id')
    .where('skus.code', skuCode)
    .groupBy('card_keys.status')
    .select('card_keys.status')
    .count({ n: '*' });
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
};

describe.each(TEST_DIALECTS)('unpaid orders hold stock without letting bots lock it (%s)', (dialect) => {
  let t: TestShop;

  beforeAll(async () => {
    t = await startTestShop({
      dialect,
      config: { trustProxy: true, plugins: [dummyPayments()], checkout: { maxUnpaid: { contact: 3, ip: 5, session: 3 } } },
    });
  });
  afterAll(() => t?.close());

  const checkout = (code: string, from: string, contact: string) =>
    t.client().post('/api/store/checkout', { sku: code, contact, payment: 'dummy' }, { 'x-forwarded-for': from });

  it('lets 1,000 unpaid orders from one address hold only the configured number; a real buyer still buys', async () => {
    const { code } = await cardSku(t.shop, { keys: 20, price: 100 });
    const answers: number[] = [];
    for (let i = 0; i < 1000; i += 50) {
      const wave = await Promise.all(Array.from({ length: 50 }, (_, j) => checkout(code, '203.0.113.66', `bot${i + j}@example.com`)));
      for (const r of wave) {
        answers.push(r.status);
        if (r.status === 429) expect(r.body.error.code).toBe('too_many_unpaid');
      }
    }
    expect(answers.filter((s) => s === 201)).toHaveLength(5);
    expect(answers.filter((s) => s === 429)).toHaveLength(995);
    expect(await stockOf(t.shop, code)).toEqual({ counter: 15, available: 15 });

    // One contact from many addresses: its own limit.
    const spread = await Promise.all(Array.from({ length: 10 }, (_, i) => checkout(code, `198.51.100.${i + 1}`, 'same@example.com')));
    expect(spread.filter((r) => r.status === 201)).toHaveLength(3);
    expect(spread.find((r) => r.status === 429)!.body.error.fields).toHaveProperty('contact');

    // A real buyer elsewhere pays and gets a key.
    const real = await checkout(code, '192.0.2.10', 'real@example.com');
    expect(real.status).toBe(201);
    expect((await t.notify({ orderNo: real.body.order.no, amount: 100 })).text).toBe('ok');
    const view = await t.client().get(`/api/store/orders/${real.body.order.no}?token=${encodeURIComponent(real.body.token)}`);
    expect(view.body.order.status).toBe('delivered');
    expect(view.body.order.keys).toHaveLength(1);

    // A member is one session, wherever it comes from.
    const member = await t.createUser();
    const mc = await t.client().login(member.email, member.password);
    const mine = await Promise.all(
      Array.from({ length: 5 }, (_, i) => mc.post('/api/store/checkout', { sku: code, payment: 'dummy' }, { 'x-forwarded-for': `192.0.2.${100 + i}` })),
    );
    expect(mine.filter((r) => r.status === 201)).toHaveLength(3);

    // Expiry gives everything back, and frees the holders' places.
    await t.shop.db.knex('orders').where('status', 'pending_payment').update({ expires_at: Date.now() - 1 });
    await expireUnpaid(t.shop);
    expect(await stockOf(t.shop, code)).toEqual({ counter: 19, available: 19 });
    expect(Number((await t.shop.db.knex('unpaid_holds').sum({ n: 'unpaid' }).first())?.n ?? 0)).toBe(0);
    expect((await checkout(code, '203.0.113.66', 'bot-again@example.com')).status).toBe(201);
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });

  it('releases reserved keys exactly once while expiry runs in parallel with payments', async () => {
    const { code } = await cardSku(t.shop, { keys: 90, price: 250 });
    const placed = await Promise.all(Array.from({ length: 40 }, (_, i) => checkout(code, `10.1.${Math.floor(i / 4)}.${i % 4}`, `race${i}@example.com`)));
    expect(placed.every((r) => r.status === 201)).toBe(true);
    const orders = placed.map((r) => r.body.order as { no: string; quantity: number });
    expect(await stockOf(t.shop, code)).toEqual({ counter: 50, available: 50 });

    // Three in four are out of time; six expiry runs and a payment for every other order, all at
    // once: the payments of orders still in time, and of some whose time is up.
    const inTime = orders.filter((_, i) => i % 4 === 0);
    await t.shop.db.knex('orders').whereIn('no', orders.filter((o) => !inTime.includes(o)).map((o) => o.no)).update({ expires_at: Date.now() - 1 });
    const paying = orders.filter((_, i) => i % 2 === 0);
    await Promise.all([
      ...Array.from({ length: 6 }, () => expireUnpaid(t.shop)),
      ...paying.map((o) => t.notify({ orderNo: o.no, amount: 250 })),
    ]);
    await expireUnpaid(t.shop);

    const rows = await t.shop.db.knex('orders').whereIn('no', orders.map((o) => o.no)).select('id', 'no', 'status', 'reserved', 'refund_due');
    let delivered = 0;
    for (const row of rows) {
      const keys = Number((await t.shop.db.knex('card_keys').where('order_id', row.id).count({ n: '*' }).first())?.n);
      expect(Number(row.reserved)).toBe(0);
      if (inTime.some((o) => o.no === row.no)) expect(row.status).toBe('delivered'); // paid in time: always its keys
      if (row.status === 'delivered') {
        delivered++;
        expect(keys).toBe(1);
      } else {
        // Expired first: its key went back; a payment that came after it is kept for the buyer.
        expect(row.status).toBe('expired');
        expect(keys).toBe(0);
        if (paying.some((o) => o.no === row.no)) expect(Boolean(row.refund_due)).toBe(true);
      }
    }
    const counts = await keysBy(t, code);
    expect(counts.reserved ?? 0).toBe(0);
    expect(delivered).toBeGreaterThanOrEqual(inTime.length);
    expect(counts.sold).toBe(delivered);
    expect(counts.available).toBe(90 - delivered);
    expect(await stockOf(t.shop, code)).toEqual({ counter: 90 - delivered, available: 90 - delivered });
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });
});
