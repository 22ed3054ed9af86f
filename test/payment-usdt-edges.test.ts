import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { balanceOf, verifyLedger } from '@cardshop/core';
import usdt from '@cardshop/plugin-payment-usdt';
import { startTestShop, TEST_DIALECTS, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeTronGrid, tronAddress, type FakeTronGrid } from '../plugins/payment-usdt/src/testing/fake-trongrid.js';
import { cardSku } from './fixtures.js';

const MINUTE = 60_000;

/** A shop with its own receiving address (a transfer of one test is never seen by another). */
async function start(dialect: 'sqlite' | 'mysql', grid: FakeTronGrid, address: string, o: Record<string, unknown>) {
  const t = await startTestShop({ dialect, config: { plugins: [usdt({ addresses: [address], rate: '7.2', apiUrl: grid.url, pollSeconds: 0, ...o })] } });
  const u = await t.createUser({ role: 'admin' });
  const admin = await t.client().login(u.email, u.password);
  const csrf = await admin.csrf('/plugins/usdt/');
  const scan = async () => (await admin.post('/plugins/usdt/scan', { _csrf: csrf }, { accept: 'application/json' })).body as { seen: number };
  return { t, admin, csrf, scan };
}

/** A member's order paid through the gateway: the buyer, its client and the payment to make. */
async function memberOrder(t: TestShop, sku: string) {
  const buyer = await t.createUser();
  const c = await t.client().login(buyer.email, buyer.password);
  const placed = await c.post('/api/store/checkout', { sku, payment: 'usdt' });
  expect(placed.status).toBe(201);
  return { buyer, no: placed.body.order.no as string, pay: placed.body.payment as { amount: string; expiresAt: number } };
}

const transferOf = async (t: TestShop, txId: string) => t.shop.db.knex('usdt_transfers').where('tx_id', txId).first();
const orderOf = async (t: TestShop, no: string) => t.shop.db.knex('orders').where('no', no).first();

