import { importKeys } from '@cardshop/core';
import mailSmtp from '@cardshop/plugin-mail-smtp';
import { startTestShop, TEST_DIALECTS, type TestClient, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeSmtp, type FakeSmtp } from '../plugins/mail-smtp/src/testing/fake-smtp.js';
import { cardSku } from './fixtures.js';

const form = (fields: Record<string, string>) => new URLSearchParams(fields);
const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)![1]!;

describe.each(TEST_DIALECTS)('restock and price-drop notices by e-mail (%s)', (dialect) => {
  let smtp: FakeSmtp;
  let t: TestShop;
  let boss: TestClient;

  beforeAll(async () => {
    smtp = await startFakeSmtp({ auth: false });
    t = await startTestShop({
      dialect,
      config: { shop: { name: '星河卡盟' }, siteThemes: ['@cardshop/theme-wholesale'], plugins: [mailSmtp({ host: smtp.host, port: smtp.port, from: 'shop@example.test' })] },
    });
    const admin = await t.createUser({ role: 'admin' });
    boss = await t.client().login(admin.email, admin.password);
  });
  afterAll(async () => {
    await t?.close();
    await smtp?.close();
  });

  const settle = async () => {
    await t.shop.hooks.idle();
    await t.shop.delivery.worker.runDue();
  };
  const mailsTo = (to: string) => smtp.received.filter((m) => m.to.includes(to));
  /** Sells a card SKU out: its one key to a buyer. */
  const soldOut = async (price = 1000) => {
    const sku = await cardSku(t.shop, { price, keys: 1 });
    const buyer = await t.createUser({ balance: 10_000 });
    expect((await (await t.client().login(buyer.email, buyer.password)).post('/api/store/checkout', { sku: sku.code, payment: 'wallet' })).status).toBe(201);
    return sku;
  };

  it('takes a guest’s address on the product page of both themes, and mails once, in their language, when stock is back', async () => {
    const { code, product } = await soldOut(1500);
    const slug = code.toLowerCase();
    const guest = t.client();
    for (const theme of ['@cardshop/theme-wholesale', '@cardshop/theme-default']) {
      expect((await boss.post('/admin/themes/activate', form({ _csrf: await boss.csrf('/admin/themes'), theme }))).status).toBe(303);
      const page = await guest.get(`/product/${slug}?lang=en`);
      expect(page.text).toMatch(/<form[^>]+action="\/notify"[^>]*data-notify/);
      expect(page.text).toContain('<button type="submit" name="kind" value="stock"');
      const asked = await guest.get(`/notify?sku=${code}&kind=stock`);
      expect(asked.status).toBe(200);
      expect(asked.text).toContain('Notify me when back in stock');
      expect(asked.text).toMatch(/<input id="email" name="email" type="email"/);
    }
    const page = await guest.get(`/notify?sku=${code}&kind=stock`);
    const csrf = csrfOf(page.text);
    const bad = await guest.post('/notify', form({ _csrf: csrf, sku: code, kind: 'stock', email: 'watcher@' }));
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('Enter a valid e-mail address');
    expect(await t.shop.db.knex('product_watches').count({ n: '*' }).first()).toMatchObject({ n: 0 });
    const forged = await guest.post('/notify', form({ sku: code, kind: 'stock', email: 'watcher@example.test' }));
    expect(forged.status).toBe(403);

    const done = await guest.post('/notify', form({ _csrf: csrf, sku: code, kind: 'stock', email: 'Watcher@Example.test' }));
    expect(done.status).toBe(200);
    expect(done.text).toContain('We will write to watcher@example.test once it is back in stock.');

    // Still sold out: nothing to say.
    expect(await t.shop.notices.check()).toBe(0);
    await importKeys(t.shop, { sku: code, lines: [`${code}-NEW-1`, `${code}-NEW-2`] });
    expect(await t.shop.notices.check()).toBe(1);
    expect(await t.shop.notices.check()).toBe(0);
    await settle();
    await settle();
    const mails = mailsTo('watcher@example.test');
    expect(mails).toHaveLength(1);
    const [mail] = mails;
    expect(mail!.subject).toBe(`Product ${code} is back in stock – 星河卡盟`);
    expect(mail!.text).toContain(`Product ${code} (${code}), which you asked about, is back in stock at ¥15.00.\nBuy it: ${t.url}/product/${slug}\n`);
    const unsubscribe = /^<(.+)>$/.exec(mail!.headers['list-unsubscribe']!)![1]!;
    expect(unsubscribe).toMatch(new RegExp(`^${t.url}/unsubscribe/\\d+\\.[0-9a-f]{24}$`));
    expect(mail!.headers['list-unsubscribe-post']).toBe('List-Unsubscribe=One-Click');
    expect(mail!.text).toContain(`No more stock and price notices: ${unsubscribe}?lang=en\n`);

    // The console lists it on the product's page, sent.
    const consolePage = await boss.get(`/admin/catalog/products/${product}`);
    expect(consolePage.text).toMatch(/data-watch="stock:watcher@example.test">[\s\S]*?ok-cell/);

    // One click, no sign-in, in the language of the mail; a mail client's POST finds it done; a forged token is refused.
    const path = unsubscribe.slice(t.url.length);
    const gone = await t.client().get(`${path}?lang=en`);
    expect(gone.status).toBe(200);
    expect(gone.text).toContain('You will get no more stock or price notices from us at this address.');
    expect((await t.client().post(path, form({ 'List-Unsubscribe': 'One-Click' }))).status).toBe(200);
    expect(await t.shop.db.knex('product_watches').where('email', 'watcher@example.test').count({ n: '*' }).first()).toMatchObject({ n: 0 });
    expect((await t.client().get(`${path.slice(0, -1)}${path.endsWith('0') ? '1' : '0'}`)).status).toBe(404);
  });

  it('mails an account’s price-drop notice when its price falls below the one it saw, and refuses bad or too many subscriptions', async () => {
    const { code, product } = await cardSku(t.shop, { price: 1000, keys: 3 });
    const user = await t.createUser();
    const buyer = await t.client().login(user.email, user.password);
    const asked = await buyer.post('/api/store/notify', { sku: code, kind: 'price' });
    expect(asked.status).toBe(201);
    expect(asked.body.watch).toEqual({ kind: 'price', sku: code, email: user.email, price: 1000 });
    // In stock: nothing to wait for. An unknown kind, a guest without an address: the field is named.
    expect((await buyer.post('/api/store/notify', { sku: code, kind: 'stock' }, { 'accept-language': 'en' })).body.error.fields).toEqual({ kind: 'This option is in stock: you can buy it now' });
    const guest = t.client();
    expect((await guest.post('/api/store/notify', { sku: code, kind: 'restock', email: 'a@example.test' }, { 'accept-language': 'en' })).body.error.fields).toHaveProperty('kind');
    expect((await guest.post('/api/store/notify', { sku: code, kind: 'price' }, { 'accept-language': 'en' })).body.error.fields).toHaveProperty('email');

    expect(await t.shop.notices.check()).toBe(0);
    const skuId = (await t.shop.db.knex('skus').where('code', code).first('id')).id;
    const csrf = await boss.csrf(`/admin/catalog/products/${product}`);
    const repriced = await boss.post(`/admin/catalog/skus/${skuId}`, form({ _csrf: csrf, back: `/admin/catalog/products/${product}`, name: code, price: '8.00', minQuantity: '1', sort: '0', enabled: '1' }));
    expect(repriced.status).toBe(303);
    expect(await t.shop.notices.check()).toBe(1);
    await settle();
    const [mail, ...more] = mailsTo(user.email);
    expect(more).toEqual([]);
    expect(mail!.subject).toBe(`Product ${code} 降价了 - 星河卡盟`);
    expect(mail!.text).toContain(`您关注的 Product ${code}（${code}）降价了：从 ¥10.00 降到 ¥8.00。`);
    expect(mail!.text).toContain('不再接收到货和降价提醒：');

    // Ten a day per address, whatever it asks about; the eleventh is refused and not stored.
    const spam = 'spam@example.test';
    for (let i = 0; i < 10; i++) {
      const { code: other } = await cardSku(t.shop, { keys: 1 });
      expect((await guest.post('/api/store/notify', { sku: other, kind: 'price', email: spam })).status).toBe(201);
    }
    const refused = await guest.post('/api/store/notify', { sku: code, kind: 'price', email: spam });
    expect(refused.status).toBe(429);
    expect(await t.shop.db.knex('product_watches').where('email', spam).count({ n: '*' }).first()).toMatchObject({ n: 10 });
  });
  it('lists subscriptions for the operator through the admin API, filtered and paged, and drops one, audited', async () => {
    const { code } = await cardSku(t.shop, { price: 1000, keys: 2 });
    const guest = t.client();
    for (const email of ['one@example.test', 'two@example.test']) expect((await guest.post('/api/store/notify', { sku: code, kind: 'price', email })).status).toBe(201);
    const listed = await boss.get(`/api/admin/watches?sku=${code}&kind=price&sent=no`);
    expect(listed.status).toBe(200);
    expect(listed.body.page).toBe(1);
    expect(listed.body.watches.map((w: { email: string }) => w.email)).toEqual(['two@example.test', 'one@example.test']);
    expect((await boss.get(`/api/admin/watches?sku=${code}&kind=stock`)).body.watches).toEqual([]);
    expect((await boss.get(`/api/admin/watches?sku=${code}&page=2`)).body.watches).toEqual([]);
    expect((await boss.request('GET', '/api/admin/watches?kind=restock', undefined, { 'accept-language': 'en' })).body.error.fields).toHaveProperty('kind');

    const [newest] = listed.body.watches as Array<{ id: number }>;
    // Not the operator's to see: a buyer gets 403, and nothing is dropped.
    const user = await t.createUser();
    expect((await (await t.client().login(user.email, user.password)).request('DELETE', `/api/admin/watches/${newest!.id}`)).status).toBe(403);
    expect((await boss.request('DELETE', `/api/admin/watches/${newest!.id}`)).status).toBe(204);
    expect((await boss.request('DELETE', `/api/admin/watches/${newest!.id}`)).status).toBe(404);
    expect((await boss.get(`/api/admin/watches?sku=${code}`)).body.watches.map((w: { email: string }) => w.email)).toEqual(['one@example.test']);
    expect(await t.shop.db.knex('audit_log').where({ action: 'watch.drop', target_id: String(newest!.id) }).first('before')).toMatchObject({ before: expect.stringContaining('two@example.test') });
  });
});
