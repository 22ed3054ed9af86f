import { request } from 'node:http';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { importKeys, type Shop } from '@cardshop/core';
import { startTestShop, TEST_DIALECTS, type TestClient, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku } from './fixtures.js';

/** A GET as a browser sends it, without any decoding, so the test sees the bytes on the wire. */
function rawGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    })
      .on('error', reject)
      .end();
  });
}

describe.each(TEST_DIALECTS)('pages from the page cache (%s)', (dialect) => {
  let t: TestShop;
  let shop: Shop;
  let admin: TestClient;
  let csrf: string;
  let sku: { code: string; product: number };
  /** A console form, as the operator's browser posts it. */
  const form = (fields: Record<string, string>) => new URLSearchParams({ _csrf: csrf, ...fields });

  beforeAll(async () => {
    t = await startTestShop({ dialect, config: { siteThemes: ['@cardshop/theme-wholesale'] } });
    shop = t.shop;
    const a = await t.createUser({ role: 'admin' });
    admin = await t.client().login(a.email, a.password);
    csrf = await admin.csrf('/admin/catalog');
    const s = await cardSku(shop, { code: 'CACHE-1', price: 1000, keys: 12 });
    sku = { code: s.code, product: s.product };
  });
  afterAll(() => t?.close());

  const product = () => `/product/${sku.code.toLowerCase()}`;

  it('answers a repeat with 304 and sends brotli or gzip that decodes to the same page', async () => {
    const plain = await rawGet(t.url + product());
    expect(plain.status).toBe(200);
    const etag = String(plain.headers.etag);
    expect(etag).toMatch(/^"[\w-]+"$/);
    expect(plain.headers['set-cookie']).toBeUndefined(); // browsing alone sets no cookie
    expect((await rawGet(t.url + product(), { 'if-none-match': etag })).status).toBe(304);
    const br = await rawGet(t.url + product(), { 'accept-encoding': 'gzip, deflate, br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(br.body).equals(plain.body)).toBe(true);
    const gz = await rawGet(t.url + product(), { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).equals(plain.body)).toBe(true);
    expect(gz.headers.vary).toContain('Accept-Encoding');
  });

  it('shows a price, a name, the notice and the theme the moment they change', async () => {
    const page = () => t.client().get(product());
    expect((await page()).text).toContain('10.00');
    const skuId = Number((await shop.db.knex('skus').where('code', sku.code).first('id')).id);
    expect((await admin.post(`/admin/catalog/skus/${skuId}`, form({ name: sku.code, price: '12.34', minQuantity: '1', enabled: '1', back: '/admin/catalog' }))).status).toBe(303);
    expect((await page()).text).toContain('12.34');

    const row = await shop.db.knex('products').where('id', sku.product).first();
    const renamed = await admin.post(`/admin/catalog/products/${sku.product}`, form({ categoryId: String(row.category_id), name: 'Renamed card', slug: row.slug, type: 'card', enabled: '1' }));
    expect(renamed.status).toBe(303);
    expect((await page()).text).toContain('Renamed card');

    expect((await admin.post('/admin/settings', form({ name: 'Cache Shop', locale: 'zh-CN', currency: 'CNY', notice: 'Notice of the day' }))).status).toBe(303);
    const home = await t.client().get('/');
    expect(home.text).toContain('Notice of the day');
    expect(home.text).toContain('Cache Shop');

    expect((await page()).text).not.toContain('class="tw');
    expect((await admin.post('/admin/themes/activate', form({ theme: '@cardshop/theme-wholesale' }))).status).toBe(303);
    expect((await page()).text).toContain('class="tw');
    expect((await admin.post('/admin/themes/activate', form({ theme: '@cardshop/theme-default' }))).status).toBe(303);
    expect((await page()).text).not.toContain('class="tw');
  });

  it('keeps a page while its stock stays in one band and shows the next band at once', async () => {
    const buyer = await t.createUser({ balance: 100_000 });
    const client = await t.client().login(buyer.email, buyer.password);
    const buy = async (n: number) => expect((await client.post('/api/store/checkout', { sku: sku.code, quantity: n, payment: 'wallet' })).status).toBe(201);
    const guest = t.client();
    const first = await guest.get(product());
    expect(first.text).toMatch(/库存 10\+/); // 12 keys
    await buy(1); // 11: the same band, the same page
    const same = await guest.request('GET', product(), undefined, { 'if-none-match': first.headers.get('etag')! });
    expect(same.status).toBe(304);
    await buy(3); // 8: counted exactly below ten
    expect((await guest.get(product())).text).toMatch(/库存 8</);
    await buy(8); // none left
    const out = await guest.get(product());
    expect(out.text).toContain('已售罄');
    expect(out.text).toMatch(/<button type="submit"[^>]*disabled/);
    await importKeys(shop, { sku: sku.code, lines: ['BACK-1', 'BACK-2'] });
    expect((await guest.get(product())).text).toMatch(/库存 2</);
  });

  it('prices each level for itself, and a guest never gets a buyer\u2019s name, balance or token', async () => {
    // A level at half the retail price, as the console's JSON twin sets it.
    expect((await admin.put('/api/admin/levels/vip', { name: 'VIP', rank: 50, ruleKind: 'retail_percent', ruleValue: 5000 })).status).toBe(200);
    const vip = await t.createUser({ balance: 77_777 });
    await shop.db.knex('users').where('id', vip.id).update({ level_id: (await shop.db.knex('agent_levels').where('code', 'vip').first('id')).id });
    const member: TestClient = await t.client().login(vip.email, vip.password);
    const mine = await member.get('/');
    expect(mine.text).toContain('777.77'); // the header's balance
    const token = /name="_csrf" value="([^"]+)"/.exec(mine.text)![1]!;

    const other = await t.createUser({ balance: 5 });
    await shop.db.knex('users').where('id', other.id).update({ level_id: (await shop.db.knex('agent_levels').where('code', 'vip').first('id')).id });
    const theirs = await (await t.client().login(other.email, other.password)).get('/');
    expect(theirs.text).toContain('0.05');
    expect(theirs.text).not.toContain('777.77');
    expect(theirs.text).not.toContain(token);

    const guest = await t.client().get('/');
    for (const secret of ['777.77', '0.05', token, '/logout']) expect(guest.text).not.toContain(secret);
    // the VIP's half price and the guest's full price, from two entries of the same page
    const price = (html: string) => /class="price">([^<]+)</.exec(html)?.[1];
    expect(price(mine.text)).not.toBe(price(guest.text));
    expect(price(theirs.text)).toBe(price(mine.text));
  });

  it('keeps the product list as JSON, answering 304 until a price or a stock count changes', async () => {
    const client = t.client();
    const first = await client.get('/api/store/products');
    expect(first.status).toBe(200);
    const etag = first.headers.get('etag')!;
    expect((await client.request('GET', '/api/store/products', undefined, { 'if-none-match': etag })).status).toBe(304);
    await importKeys(shop, { sku: sku.code, lines: ['LIST-1'] });
    const after = await client.request('GET', '/api/store/products', undefined, { 'if-none-match': etag });
    expect(after.status).toBe(200);
    const listed = after.body.products.flatMap((p: { skus: Array<{ code: string; stock: number }> }) => p.skus).find((s: { code: string }) => s.code === sku.code);
    expect(listed.stock).toBe(3);
  });
});

