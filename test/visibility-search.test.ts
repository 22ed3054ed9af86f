import { createApiKey, createCategory, createProduct, createSku, importKeys } from '@cardshop/core';
import { startTestShop, TEST_DIALECTS, type ApiClient, type TestClient, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

type Listing = { products: Array<{ slug: string; skus: Array<{ code: string }> }> };
const slugs = (body: Listing) => body.products.map((p) => p.slug);
const codes = (body: Listing) => body.products.flatMap((p) => p.skus.map((s) => s.code));

describe.each(TEST_DIALECTS)('hidden and link-only products, and search (%s)', (dialect) => {
  let t: TestShop;
  let admin: TestClient;
  let api: ApiClient;
  const ids: Record<string, number> = {};

  beforeAll(async () => {
    t = await startTestShop({ dialect });
    const shop = t.shop;
    const games = await createCategory(shop, { slug: 'games', name: '游戏点卡' });
    const add = async (slug: string, name: string, description: string, skus: Array<[string, string]>, visibility?: 'link' | 'hidden') => {
      ids[slug] = await createProduct(shop, { categoryId: games, slug, name, description, type: 'card', visibility });
      for (const [code, skuName] of skus) {
        ids[code] = await createSku(shop, { productId: ids[slug]!, code, name: skuName, price: 1_000 });
        await importKeys(shop, { sku: code, lines: [`${code}-1`, `${code}-2`] });
      }
    };
    await add('qq', '腾讯Q币点卡', '充值 QQ 钱包，秒发', [['QB-10', '10 Q币'], ['QB-VIP', '内部价 10 Q币']]);
    await add('steam', 'Steam 钱包', 'Global wallet code', [['STEAM-50', '50 元']]);
    await add('secret', '神秘礼包', '只给老客户', [['GIFT-1', '礼包']], 'link');
    await add('gone', '下架点卡', '不再出售', [['GONE-1', '点卡']], 'hidden');
    const a = await t.createUser({ role: 'admin', balance: 100_000 });
    admin = await t.client().login(a.email, a.password);
    api = t.apiClient(await createApiKey(shop, a.id));
  });
  afterAll(() => t?.close());

  /** The console's visibility form, as the product page posts it. */
  async function setVisibility(kind: 'product' | 'sku', id: number, visibility: string) {
    const csrf = await admin.csrf('/admin/catalog');
    return admin.post(`/admin/catalog/${kind}/${id}/visibility`, new URLSearchParams({ _csrf: csrf, visibility, back: `/admin/catalog/products/${ids.qq}` }));
  }

  it('the console makes a SKU link-only and writes the audit log', async () => {
    const r = await setVisibility('sku', ids['QB-VIP']!, 'link');
    expect(r.status).toBe(303);
    const page = await admin.get(`/admin/catalog/products/${ids.qq}`);
    expect(page.text).toContain('value="link" selected');
    const row = await t.shop.db.knex('audit_log').where({ action: 'sku.visibility', target_id: 'QB-VIP' }).first();
    expect(JSON.parse(row.after)).toEqual({ visibility: 'link' });
    expect((await setVisibility('sku', ids['QB-VIP']!, 'everyone')).status).toBe(400);
  });

  it('link-only and hidden products are in no list: pages, Store API, Agent API', async () => {
    const guest = t.client();
    const home = await guest.get('/');
    expect(home.text).toContain('/product/qq');
    expect(home.text).not.toContain('/product/secret');
    expect(home.text).not.toContain('/product/gone');
    expect((await guest.get('/category/games')).text).not.toContain('/product/secret');
    const store = (await guest.get('/api/store/products')).body;
    expect(slugs(store)).toEqual(['qq', 'steam']);
    expect(codes(store)).toEqual(['QB-10', 'STEAM-50']);
    const agent = (await api.get('/products')).body.products.map((p: { sku: string }) => p.sku);
    expect(agent).toEqual(['QB-10', 'STEAM-50']);
  });

  it('a link-only product and SKU open and sell by their link; a hidden one is 404 everywhere', async () => {
    const guest = t.client();
    const secret = await guest.get('/product/secret');
    expect(secret.status).toBe(200);
    expect(secret.text).toContain('GIFT-1');
    // The listed product's page shows the link-only SKU only when its link names it.
    expect((await guest.get('/product/qq')).text).not.toContain('QB-VIP');
    expect((await guest.get('/product/qq?sku=QB-VIP')).text).toContain('value="QB-VIP"');
    // The product page is cached: the plain page never gets the link-only SKU, and a made-up code is the plain page.
    expect((await guest.get('/product/qq')).text).not.toContain('QB-VIP');
    expect((await guest.get('/product/qq?sku=NOPE')).text).not.toContain('QB-VIP');
    expect((await guest.get('/product/qq?sku=QB-10')).text).not.toContain('QB-VIP');
    expect(codes({ products: [(await guest.get('/api/store/products/qq?sku=QB-VIP')).body.product] })).toEqual(['QB-10', 'QB-VIP']);
    expect((await guest.get('/checkout?sku=QB-VIP')).status).toBe(200);
    const bought = await admin.post('/api/store/checkout', { sku: 'QB-VIP', payment: 'wallet' });
    expect(bought.status).toBe(201);
    expect(bought.body.order.keys).toHaveLength(1);
    expect((await api.get('/products/GIFT-1')).body.product).toMatchObject({ sku: 'GIFT-1', category: 'games' });
    expect((await api.post('/orders', { sku: 'GIFT-1', quantity: 1 }, { 'idempotency-key': `gift-${dialect}` })).status).toBe(201);

    expect((await guest.get('/product/gone')).status).toBe(404);
    expect((await guest.get('/api/store/products/gone')).status).toBe(404);
    expect((await guest.get('/checkout?sku=GONE-1')).status).toBe(404);
    expect((await admin.post('/api/store/checkout', { sku: 'GONE-1', payment: 'wallet' })).body.error.code).toBe('not_found');
    expect((await api.get('/products/GONE-1')).body.error.code).toBe('unknown_sku');
    expect((await api.post('/orders', { sku: 'GONE-1', quantity: 1 }, { 'idempotency-key': `gone-${dialect}` })).status).toBe(404);
  });

  it('searches names, SKU names and codes and descriptions, Chinese included, full-width folded', async () => {
    const search = async (q: string) => slugs((await t.client().get(`/api/store/products?q=${encodeURIComponent(q)}`)).body);
    expect(await search('点卡')).toEqual(['qq']);
    expect(await search('q币')).toEqual(['qq']);
    expect(await search('ＳＴＥＡＭ')).toEqual(['steam']);
    expect(await search('steam-50')).toEqual(['steam']);
    expect(await search('wallet')).toEqual(['steam']);
    expect(await search('秒发')).toEqual(['qq']);
    expect(await search('点卡 秒发')).toEqual(['qq']);
    expect(await search('点卡 steam')).toEqual([]);
    // Never a link-only or hidden product, nor a link-only SKU's name or code.
    expect(await search('礼包')).toEqual([]);
    expect(await search('下架')).toEqual([]);
    expect(await search('内部价')).toEqual([]);
    expect(await search('QB-VIP')).toEqual([]);
    // The query never reaches SQL: quotes, LIKE wildcards and comments are plain text.
    for (const q of ["' OR 1=1 --", '%', '_', '"; DROP TABLE skus; --']) expect(await search(q)).toEqual([]);
    expect(await t.shop.db.knex('skus').count({ n: '*' }).first()).toMatchObject({ n: 6 });
  });

  it('refuses an empty or overlong query, naming the field', async () => {
    const guest = t.client();
    const empty = await guest.request('GET', '/api/store/products?q=', undefined, { 'accept-language': 'en' });
    expect(empty.status).toBe(400);
    expect(empty.body.error.fields).toEqual({ q: 'Required' });
    const long = await guest.get(`/api/store/products?q=${'x'.repeat(65)}`);
    expect(long.status).toBe(400);
    expect(Object.keys(long.body.error.fields)).toEqual(['q']);
  });

  it('the search page renders results in both themes\' header form', async () => {
    const guest = t.client();
    const page = await guest.get(`/search?q=${encodeURIComponent('点卡')}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('role="search"');
    expect(page.text).toContain('/product/qq');
    expect(page.text).toContain('data-count="1"');
    expect(page.text).toContain('value="点卡"');
    const none = await guest.get('/search?q=zzzz&lang=en');
    expect(none.text).toContain('Nothing matches');
    expect((await guest.get(`/search?q=${'x'.repeat(65)}`)).status).toBe(400);
  });

  it('hiding a product takes it off sale at once; listing it again brings it back', async () => {
    expect((await setVisibility('product', ids.steam!, 'hidden')).status).toBe(303);
    expect((await t.client().get('/product/steam')).status).toBe(404);
    expect(slugs((await t.client().get('/api/store/products?q=steam')).body)).toEqual([]);
    expect((await setVisibility('product', ids.steam!, 'listed')).status).toBe(303);
    expect((await t.client().get('/product/steam')).status).toBe(200);
  });
});
