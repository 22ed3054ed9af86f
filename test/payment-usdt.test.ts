import { verifyLedger } from '@cardshop/core';
import usdt from '@cardshop/plugin-payment-usdt';
import { startTestShop, TEST_DIALECTS, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeTronGrid, tronAddress, type FakeTronGrid } from '../plugins/payment-usdt/src/testing/fake-trongrid.js';
import { cardSku } from './fixtures.js';

const A1 = tronAddress('receiving-1');
const A2 = tronAddress('receiving-2');
const API_KEY = 'tron-pro-key-123';

const settings = (grid: FakeTronGrid, o: Record<string, unknown> = {}) => ({ addresses: [A1], rate: '7.2', apiUrl: grid.url, apiKey: API_KEY, pollSeconds: 0, ...o });

async function adminOf(t: TestShop) {
  const u = await t.createUser({ role: 'admin' });
  const admin = await t.client().login(u.email, u.password);
  const csrf = await admin.csrf('/plugins/usdt/');
  return {
    client: admin,
    /** The console's "read the chain now". */
    scan: async () => (await admin.post('/plugins/usdt/scan', { _csrf: csrf }, { accept: 'application/json' })).body as { seen: number },
  };
}

const orderOf = async (t: TestShop, no: string) => t.shop.db.knex('orders').where('no', no).first();
const checkout = (t: TestShop, sku: string, contact = 'buyer@example.com') => t.client().post('/api/store/checkout', { sku, contact, payment: 'usdt' });

