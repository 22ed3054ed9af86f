import { createCategory, createProduct, createSku, setRoute, verifyLedger } from '@cardshop/core';
import { setupPlugin, startTestShop, TEST_DIALECTS, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import httpSupplier from './index.js';
import { sign, signString } from './sign.js';
import { startFakeSupplier, type FakeSupplier } from './testing/fake-supplier.js';

describe('signing', () => {
  it('signs the sorted non-empty parameters without the signature, MD5 with the key appended or HMAC-SHA256', () => {
    const params = { b: '2', a: '1', sign: 'x', empty: '', A: 'z' };
    expect(signString(params, 'sign')).toBe('A=z&a=1&b=2');
    const base = { secret: 'k', md5Suffix: '&key={secret}', uppercase: false, signField: 'sign' };
    // md5("A=z&a=1&b=2&key=k") and HMAC-SHA256("k", "A=z&a=1&b=2"), as md5sum and openssl compute them.
    expect(sign(params, { ...base, algorithm: 'md5' })).toBe('f54bc78e0a9f35b4447cab350aaefb10');
    expect(sign(params, { ...base, algorithm: 'hmac-sha256', uppercase: true })).toBe('4E362766E0B5D31067008DE4E71A58C78AFFD78B40CE41B3E4C1978C1C41A0CD');
  });
});

describe('the connector against the fake supplier, JSON and HMAC', () => {
  let fake: FakeSupplier;
  beforeAll(async () => {
    fake = await startFakeSupplier({ algorithm: 'hmac-sha256' });
  });
  afterAll(() => fake?.close());

  it('places, queries and reads the balance', async () => {
    const { suppliers } = await setupPlugin(httpSupplier, {
      baseUrl: fake.url,
      merchantId: '10086',
      secret: 'fake-supplier-secret',
      encoding: 'json',
      signature: 'hmac-sha256',
      paths: { balance: '/api/balance' },
      response: { notFoundCodes: ['404'] },
      lowBalance: 20_000,
    });
    const c = suppliers[0]!;
    const placed = await c.placeOrder({ reference: 'R1', sku: 'success', quantity: 2, fields: { account: 'a1' }, callbackUrl: 'http://127.0.0.1:1/cb' });
    expect(placed).toEqual({
      status: 'delivered',
      keys: [
        { card: 'success-R1-1', password: 'pw1' },
        { card: 'success-R1-2', password: 'pw2' },
      ],
      cost: 1700,
      supplierOrderNo: 'FR1',
      receipt: undefined,
    });
    expect(fake.orders.get('R1')!.params).toMatchObject({ account: 'a1', quantity: '2', notify_url: 'http://127.0.0.1:1/cb' });
    expect(await c.queryOrder({ reference: 'NOPE', sku: 'success' })).toEqual({ status: 'unknown' });
    expect(await c.placeOrder({ reference: 'R2', sku: 'failure', quantity: 1, fields: {}, callbackUrl: 'x' })).toEqual({ status: 'failed', retryable: false, reason: 'product sold out' });
    expect(await c.balance!({})).toEqual({ balance: 12_345, currency: 'CNY', low: true });
  });

  it('throws on an answer it cannot read, so the order is asked about instead of taken as failed', async () => {
    const { suppliers } = await setupPlugin(httpSupplier, { baseUrl: fake.url, merchantId: '10086', secret: 'fake-supplier-secret', encoding: 'json', signature: 'hmac-sha256' });
    await expect(suppliers[0]!.placeOrder({ reference: 'R4', sku: 'garbage', quantity: 1, fields: {}, callbackUrl: 'x' })).rejects.toThrow(/did not answer a JSON object/);
    expect(fake.orders.get('R4')!.status).toBe('success');
    const wrongKey = (await setupPlugin(httpSupplier, { baseUrl: fake.url, merchantId: '10086', secret: 'wrong', encoding: 'json', signature: 'hmac-sha256' })).suppliers[0]!;
    expect(await wrongKey.placeOrder({ reference: 'R3', sku: 'success', quantity: 1, fields: {}, callbackUrl: 'x' })).toMatchObject({ status: 'failed', reason: 'bad signature' });
  });
});

describe.each(TEST_DIALECTS)('a shop delivering through an HTTP supplier (%s)', (dialect) => {
  let fake: FakeSupplier;
  let t: TestShop;

  beforeAll(async () => {
    fake = await startFakeSupplier();
    fake.delayMs = 1500;
    t = await startTestShop({
      dialect,
      config: {
        plugins: [httpSupplier({ id: 'kachong', baseUrl: fake.url, merchantId: '10086', secret: 'fake-supplier-secret', timeoutMs: 300, response: { notFoundCodes: ['404'] } })],
        delivery: { backoffMs: 0, maxAttempts: 5, supplierPollMs: 60_000 },
      },
    });
    const category = await createCategory(t.shop, { slug: 'game-topups', name: 'Game top-ups' });
    for (const behaviour of ['success', 'pending-callback', 'pending-poll', 'failure', 'timeout', 'garbage']) {
      const product = await createProduct(t.shop, {
        categoryId: category,
        slug: `topup-${behaviour}`,
        name: `Top-up ${behaviour}`,
        type: 'direct',
        fields: [{ name: 'account', label: { 'zh-CN': '账号', en: 'Account' } }],
      });
      await createSku(t.shop, { productId: product, code: `T-${behaviour}`, name: '100', price: 1000 });
      await setRoute(t.shop, `T-${behaviour}`, { supplier: 'kachong', supplierSku: behaviour, cost: 850 });
    }
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  async function buy(behaviour: string) {
    const buyer = await t.createUser({ balance: 5_000 });
    const client = await t.client().login(buyer.email, buyer.password);
    const r = await client.post('/api/store/checkout', { sku: `T-${behaviour}`, fields: { account: 'player-1' }, payment: 'wallet' });
    expect(r.status).toBe(201);
    await t.shop.delivery.worker.runDue();
    const order = async () => (await client.get(`/api/store/orders/${r.body.order.no}`)).body.order;
    return { no: r.body.order.no as string, order, balance: async () => (await client.get('/api/store/me')).body.wallet.balance };
  }

  it('delivers at once what the supplier answers at once', async () => {
    const { no, order } = await buy('success');
    expect(await order()).toMatchObject({ status: 'delivered', keys: [{ card: `success-${no}-1`, password: 'pw1' }] });
    expect(fake.orders.get(no)!.params).toMatchObject({ account: 'player-1', product_id: 'success', notify_url: `${t.url}/supplier/kachong/callback` });
    const cost = await t.shop.db.knex('journal_entries').join('accounts', 'accounts.id', 'journal_entries.account_id').where({ txn_id: `order:${no}:cost`, 'accounts.code': 'supplier:kachong' }).first('amount');
    expect(Number(cost.amount)).toBe(850);
  });

  it('completes a pending order by its signed callback, and refuses a forged one', async () => {
    const { no, order } = await buy('pending-callback');
    expect((await order()).status).toBe('delivering');
    const forged = await t.client().post('/supplier/kachong/callback', new URLSearchParams({ merchant_id: '10086', out_trade_no: no, status: 'failed', sign: '0'.repeat(32) }));
    expect(forged.status).toBe(400);
    expect(await fake.finish(no)).toBe('success');
    expect(await order()).toMatchObject({ status: 'delivered', keys: [{ card: `pending-callback-${no}-1`, password: 'pw1' }] });
  });

  it('completes a pending order by polling when no callback comes', async () => {
    const { no, order } = await buy('pending-poll');
    await fake.finish(no, { callback: false });
    await t.shop.delivery.worker.runDue(Date.now() + 120_000);
    expect(await order()).toMatchObject({ status: 'delivered', keys: [{ card: `pending-poll-${no}-1`, password: 'pw1' }] });
  });

  it('refunds the buyer with the supplier\'s reason when it refuses', async () => {
    const { order, balance } = await buy('failure');
    expect(await order()).toMatchObject({ status: 'refunded', reason: expect.stringContaining('product sold out') });
    expect(await balance()).toBe(5_000);
  });

  it('delivers once when the answer times out or comes back as garbage, asking instead of ordering again', async () => {
    for (const behaviour of ['timeout', 'garbage']) {
      const { no, order } = await buy(behaviour);
      expect(await order()).toMatchObject({ status: 'delivered', keys: [{ card: `${behaviour}-${no}-1`, password: 'pw1' }] });
      expect(fake.placed.filter((r) => r === no)).toHaveLength(1);
      expect(fake.queries).toContain(no);
    }
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });
});
