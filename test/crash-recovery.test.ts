import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setRoute } from '@cardshop/core';
import { signDummy, startTestShop, TEST_DIALECTS, TestClient, type TestShop } from '@cardshop/core/testing';
import { startFakeSupplier, type FakeSupplier } from '@cardshop/plugin-supplier-http/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku, otherSku } from './fixtures.js';
import { BIN, startShopProcess, until, writeConfig, type ShopProcess } from './shop-process.js';

/**
 * `cardshop start` killed (SIGKILL, through CARDSHOP_CRASH_AT: core/src/crash.ts) at chosen points
 * of checkout, payment notify, delivery and a supplier top-up, then started again: every paid
 * order ends delivered or refunded, no key is sold twice, no supplier order is made twice, the
 * ledger verifies and no job stays claimed.
 */
describe.each(TEST_DIALECTS)('cardshop start killed and started again (%s)', (dialect) => {
  let fake: FakeSupplier;
  let t: TestShop;
  let root: string;
  let card: { code: string; keys: string[] };
  const processes: ShopProcess[] = [];

  beforeAll(async () => {
    fake = await startFakeSupplier();
    // This process writes the fixtures and checks the database; the children serve and deliver.
    t = await startTestShop({ dialect, listen: false });
    root = mkdtempSync(path.join(tmpdir(), 'cardshop-crash-'));
    // A short delivery timeout, so the lease of a killed worker's job runs out soon (2 × 1 s + 5 s).
    writeConfig(
      root,
      { logLevel: 'error', publicUrl: 'http://127.0.0.1:9', delivery: { concurrency: 2, pollMs: 50, timeoutMs: 1_000, backoffMs: 0, maxAttempts: 50 } },
      { id: 'kachong', baseUrl: fake.url, merchantId: '10086', secret: 'fake-supplier-secret', timeoutMs: 900, response: { notFoundCodes: ['404'] } },
      { dummyPayments: true },
    );
    card = await cardSku(t.shop, { keys: 20, price: 1000 });
    await otherSku(t.shop, 'direct', 'TOPUP', 1000);
    await setRoute(t.shop, 'TOPUP', { supplier: 'kachong', supplierSku: 'success', cost: 850 });
  });

  afterAll(async () => {
    for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await t?.close();
    await fake?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  const start = async (crashAt?: string) => {
    const p = await startShopProcess(t, root, crashAt ? { CARDSHOP_CRASH_AT: crashAt } : {});
    processes.push(p);
    return p;
  };

  async function signedIn(url: string) {
    const buyer = await t.createUser({ balance: 100_000 });
    const c = new TestClient(url);
    expect((await c.post('/api/store/auth/login', { email: buyer.email, password: buyer.password })).status).toBe(200);
    return { buyer, c };
  }

  /** Waits for `shop` to have died at `point` and starts another: it must keep the promises the dead one made. */
  async function afterRestart(point: string, buyerId: number, shop: ShopProcess) {
    await died(point, shop);
    const again = await start();
    await settled(point, buyerId, again);
    return again;
  }

  async function died(point: string, shop: ShopProcess) {
    expect((await shop.exited).signal, `${point}: ${shop.output()}`).toBe('SIGKILL');
  }

  /** Every order of the buyer ends delivered or refunded, and nothing was done twice. */
  async function settled(point: string, buyerId: number, again: ShopProcess) {
    const orders = () => t.shop.db.knex('orders').where('user_id', buyerId).select('id', 'no', 'status', 'product_type', 'quantity');
    await until(
      async () => `every order of ${point} to be settled: ${JSON.stringify(await orders())} (${again.output()})`,
      async () => (await orders()).every((o) => ['delivered', 'refunded'].includes(o.status)),
    );
    for (const o of await orders()) {
      const keys = await t.shop.db.knex('card_keys').where('order_id', o.id).count({ n: '*' }).first();
      if (o.status === 'delivered' && o.product_type === 'card') expect(Number(keys?.n)).toBe(Number(o.quantity));
      if (o.product_type === 'direct') {
        // Made once at the supplier under the order number, however often it was asked.
        expect([...fake.orders.values()].filter((f) => f.reference === o.no)).toHaveLength(o.status === 'delivered' ? 1 : 0);
        expect(await t.shop.db.knex('journal_transactions').where('id', `order:${o.no}:cost`).count({ n: '*' }).first()).toMatchObject({ n: o.status === 'delivered' ? 1 : 0 });
      }
    }
    // No key twice: every sold key belongs to one delivered order, and the counter matches the stock.
    const sold = await t.shop.db.knex('card_keys').whereNotNull('order_id').select('order_id');
    const delivered = new Set((await t.shop.db.knex('orders').where('status', 'delivered').pluck('id')).map(Number));
    expect(sold.every((k) => delivered.has(Number(k.order_id)))).toBe(true);
    const [{ stock }] = await t.shop.db.knex('skus').where('code', card.code).select('stock');
    const available = await t.shop.db.knex('card_keys').where('status', 'available').count({ n: '*' }).first();
    expect(Number(stock)).toBe(Number(available?.n));
    // No job stays claimed: one the dead process held is taken over; others (the buyer's mail, an
    // alert) may be running this moment and finish soon.
    const running = () => t.shop.db.knex('delivery_jobs').where('status', 'running').select('id', 'kind', 'attempts');
    await until(async () => `no job left running: ${JSON.stringify(await running())}`, async () => (await running()).length === 0, 30_000);
    const verify = spawnSync(process.execPath, [BIN, 'ledger', 'verify'], {
      cwd: root,
      env: { ...process.env, CARDSHOP_SECRET: t.shop.config.secret, CARDSHOP_DATABASE: t.shop.config.database, CARDSHOP_LOCALE: 'en' },
      encoding: 'utf8',
    });
    expect(verify.status, verify.stdout + verify.stderr).toBe(0);
  }

  const stop = async (p: ShopProcess) => {
    p.child.kill('SIGTERM');
    expect(await p.exited).toEqual({ code: 0, signal: null });
  };

  it('checkout.committed: the order the buyer never heard about is delivered, its key sold once', async () => {
    const shop = await start('checkout.committed');
    const { buyer, c } = await signedIn(shop.url);
    await expect(c.post('/api/store/checkout', { sku: card.code, payment: 'wallet' })).rejects.toThrow();
    const again = await afterRestart('checkout.committed', buyer.id, shop);
    // The buyer finds it in the account, with its key.
    const next = new TestClient(again.url);
    await next.post('/api/store/auth/login', { email: buyer.email, password: buyer.password });
    const mine = await next.get('/api/store/orders');
    expect(mine.status).toBe(200);
    expect(mine.body.orders.map((o: { status: string }) => o.status)).toEqual(['delivered']);
    await stop(again);
  });

  it('notify.paid: the gateway sends the notify again, the order is delivered once', async () => {
    const shop = await start('notify.paid');
    const { buyer, c } = await signedIn(shop.url);
    const placed = await c.post('/api/store/checkout', { sku: 'TOPUP', payment: 'dummy', fields: { phone: '13800138000' } });
    expect(placed.status, placed.text).toBe(201);
    const { no, amount } = placed.body.order;
    const notify = (url: string) => {
      const { body, signature } = signDummy({ orderNo: no, amount, tradeNo: `T-${no}`, status: 'paid' });
      return fetch(`${url}/pay/dummy/notify`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-dummy-signature': signature } });
    };
    await expect(notify(shop.url)).rejects.toThrow();
    await died('notify.paid', shop);
    // Paid in the database, but the gateway never got its answer: it notifies again.
    expect(await t.shop.db.knex('orders').where('no', no).first('status')).toEqual({ status: 'paid' });
    const again = await start();
    expect((await notify(again.url)).status).toBe(200);
    await settled('notify.paid', buyer.id, again);
    await stop(again);
  });

  it.each(['delivery.claimed', 'supplier.placed'])('%s: the top-up is taken over after the lease and made at the supplier once', async (point) => {
    const shop = await start(point);
    const { buyer, c } = await signedIn(shop.url);
    const placed = await c.post('/api/store/checkout', { sku: 'TOPUP', payment: 'wallet', fields: { phone: '13800138000' } });
    expect(placed.status, placed.text).toBe(201);
    const again = await afterRestart(point, buyer.id, shop);
    if (point === 'supplier.placed') expect(fake.queries).toContain(placed.body.order.no);
    await stop(again);
  });
});
