import { createApiKey } from '@cardshop/core';
import { dummyPayments, startTestShop, TEST_DIALECTS, type ApiClient, type TestClient, type TestResponse, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku } from './fixtures.js';

/**
 * One buyer's things are nobody else's: another buyer, and the owner of the sub-shop the order was
 * placed on, can neither read nor act on the buyer's orders (goods and keys included), receipts,
 * withdrawals, API keys, articles or coupons, over pages, the Store API and the Agent API. The
 * answer is the same 404 a record that does not exist gets, so a guesser learns nothing either.
 */
describe.each(TEST_DIALECTS)('nobody reaches another buyer’s records (%s)', (dialect) => {
  let t: TestShop;
  let owner: TestClient;
  const others: Record<'buyer' | 'subShopOwner', { client: TestClient; api: ApiClient; csrf: string }> = {} as never;
  let ownerApi: ApiClient;
  let ownerKey: string;
  let orderNo: string;
  let orderToken: string;
  let guestNo: string;
  let keys: string[];
  let site: string;
  let articleId: number;
  let couponId: number;
  let withdrawalId: number;

  beforeAll(async () => {
    t = await startTestShop({ dialect, config: { plugins: [dummyPayments()] } });
    ({ keys } = await cardSku(t.shop, { code: 'IDOR-CARD', keys: 6, price: 1_000 }));

    // The sub-shop's owner: an agent with a shop of its own, an article and a coupon.
    const s = await t.createUser({ balance: 50_000 });
    const shopOwner = await t.client().login(s.email, s.password);
    await shopOwner.post('/api/store/agent/join');
    site = `idor-${dialect}`;
    expect((await shopOwner.put('/api/store/agent/site', { code: site, name: 'Other shop' })).status).toBe(200);

    // The buyer: an agent too (withdrawals, articles, coupons), buying on that sub-shop.
    const o = await t.createUser({ balance: 50_000 });
    owner = await t.client().login(o.email, o.password);
    await owner.post('/api/store/agent/join');
    expect((await owner.put('/api/store/agent/site', { code: `mine-${dialect}`, name: 'Mine' })).status).toBe(200);
    const placed = await owner.post(`/s/${site}/api/store/checkout`, { sku: 'IDOR-CARD', quantity: 2, payment: 'wallet' });
    expect(placed.status, placed.text).toBe(201);
    ({ no: orderNo } = placed.body.order);
    orderToken = placed.body.token;
    const article = await owner.post('/api/store/agent/articles', { title: 'Mine', body: 'Private draft' });
    expect(article.status, article.text).toBe(201);
    articleId = article.body.article.id;
    const coupon = await owner.post('/api/store/agent/coupons', { code: `OWN${dialect.toUpperCase()}1`, kind: 'fixed', value: 100 });
    expect(coupon.status, coupon.text).toBe(201);
    couponId = coupon.body.coupon.id;
    const w = await owner.post('/api/store/wallet/withdrawals', { amount: 3_000, method: 'alipay', payee: 'owner@example.com' });
    expect(w.status, w.text).toBe(201);
    withdrawalId = w.body.withdrawal.id;
    const credentials = await createApiKey(t.shop, o.id, 'owner');
    ownerApi = t.apiClient(credentials);
    ownerKey = credentials.key;

    // A guest's order on the main shop, opened by its token only.
    const guest = await t.client().post('/api/store/checkout', { sku: 'IDOR-CARD', quantity: 1, payment: 'dummy', contact: 'guest@example.com' });
    expect(guest.status, guest.text).toBe(201);
    guestNo = guest.body.order.no;

    const b = await t.createUser({ balance: 50_000 });
    const buyer = await t.client().login(b.email, b.password);
    await buyer.post('/api/store/agent/join');
    expect((await buyer.put('/api/store/agent/site', { code: `other-${dialect}`, name: 'Another' })).status).toBe(200);
    others.buyer = { client: buyer, api: t.apiClient(await createApiKey(t.shop, b.id)), csrf: await buyer.csrf('/account') };
    others.subShopOwner = { client: shopOwner, api: t.apiClient(await createApiKey(t.shop, s.id)), csrf: await shopOwner.csrf('/account') };
  });
  afterAll(() => t?.close());

  /** The owner's goods: the key text of the order, which must appear in nobody else's answer. */
  const leaks = (r: TestResponse) => keys.slice(0, 2).some((k) => r.text.includes(k)) || r.text.includes('owner@example.com');

  it('lets the owner see its order and keys (what the others are refused)', async () => {
    const r = await owner.get(`/api/store/orders/${orderNo}`);
    expect(r.status).toBe(200);
    expect(leaks(r)).toBe(true);
    expect((await owner.get(`/order/${orderNo}`)).status).toBe(200);
    expect((await ownerApi.get('/wallet')).status).toBe(200);
  });

  it.each(['buyer', 'subShopOwner'] as const)('answers the %s 404, as for an order that does not exist, on every order path', async (who) => {
    const { client, api } = others[who];
    const missing = 'NO-SUCH-ORDER-1';
    const paths = [
      (no: string) => `/api/store/orders/${no}`,
      (no: string) => `/api/store/orders/${no}/receipt`,
      (no: string) => `/s/${site}/api/store/orders/${no}`,
      (no: string) => `/order/${no}`,
      (no: string) => `/order/${no}/receipt`,
      (no: string) => `/s/${site}/order/${no}`,
    ];
    for (const path of paths) {
      const r = await client.get(path(orderNo));
      const none = await client.get(path(missing));
      expect(r.status, path(orderNo)).toBe(404);
      expect(leaks(r), path(orderNo)).toBe(false);
      if (path(orderNo).includes('/api/')) expect(r.body).toEqual(none.body);
    }
    for (const path of [`/orders/${orderNo}`, `/orders/${guestNo}`]) {
      const r = await api.get(path);
      expect(r.status, path).toBe(404);
      expect(r.body).toEqual((await api.get(`/orders/${missing}`)).body);
    }
    expect((await client.get(`/api/store/orders/${guestNo}`)).status).toBe(404);
    // Lists hold only the asker's own.
    expect((await client.get('/api/store/orders')).body.orders.map((o: { no: string }) => o.no)).not.toContain(orderNo);
    const withdrawals = await client.get('/api/store/wallet/withdrawals');
    expect(withdrawals.body.withdrawals.map((w: { id: number }) => w.id)).not.toContain(withdrawalId);
    expect(leaks(withdrawals)).toBe(false);
    expect((await client.get('/api/store/agent/coupons')).body.coupons.map((c: { id: number }) => c.id)).not.toContain(couponId);
    expect((await client.get('/api/store/agent/articles')).text).not.toContain('Private draft');
  });

  it('opens a guest order with its own token only', async () => {
    // The owner's token does not open the guest's order, nor the other way round.
    expect((await t.client().get(`/api/store/orders/${guestNo}?token=${orderToken}`)).status).toBe(404);
    expect((await t.client().get(`/order/${guestNo}?token=${orderToken}`)).status).toBe(404);
    expect((await t.client().get(`/api/store/orders/${orderNo}/receipt?token=x`)).status).toBe(404);
    expect((await t.client().get(`/api/store/orders/${orderNo}?token=${orderToken}`)).status).toBe(200);
  });

  it.each(['buyer', 'subShopOwner'] as const)('lets the %s act on none of them: API key, article, coupon stay as they were', async (who) => {
    const { client, csrf } = others[who];
    const revoke = await client.request('POST', `/account/api-keys/${ownerKey}/revoke`, new URLSearchParams({ _csrf: csrf }));
    expect(revoke.status).toBe(404);
    expect((await ownerApi.get('/wallet')).status).toBe(200);

    expect((await client.put(`/api/store/agent/articles/${articleId}`, { title: 'Taken', body: 'Taken' })).status).toBe(404);
    expect((await client.request('DELETE', `/api/store/agent/articles/${articleId}`)).status).toBe(404);
    expect((await client.put(`/api/store/agent/coupons/${couponId}/active`, { active: false })).status).toBe(404);

    expect((await owner.get('/api/store/agent/articles')).text).toContain('Private draft');
    const coupons = (await owner.get('/api/store/agent/coupons')).body.coupons as Array<{ id: number; active: boolean }>;
    expect(coupons.find((c) => c.id === couponId)?.active).toBe(true);
    expect(await t.shop.db.knex('withdrawals').where('id', withdrawalId).first('status')).toMatchObject({ status: 'pending' });
  });
});
