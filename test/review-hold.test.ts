import { approveHeld, createCategory, createProduct, createSku, definePlugin, heldOrders, rejectHeld, verifyLedger, type ProductTypeDefinition } from '@cardshop/core';
import { dummyPayments, startTestShop, TEST_DIALECTS, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku } from './fixtures.js';

/**
 * The delivery engine's review hold: a `before.checkout` check may let an order through but hold
 * its delivery until an admin approves (delivered once) or rejects (refunded, keys back on sale).
 * Here a test plugin holds every order of quantity 3 and refuses quantity 9 (a veto beats a hold).
 */
const delivered: string[] = [];
const gift: ProductTypeDefinition = {
  name: 'gift',
  label: { 'zh-CN': '礼品', en: 'Gift' },
  async deliver({ reference }) {
    delivered.push(reference);
    return { status: 'delivered', receipt: `gift for ${reference}` };
  },
};
const reviewer = definePlugin({
  name: 'reviewer',
  version: '1.0.0',
  core: '>=0.1.0',
  setup(ctx) {
    ctx.productType(gift);
    ctx.veto('before.checkout', (p) => (p.quantity === 3 || p.quantity === 9 ? { hold: `three of sku ${p.skuId}` } : undefined));
  },
});
const refuser = definePlugin({
  name: 'refuser',
  version: '1.0.0',
  core: '>=0.1.0',
  setup: (ctx) => ctx.veto('before.checkout', (p) => (p.quantity === 9 ? 'nine is too many' : undefined)),
});