describe.each(TEST_DIALECTS)('USDT (TRC20) payments (%s)', (dialect) => {
  let grid: FakeTronGrid;
  beforeAll(async () => {
    grid = await startFakeTronGrid({ apiKey: API_KEY });
  });
  afterAll(() => grid.close());

  it('an order gets its own amount and a payment page; the exact transfer delivers it once', async () => {
    const t = await startTestShop({ dialect, config: { plugins: [usdt(settings(grid))] } });
    try {
      const admin = await adminOf(t);
      const { code, keys } = await cardSku(t.shop, { keys: 3, price: 1000 });
      const first = await checkout(t, code);
      expect(first.status).toBe(201);
      // 10.00 CNY at 7.2 = 1.388889 USDT, rounded up to 0.0001
      expect(first.body.payment).toMatchObject({ kind: 'transfer', network: 'TRC20', asset: 'USDT', address: A1, amount: '1.3889' });
      const second = await checkout(t, code, 'other@example.com');
      expect(second.body.payment.amount).toBe('1.3890');

      // the payment page, in both languages, with the QR code made locally and a countdown
      for (const [lang, words] of [['zh-CN', '转账金额'], ['en', 'Send exactly 1.3889 USDT']] as const) {
        const page = await t.client().get(`/order/${first.body.order.no}?token=${encodeURIComponent(first.body.token)}&lang=${lang}`);
        expect(page.status).toBe(200);
        expect(page.text).toContain(words);
        expect(page.text).toContain(A1);
        expect(page.text).toContain(`data-countdown="${first.body.payment.expiresAt}"`);
        expect(page.text).toMatch(/src="data:image\/svg\+xml;base64,[A-Za-z0-9+/]+(?:&#x3D;)*"/); // Handlebars escapes "="
      }

      // not confirmed yet, another token, another recipient: nothing is paid
      grid.send({ to: A1, amount: '1.3889', confirmed: false });
      grid.send({ to: A1, amount: '1.3889', contract: tronAddress('fake-token') });
      await admin.scan();
      expect((await orderOf(t, first.body.order.no)).status).toBe('pending_payment');

      const paid = grid.send({ to: A1, amount: '1.3889' });
      expect((await admin.scan()).seen).toBe(1);
      const order = await orderOf(t, first.body.order.no);
      expect(order).toMatchObject({ status: 'delivered', trade_no: paid.transaction_id });
      const view = await t.client().get(`/api/store/orders/${first.body.order.no}?token=${encodeURIComponent(first.body.token)}`);
      expect(view.body.order.keys.map((k: { card: string }) => k.card)).toEqual([keys[0]]);
      // the second order is still waiting; reading again changes nothing
      await admin.scan();
      expect((await orderOf(t, second.body.order.no)).status).toBe('pending_payment');
      expect(await t.shop.db.knex('journal_transactions').where('id', `order:${first.body.order.no}:pay`).count({ n: '*' }).first()).toMatchObject({ n: 1 });
      expect(grid.requests.at(-1)).toMatchObject({ path: `/v1/accounts/${A1}/transactions/trc20`, apiKey: API_KEY, query: { only_confirmed: 'true', contract_address: 'TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t' } });
      expect((await verifyLedger(t.shop)).ok).toBe(true);

      // the console lists it; a buyer may not see it
      const page = await admin.client.get('/plugins/usdt/?lang=en');
      expect(page.text).toContain(paid.transaction_id);
      expect((await t.client().get('/plugins/usdt/transfers')).status).toBe(401);
    } finally {
      await t.close();
    }
  });

  it('hundreds of parallel orders never share an amount on an address', async () => {
    const t = await startTestShop({ dialect, config: { plugins: [usdt(settings(grid, { addresses: [A1, A2], maxSteps: 100 }))] } });
    try {
      const { code } = await cardSku(t.shop, { keys: 210, price: 1000 });
      const placed = await Promise.all(Array.from({ length: 200 }, (_, i) => checkout(t, code, `p${i}@example.com`)));
      expect(placed.map((r) => r.status).filter((s) => s !== 201)).toEqual([]);
      const pairs = placed.map((r) => `${r.body.payment.address} ${r.body.payment.amount}`);
      expect(new Set(pairs).size).toBe(200);
      // the smallest amounts first, on both addresses: 1.3889 … 1.3988 twice
      expect(placed.filter((r) => r.body.payment.amount === '1.3889').length).toBe(2);
      // both addresses full at 100 steps each: the next order is refused, and nothing is held for it
      const more = await Promise.all(Array.from({ length: 5 }, (_, i) => checkout(t, code, `full${i}@example.com`)));
      expect(more.map((r) => r.status)).toEqual([201, 201, 201, 201, 201].map(() => 502));
      expect(await t.shop.db.knex('usdt_payments').count({ n: '*' }).first()).toMatchObject({ n: 200 });
    } finally {
      await t.close();
    }
  });

  it('two watchers (two app processes on one database) credit each transfer once', async () => {
    const t = await startTestShop({ dialect, config: { plugins: [usdt(settings(grid, { addresses: [A2] }))] } });
    const other = await startTestShop({ dialect, config: { database: t.shop.config.database, secret: t.shop.config.secret, plugins: [usdt(settings(grid, { addresses: [A2] }))] } });
    try {
      const { code } = await cardSku(t.shop, { keys: 40, price: 1500 });
      const placed = await Promise.all(Array.from({ length: 30 }, (_, i) => checkout(t, code, `w${i}@example.com`)));
      for (const p of placed) grid.send({ to: A2, amount: p.body.payment.amount });
      const a = await adminOf(t);
      const b = await adminOf(other);
      await Promise.all([a.scan(), b.scan(), a.scan(), b.scan()]);
      // Two SQLite writers (not a deployment cardshop offers: one process writes) may leave a recorded
      // transfer unsettled on a lock; the next read settles it, still once.
      await a.scan();
      await b.scan();
      const orders = await t.shop.db.knex('orders').whereIn('no', placed.map((p) => p.body.order.no));
      expect(orders.map((o) => o.status)).toEqual(placed.map(() => 'delivered'));
      const keys = await t.shop.db.knex('card_keys').where('status', 'sold').whereIn('order_id', orders.map((o) => o.id)).count({ n: '*' }).first();
      expect(keys).toMatchObject({ n: 30 });
      expect(await t.shop.db.knex('journal_transactions').where('kind', 'purchase').count({ n: '*' }).first()).toMatchObject({ n: 30 });
      expect((await verifyLedger(t.shop)).ok).toBe(true);
    } finally {
      await other.close();
      await t.close();
    }
  });
});
