import { createCategory, createProduct, createSku, definePlugin, setRoute, verifyLedger, type ProductTypeDefinition } from '@cardshop/core';
import { createDummySupplier, dummyPayments, startTestShop, TEST_DIALECTS, type TestClient, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { otherSku } from './fixtures.js';

/** A product type from a plugin: vouchers issued by reference, shown with the plugin's own words. */
const issued = new Map<string, number>();
const voucher: ProductTypeDefinition = {
  name: 'voucher',
  label: { 'zh-CN': '到店券', en: 'Voucher' },
  async validateInput({ fields }) {
    if (fields.store === 'closed') return { store: 'that store is closed' };
  },
  async deliver({ reference, quantity }) {
    issued.set(reference, (issued.get(reference) ?? 0) + 1);
    return { status: 'delivered', keys: Array.from({ length: quantity }, (_, i) => ({ card: `V-${reference}-${i}` })) };
  },
  render: ({ keys }, { locale }) => keys.map((k) => `${locale === 'en' ? 'Voucher' : '券码'} ${k.card}`).join('\n'),
};
const vouchers = definePlugin({ name: 'vouchers', version: '1.0.0', core: '>=0.1.0', setup: (ctx) => ctx.productType(voucher) });

describe.each(TEST_DIALECTS)('the delivery engine (%s)', (dialect) => {
  const a = createDummySupplier('sup-a');
  const b = createDummySupplier('sup-b');
  let t: TestShop;
  let admin: TestClient;

  beforeAll(async () => {
    t = await startTestShop({
      dialect,
      config: {
        plugins: [a.plugin, b.plugin, vouchers(), dummyPayments()],
        // Retries at once and a short run time: the tests wait for outcomes, never for the clock.
        delivery: { backoffMs: 0, timeoutMs: 2_000, maxAttempts: 3, supplierPollMs: 60_000 },
      },
    });
    const boss = await t.createUser({ role: 'admin' });
    admin = await t.client().login(boss.email, boss.password);
  });
  afterAll(() => t?.close());

  /** A direct SKU routed to suppliers: [supplier, its sku, priority][]. */
  async function topup(code: string, routes: Array<[string, string, number]>, price = 500) {
    await otherSku(t.shop, 'direct', code, price);
    for (const [supplier, supplierSku, priority] of routes) await setRoute(t.shop, code, { supplier, supplierSku, priority, cost: 300 });
    return code;
  }

  async function buy(sku: string, balance = 10_000) {
    const buyer = await t.createUser({ balance });
    const client = await t.client().login(buyer.email, buyer.password);
    const r = await client.post('/api/store/checkout', { sku, fields: { phone: '13800138000' }, payment: 'wallet' });
    expect(r.status, r.text).toBe(201);
    return { client, no: r.body.order.no as string, buyer };
  }

  const orderOf = async (client: TestClient, no: string) => (await client.get(`/api/store/orders/${no}`)).body.order;
  const settle = () => t.shop.delivery.worker.runDue();
  const journal = (no: string) => t.shop.db.knex('journal_transactions').where('id', 'like', `order:${no}:%`).orderBy('id').pluck('id');

  it('delivers a top-up through its supplier, once, and books what the supplier cost', async () => {
    const sku = await topup('TOP-OK', [['sup-a', 'A-OK', 0]]);
    const { client, no } = await buy(sku);
    await settle();
    const order = await orderOf(client, no);
    expect(order).toMatchObject({ status: 'delivered' });
    expect(order.keys).toEqual([{ card: `A-OK-${no}-1` }]);
    expect(a.calls.filter((c) => c === no)).toHaveLength(1);
    expect(a.orders.get(no)).toMatchObject({ sku: 'A-OK', quantity: 1, fields: { phone: '13800138000' } });
    expect(await journal(no)).toEqual([`order:${no}:cost`, `order:${no}:pay`]);
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });

  it('completes a pending order by the callback or by the poll, whichever comes first, exactly once', async () => {
    const sku = await topup('TOP-PEND', [['sup-a', 'A-PEND', 0]]);
    a.behaviour.set('A-PEND', 'pending');
    const first = await buy(sku);
    await settle();
    expect((await orderOf(first.client, first.no)).status).toBe('delivering');
    // The callback arrives; then the poll comes due and finds the same answer.
    expect(await a.complete(first.no)).toBe(200);
    expect((await orderOf(first.client, first.no)).status).toBe('delivered');
    await t.shop.delivery.worker.runDue(Date.now() + 120_000);

    const second = await buy(sku);
    await settle();
    await a.complete(second.no, undefined, { callback: false }); // the callback is lost: only the poll can tell
    await t.shop.delivery.worker.runDue(Date.now() + 120_000);
    for (const { client, no } of [first, second]) {
      const order = await orderOf(client, no);
      expect(order.status).toBe('delivered');
      expect(order.keys).toHaveLength(1);
      expect(a.calls.filter((c) => c === no)).toHaveLength(1);
      expect(await journal(no)).toEqual([`order:${no}:cost`, `order:${no}:pay`]);
    }
    // A forged callback changes nothing.
    const forged = await t.client().post('/supplier/sup-a/callback', { reference: first.no, result: { status: 'failed', retryable: false, reason: 'x' } }, { 'x-dummy-signature': 'f'.repeat(64) });
    expect(forged.status).toBe(400);
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });

  it('fails over to the next supplier, and refunds the buyer with the reason when every supplier refuses', async () => {
    a.behaviour.set('A-GONE', 'fail');
    const sku = await topup('TOP-FAILOVER', [['sup-b', 'B-OK', 1], ['sup-a', 'A-GONE', 0]]);
    const over = await buy(sku);
    await settle();
    expect((await orderOf(over.client, over.no)).keys).toEqual([{ card: `B-OK-${over.no}-1` }]);

    b.behaviour.set('B-GONE', 'fail');
    const none = await topup('TOP-NONE', [['sup-a', 'A-GONE', 0], ['sup-b', 'B-GONE', 1]]);
    const { client, no } = await buy(none, 2_000);
    await settle();
    const order = await orderOf(client, no);
    expect(order.status).toBe('refunded');
    expect(order.reason).toMatch(/sup-a: A-GONE is sold out; sup-b: B-GONE is sold out/);
    expect((await client.get('/api/store/me')).body.wallet.balance).toBe(2_000);
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });

  it('charges and delivers once when a supplier times out and succeeds late', async () => {
    a.behaviour.set('A-SLOW', 'hang');
    const sku = await topup('TOP-SLOW', [['sup-a', 'A-SLOW', 0], ['sup-b', 'B-SLOW', 1]]);
    const { client, no } = await buy(sku);
    await settle();
    const order = await orderOf(client, no);
    expect(order.status).toBe('delivered');
    expect(order.keys).toEqual([{ card: `A-SLOW-${no}-1` }]);
    // Placed once; afterwards only asked about; the second supplier never heard of it.
    expect(a.calls.filter((c) => c === no)).toHaveLength(1);
    expect(b.orders.has(no)).toBe(false);
    expect(await journal(no)).toEqual([`order:${no}:cost`, `order:${no}:pay`]);
  });

  it('gives up after its attempts: the order shows failed, the job sits in the dead letter, and an admin retry delivers it', async () => {
    a.behaviour.set('A-DOWN', 'retry');
    const sku = await topup('TOP-DOWN', [['sup-a', 'A-DOWN', 0]]);
    const { client, no } = await buy(sku);
    await settle();
    const order = await orderOf(client, no);
    expect(order.status).toBe('failed');
    expect(order.reason).toMatch(/under maintenance/);
    const dead = (await admin.get('/api/admin/jobs?status=dead')).body.jobs.find((j: { ref: string }) => j.ref === no);
    expect(dead).toMatchObject({ kind: 'deliver', attempts: 3 });

    a.behaviour.set('A-DOWN', 'deliver');
    expect((await admin.post(`/api/admin/jobs/${dead.id}/retry`)).status).toBe(204);
    await settle();
    expect(await orderOf(client, no)).toMatchObject({ status: 'delivered', reason: null });
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });

  it('leaves manual orders to an admin, and delivers a plugin product type through its plugin', async () => {
    const manual = await otherSku(t.shop, 'manual', 'MAN-1');
    const m = await buy(manual.code);
    await settle();
    expect((await orderOf(m.client, m.no)).status).toBe('paid');
    const done = await admin.post(`/api/admin/orders/${m.no}/deliver`, { content: 'code 1234' });
    expect(done.body.order).toMatchObject({ status: 'delivered', delivery: 'code 1234' });

    const category = await createCategory(t.shop, { slug: 'vouchers', name: 'Vouchers' });
    const store = { name: 'store', label: { 'zh-CN': '门店', en: 'Store' } };
    const product = await createProduct(t.shop, { categoryId: category, slug: 'voucher-1', name: 'Voucher', type: 'voucher', fields: [store] });
    await createSku(t.shop, { productId: product, code: 'VOUCHER-1', name: 'One', price: 100 });
    const buyer = await t.createUser({ balance: 1_000 });
    const client = await t.client().login(buyer.email, buyer.password);
    // The plugin's own check of the input refuses before anything is charged.
    const refused = await client.post('/api/store/checkout', { sku: 'VOUCHER-1', quantity: 2, fields: { store: 'closed' }, payment: 'wallet' });
    expect(refused.status).toBe(400);
    expect(refused.body.error.fields).toEqual({ 'fields.store': 'that store is closed' });
    expect((await client.get('/api/store/me')).body.wallet.balance).toBe(1_000);
    const placed = await client.post('/api/store/checkout', { sku: 'VOUCHER-1', quantity: 2, fields: { store: 'open' }, payment: 'wallet' });
    await settle();
    const order = await orderOf(client, placed.body.order.no);
    expect(order.status).toBe('delivered');
    expect(order.keys.map((k: { card: string }) => k.card)).toEqual([`V-${order.no}-0`, `V-${order.no}-1`]);
    expect(order.delivery).toBe(`券码 V-${order.no}-0\n券码 V-${order.no}-1`);
    expect(issued.get(order.no)).toBe(1);
  });

  it('delivers a direct order paid through a gateway by the same worker', async () => {
    const sku = await topup('TOP-GW', [['sup-a', 'A-GW', 0]]);
    const placed = await t.client().post('/api/store/checkout', { sku, fields: { phone: '13900139000' }, contact: 'guest@example.com', payment: 'dummy' });
    expect(placed.status).toBe(201);
    const no = placed.body.order.no;
    expect((await t.notify({ orderNo: no, amount: 500 })).text).toBe('ok');
    await settle();
    const order = await t.client().get(`/api/store/orders/${no}?token=${encodeURIComponent(placed.body.token)}`);
    expect(order.body.order).toMatchObject({ status: 'delivered', keys: [{ card: `A-GW-${no}-1` }] });
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });
});