describe.each(TEST_DIALECTS)('USDT transfers that are late, off the amount or unknown (%s)', (dialect) => {
  let grid: FakeTronGrid;
  beforeAll(async () => {
    grid = await startFakeTronGrid();
  });
  afterAll(() => grid.close());

  it('late: kept in the wallet; off the amount or unknown: listed for review, and 补单 with the hash delivers', async () => {
    const ADDRESS = tronAddress('edges-review');
    const { t, admin, csrf, scan } = await start(dialect, grid, ADDRESS, { late: 'wallet', mismatch: 'review' });
    try {
      const { code } = await cardSku(t.shop, { keys: 5, price: 1000 });
      const { code: dearer } = await cardSku(t.shop, { keys: 5, price: 2000 });
      const late = await memberOrder(t, code);
      const short = await memberOrder(t, dearer); // 2.7778 USDT: no other order within 5 % of it
      const paid = await memberOrder(t, code);

      // the API is down for a while: nothing is lost, the next read finds everything
      grid.failWith = 429;
      const lateTx = grid.send({ to: ADDRESS, amount: late.pay.amount, at: late.pay.expiresAt + 5 * MINUTE });
      const shortTx = grid.send({ to: ADDRESS, amount: '2.70' }); // 2.8 % short of 2.7778
      const unknownTx = grid.send({ to: ADDRESS, amount: '55' });
      const paidTx = grid.send({ to: ADDRESS, amount: paid.pay.amount });
      expect((await scan()).seen).toBe(0);
      grid.failWith = 0;
      expect((await scan()).seen).toBe(4);

      // late: the order is not delivered, the money is in the buyer's balance at the order's rate
      expect(await orderOf(t, late.no)).toMatchObject({ status: 'pending_payment' });
      expect((await orderOf(t, late.no)).reason).toContain('after the payment window');
      expect(await balanceOf(t.shop, late.buyer.id)).toBe(1000);
      expect(await transferOf(t, lateTx.transaction_id)).toMatchObject({ outcome: 'late', action: 'kept', order_no: late.no });
      expect(await orderOf(t, paid.no)).toMatchObject({ status: 'delivered', trade_no: paidTx.transaction_id });

      // short and unknown wait for an admin, in the console and its JSON
      const review = (await admin.get('/plugins/usdt/transfers?review=1')).body.transfers as Array<{ txId: string; outcome: string; orderNo: string | null; amount: string }>;
      expect(review.map((x) => [x.txId, x.outcome, x.orderNo]).sort()).toEqual(
        [
          [shortTx.transaction_id, 'short', short.no],
          [unknownTx.transaction_id, 'unmatched', null],
        ].sort(),
      );
      expect(review.find((x) => x.outcome === 'short')!.amount).toBe('2.700000');
      const page = await admin.get('/plugins/usdt/');
      expect(page.text).toContain(unknownTx.transaction_id);
      expect(page.text).toContain('少付');
      expect(await orderOf(t, short.no)).toMatchObject({ status: 'pending_payment' });
      expect(await balanceOf(t.shop, short.buyer.id)).toBe(0);

      // the admin accepts the short payment by hand, with the hash as trade number: delivered once
      const confirm = await admin.post(`/admin/payments/orders/${short.no}/confirm`, new URLSearchParams({ _csrf: csrf, tradeNo: shortTx.transaction_id, note: 'short by the exchange fee' }));
      expect(confirm.status).toBe(303);
      expect(await orderOf(t, short.no)).toMatchObject({ status: 'delivered', trade_no: shortTx.transaction_id });
      // and the transfer leaves the review list
      await t.shop.hooks.idle();
      expect(await transferOf(t, shortTx.transaction_id)).toMatchObject({ action: 'closed' });
      expect((await admin.get('/plugins/usdt/transfers?review=1')).body.transfers.map((x: { txId: string }) => x.txId)).toEqual([unknownTx.transaction_id]);

      // reading everything again changes nothing
      await scan();
      expect(await balanceOf(t.shop, late.buyer.id)).toBe(1000);
      expect(await t.shop.db.knex('usdt_transfers').count({ n: '*' }).first()).toMatchObject({ n: 4 });
      expect((await verifyLedger(t.shop)).ok).toBe(true);
    } finally {
      await t.close();
    }
  });

  it('accept late, keep what is off the amount; the rate comes from its source', async () => {
    const rates = createServer((_req, res) => res.end(JSON.stringify({ data: { rate: 7 } })));
    await new Promise<void>((r) => rates.listen(0, '127.0.0.1', r));
    const rateUrl = `http://127.0.0.1:${(rates.address() as AddressInfo).port}/rate`;
    const ADDRESS = tronAddress('edges-accept');
    const { t, scan } = await start(dialect, grid, ADDRESS, { late: 'accept', mismatch: 'wallet', rateSource: { url: rateUrl, path: 'data.rate' } });
    try {
      const { code } = await cardSku(t.shop, { keys: 5, price: 1000 });
      const { code: dearer } = await cardSku(t.shop, { keys: 5, price: 2000 });
      const late = await memberOrder(t, code);
      // 10.00 CNY at 7 (the source's, not the fixed 7.2) = 1.428571… USDT
      expect(late.pay.amount).toBe('1.4286');
      const over = await memberOrder(t, dearer);
      expect(over.pay.amount).toBe('2.8572');
      const twice = await memberOrder(t, code);

      grid.send({ to: ADDRESS, amount: late.pay.amount, at: late.pay.expiresAt + 5 * MINUTE });
      grid.send({ to: ADDRESS, amount: '2.90' });
      grid.send({ to: ADDRESS, amount: twice.pay.amount });
      const extra = grid.send({ to: ADDRESS, amount: twice.pay.amount });
      await scan();

      expect(await orderOf(t, late.no)).toMatchObject({ status: 'delivered' });
      // over: 2.90 USDT at 7 = 20.30 CNY kept in the wallet, the order still waits
      expect(await orderOf(t, over.no)).toMatchObject({ status: 'pending_payment' });
      expect(await balanceOf(t.shop, over.buyer.id)).toBe(2030);
      // paid twice: delivered once, the second transfer kept for the buyer
      expect(await orderOf(t, twice.no)).toMatchObject({ status: 'delivered' });
      expect(await transferOf(t, extra.transaction_id)).toMatchObject({ outcome: 'extra', action: 'kept', settled: expect.anything() });
      expect(await balanceOf(t.shop, twice.buyer.id)).toBe(1000);
      expect((await verifyLedger(t.shop)).ok).toBe(true);
    } finally {
      await t.close();
      rates.close();
    }
  });
});