describe.each(TEST_DIALECTS)('orders held for review (%s)', (dialect) => {
  let t: TestShop;
  let admin: number;
  beforeAll(async () => {
    t = await startTestShop({ dialect, config: { plugins: [dummyPayments(), reviewer(), refuser()], delivery: { backoffMs: 0 } } });
    admin = (await t.createUser({ role: 'admin' })).id;
  });
  afterAll(() => t?.close());

  const settle = () => t.shop.delivery.worker.runDue();
  /** How many of a SKU's keys are in each status. */
  const keyStatus = async (sku: string) => {
    const rows: Array<{ status: string; n: number | string }> = await t.shop.db
      .knex('card_keys')
      .join('skus', 'skus.id', 'card_keys.sku_id')
      .where('skus.code', sku)
      .groupBy('card_keys.status')
      .select('card_keys.status', t.shop.db.knex.raw('count(*) as n'));
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  };
  const sku = (code: string) => t.shop.db.knex('skus').where('code', code).first('stock', 'sold');
  const job = async (no: string) => (await t.shop.db.knex('delivery_jobs').where({ kind: 'deliver', ref: no }).first('status'))?.status;
  async function buyer(balance = 10_000) {
    const u = await t.createUser({ balance });
    return { user: u, client: await t.client().login(u.email, u.password) };
  }

  it('holds a wallet card order with its keys reserved; approving delivers it once, however many approve at once', async () => {
    const { code } = await cardSku(t.shop, { price: 100, keys: 10 });
    const { client } = await buyer();
    const r = await client.post('/api/store/checkout', { sku: code, quantity: 3, payment: 'wallet' });
    expect(r.status, r.text).toBe(201);
    const no = r.body.order.no as string;
    expect(r.body.order).toMatchObject({ status: 'paid', keys: [] });
    expect(await keyStatus(code)).toEqual({ available: 7, reserved: 3 });
    expect(await sku(code)).toMatchObject({ stock: 7, sold: 0 });
    expect(await job(no)).toBe('held');

    // No worker touches it, and the buyer sees no keys.
    await settle();
    expect((await client.get(`/api/store/orders/${no}`)).body.order).toMatchObject({ status: 'paid', keys: [] });
    expect((await heldOrders(t.shop)).map((h) => h.no)).toContain(no);
    expect((await heldOrders(t.shop)).find((h) => h.no === no)).toMatchObject({ review: `reviewer: three of sku ${r.body.order.skuId}`, amount: 300, quantity: 3 });

    const answers = await Promise.allSettled(Array.from({ length: 10 }, () => approveHeld(t.shop, { no, actorId: admin })));
    expect(answers.filter((a) => a.status === 'fulfilled')).toHaveLength(1);
    expect(answers.filter((a) => a.status === 'rejected').map((a) => (a as PromiseRejectedResult).reason.code)).toEqual(Array(9).fill('invalid_state'));
    await settle();
    const order = (await client.get(`/api/store/orders/${no}`)).body.order;
    expect(order.status).toBe('delivered');
    expect(order.keys).toHaveLength(3);
    expect(await keyStatus(code)).toEqual({ available: 7, sold: 3 });
    expect(await sku(code)).toMatchObject({ stock: 7, sold: 3 });
    expect(await t.shop.db.knex('audit_log').where({ action: 'order.review.approve', target_id: no }).count({ n: '*' }).first()).toMatchObject({ n: 1 });
    expect((await heldOrders(t.shop)).map((h) => h.no)).not.toContain(no);
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });

  it('rejecting refunds the buyer and puts the keys back on sale; the order is never delivered', async () => {
    const { code } = await cardSku(t.shop, { price: 100, keys: 5 });
    const { user, client } = await buyer(1_000);
    const no = (await client.post('/api/store/checkout', { sku: code, quantity: 3, payment: 'wallet' })).body.order.no as string;
    await expect(rejectHeld(t.shop, { no, actorId: admin, reason: ' ' })).rejects.toMatchObject({ code: 'validation_failed', fields: { reason: 'field.required' } });
    await rejectHeld(t.shop, { no, actorId: admin, reason: 'not approved in review' });
    await expect(approveHeld(t.shop, { no, actorId: admin })).rejects.toMatchObject({ code: 'invalid_state' });
    await settle();
    const order = (await client.get(`/api/store/orders/${no}`)).body.order;
    expect(order).toMatchObject({ status: 'refunded', reason: 'not approved in review', keys: [] });
    expect(await keyStatus(code)).toEqual({ available: 5 });
    expect(await sku(code)).toMatchObject({ stock: 5, sold: 0 });
    const wallet = await t.shop.db.knex('accounts').where('code', `wallet:${user.id}`).first('balance');
    expect(Number(wallet.balance)).toBe(1_000);
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });

  it('holds a gateway order once it is paid: the keys it reserved wait for the approval', async () => {
    const { code } = await cardSku(t.shop, { price: 100, keys: 4 });
    const r = await t.client().post('/api/store/checkout', { sku: code, quantity: 3, contact: 'held@example.com', payment: 'dummy' });
    const no = r.body.order.no as string;
    const token = r.body.token as string;
    expect((await t.notify({ orderNo: no, amount: 300 })).text).toBe('ok');
    await settle();
    expect((await t.client().get(`/api/store/orders/${no}?token=${token}`)).body.order).toMatchObject({ status: 'paid', keys: [] });
    expect(await keyStatus(code)).toEqual({ available: 1, reserved: 3 });
    expect(await job(no)).toBe('held');
    await approveHeld(t.shop, { no, actorId: admin });
    await settle();
    const order = (await t.client().get(`/api/store/orders/${no}?token=${token}`)).body.order;
    expect(order.status).toBe('delivered');
    expect(order.keys).toHaveLength(3);
    expect(await keyStatus(code)).toEqual({ available: 1, sold: 3 });
  });

  it('holds a plugin type\'s delivery too; an admin\'s retry cannot go around the review; a veto beats a hold', async () => {
    const category = await createCategory(t.shop, { slug: 'gifts', name: 'Gifts' });
    const product = await createProduct(t.shop, { categoryId: category, slug: 'gift', name: 'Gift', type: 'gift' });
    await createSku(t.shop, { productId: product, code: 'GIFT-1', name: 'Gift', price: 100 });
    const { client } = await buyer();
    const no = (await client.post('/api/store/checkout', { sku: 'GIFT-1', quantity: 3, payment: 'wallet' })).body.order.no as string;
    await settle();
    expect(delivered).not.toContain(no);
    const job = await t.shop.db.knex('delivery_jobs').where({ kind: 'deliver', ref: no }).first('id');
    const boss = await t.createUser({ role: 'admin' });
    const console = await t.client().login(boss.email, boss.password);
    expect((await console.post(`/api/admin/jobs/${job.id}/retry`, {})).status).toBe(409);
    await approveHeld(t.shop, { no, actorId: admin });
    await settle();
    expect(delivered.filter((d) => d === no)).toHaveLength(1);
    expect((await client.get(`/api/store/orders/${no}`)).body.order).toMatchObject({ status: 'delivered', delivery: `gift for ${no}` });

    const refused = await client.post('/api/store/checkout', { sku: 'GIFT-1', quantity: 9, payment: 'wallet' });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('vetoed');
  });
});
