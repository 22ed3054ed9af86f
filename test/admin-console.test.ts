import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createApiKey } from '@cardshop/core';
import { startTestShop, TEST_DIALECTS, type TestClient, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku } from './fixtures.js';

/** Round half up, in integers: what a price change by `bp` basis points must give. */
const repriced = (price: number, bp: number) => Number((BigInt(price) * BigInt(10_000 + bp) + 5000n) / 10_000n);

/** A copy of the default theme under another package name, to be installed as a second theme and broken. */
function themeCopy(): string {
  const src = path.dirname(createRequire(import.meta.url).resolve('@cardshop/theme-default/package.json'));
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'cardshop-theme-copy-')), 'theme');
  cpSync(src, dir, { recursive: true, filter: (f) => !f.includes('node_modules') });
  const pkg = JSON.parse(JSON.stringify(createRequire(import.meta.url)(path.join(dir, 'package.json'))));
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ ...pkg, name: '@test/theme-copy' }));
  return dir;
}

describe.each(TEST_DIALECTS)('the console: catalog, inventory, users, themes and settings (%s)', (dialect) => {
  let t: TestShop;
  let admin: TestClient;
  let adminId: number;
  let csrf: string;
  let copy: string;

  beforeAll(async () => {
    copy = themeCopy();
    t = await startTestShop({ dialect, config: { siteThemes: ['@cardshop/theme-wholesale', copy] } });
    const a = await t.createUser({ role: 'admin' });
    adminId = a.id;
    admin = await t.client().login(a.email, a.password);
    csrf = await admin.csrf('/admin/catalog');
  });
  afterAll(() => t?.close());

  const form = (fields: Record<string, string | string[]>) => {
    const f = new URLSearchParams({ _csrf: csrf });
    for (const [k, v] of Object.entries(fields)) for (const one of [v].flat()) f.append(k, one);
    return f;
  };
  const knex = () => t.shop.db.knex;
  const auditCount = async (action: string) => Number((await knex()('audit_log').where('action', action).count({ n: '*' }).first())!.n);

  it('builds a catalog from forms, refuses bad ones without writing, and reprices by percent in integers', async () => {
    let r = await admin.post('/admin/catalog/categories', form({ name: '游戏点卡', slug: `games-${dialect}`, enabled: '1' }));
    expect(r.status).toBe(303);
    const categoryId = Number(/category=(\d+)/.exec(r.headers.get('location')!)![1]);
    r = await admin.post('/admin/catalog/products', form({ categoryId: String(categoryId), name: 'Q币直充', slug: `qb-${dialect}`, type: 'direct' }));
    expect(r.status).toBe(303);
    const productId = Number(/products\/(\d+)/.exec(r.headers.get('location')!)![1]);
    // The product's input fields, from the editor's rows (a row without a name is left out).
    r = await admin.post(
      `/admin/catalog/products/${productId}`,
      form({ categoryId: String(categoryId), name: 'Q币直充', slug: `qb-${dialect}`, type: 'direct', enabled: '1', f0_name: 'qq', f0_zh: 'QQ号', f0_en: 'QQ number', f0_type: 'number', f0_required: '1', f0_max: '12', f1_name: '' }),
    );
    expect(r.status).toBe(303);
    const fields = JSON.parse((await knex()('products').where('id', productId).first('fields')).fields);
    expect(fields).toEqual([expect.objectContaining({ name: 'qq', label: { 'zh-CN': 'QQ号', en: 'QQ number' }, type: 'number', required: true, maxLength: 12 })]);

    const prices = { A: '10.05', B: '0.15', C: '99.99' };
    for (const [code, price] of Object.entries(prices)) {
      r = await admin.post(`/admin/catalog/products/${productId}/skus`, form({ code: `QB-${code}-${dialect}`, name: code, price, minQuantity: '1', enabled: '1' }));
      expect(r.status).toBe(303);
    }
    const skus = await knex()('skus').where('product_id', productId).orderBy('id').select('id', 'code', 'price');
    expect(skus.map((s) => Number(s.price))).toEqual([1005, 15, 9999]);

    // Bad forms: the page again with a 400 naming the field, and nothing written.
    const before = await knex()('skus').count({ n: '*' }).first();
    for (const fields of <Array<Record<string, string>>>[
      { code: 'bad code', name: 'x', price: '1' },
      { code: `QB-A-${dialect}`, name: 'taken', price: '1' },
      { code: 'OK-1', name: 'x', price: '1.234' },
      { code: 'OK-2', name: 'x', price: '1', minQuantity: '5', maxQuantity: '2' },
    ]) {
      r = await admin.post(`/admin/catalog/products/${productId}/skus`, form({ enabled: '1', ...fields }));
      expect(r.status, JSON.stringify(fields)).toBe(400);
      expect(r.text).toMatch(/class="notice bad"/);
    }
    expect((await knex()('skus').count({ n: '*' }).first())!.n).toBe(before!.n);
    r = await admin.post('/admin/catalog/categories', form({ name: 'x', slug: 'Not A Slug' }));
    expect(r.status).toBe(400);
    expect(r.text).toContain('链接名');

    // +12.5 % on all three, then -33.33 % on two: each rounded half up, exactly as in integers.
    r = await admin.post('/admin/catalog/bulk-price', form({ percent: '+12.5', product: String(productId), back: `/admin/catalog?category=${categoryId}` }));
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe(`/admin/catalog?category=${categoryId}&repriced=3`);
    r = await admin.post('/admin/catalog/bulk-price', form({ percent: '-33.33', sku: [String(skus[0].id), String(skus[2].id)], back: `/admin/catalog/products/${productId}` }));
    expect(r.status).toBe(303);
    const after = await knex()('skus').where('product_id', productId).orderBy('id').select('price');
    const expected = [repriced(repriced(1005, 1250), -3333), repriced(15, 1250), repriced(repriced(9999, 1250), -3333)];
    expect(after.map((s) => Number(s.price))).toEqual(expected);
    expect(await auditCount('sku.price')).toBe(5);
    // A percentage that is not one, or no SKU ticked: refused, nothing changed.
    for (const fields of <Array<Record<string, string>>>[{ percent: 'ten', product: String(productId) }, { percent: '-100', product: String(productId) }, { percent: '5' }]) {
      expect((await admin.post('/admin/catalog/bulk-price', form(fields))).status).toBe(400);
    }
    expect((await knex()('skus').where('product_id', productId).orderBy('id').select('price')).map((s) => Number(s.price))).toEqual(expected);

    // Off sale: the storefront stops offering it; back on: it returns.
    const code = skus[1].code as string;
    const listed = async () => (await t.client().get('/api/store/products')).body.products.some((p: { skus: Array<{ code: string }> }) => p.skus.some((s) => s.code === code));
    expect(await listed()).toBe(true);
    r = await admin.post(`/admin/catalog/sku/${skus[1].id}/enabled`, form({ enabled: '0', back: `/admin/catalog/products/${productId}` }));
    expect(r.status).toBe(303);
    expect(await listed()).toBe(false);
    await admin.post(`/admin/catalog/sku/${skus[1].id}/enabled`, form({ enabled: '1', back: `/admin/catalog/products/${productId}` }));
    expect(await listed()).toBe(true);

    // A supplier route for a SKU, audited.
    r = await admin.post(`/admin/catalog/skus/${skus[0].id}/routes`, form({ supplier: 'upstream-a', supplierSku: 'QB10', priority: '1', cost: '9.50', enabled: '1', back: `/admin/catalog/products/${productId}` }));
    expect(r.status).toBe(303);
    expect(await knex()('sku_suppliers').where('sku_id', skus[0].id).first('supplier', 'cost')).toMatchObject({ supplier: 'upstream-a' });
    const page = await admin.get(`/admin/catalog/products/${productId}`);
    expect(page.text).toContain('QB10');
    for (const action of ['category.create', 'product.create', 'product.update', 'sku.create', 'sku.disable', 'sku.enable', 'sku.route']) expect(await auditCount(action), action).toBeGreaterThan(0);
  });

  /** Posts the import form as a browser does (multipart), with pasted keys and optionally a file. */
  const importForm = async (fields: Record<string, string>, file?: string) => {
    const body = new FormData();
    body.set('_csrf', csrf);
    for (const [k, v] of Object.entries(fields)) body.set(k, v);
    body.set('file', new Blob([file ?? '']), file === undefined ? '' : 'keys.txt');
    const res = await fetch(`${t.url}/admin/inventory/import`, { method: 'POST', body, headers: { cookie: admin.cookieHeader }, redirect: 'manual' });
    return { status: res.status, text: await res.text() };
  };
  const cell = (html: string, name: string) => Number(new RegExp(`data-${name}[^>]*>(\\d+)<`).exec(html)?.[1]);

  it('imports pasted and uploaded keys with a dedupe report, lists them masked, reveals one (audited) and voids some', async () => {
    const { code, keys } = await cardSku(t.shop, { keys: 3, price: 500 });
    const pasted = ['NEW-KEY-000001', keys[0], 'NEW-KEY-000002', 'NEW-KEY-000001', 'a,b,c', ''].join('\n');
    const file = ['NEW-KEY-000003,PIN-1', 'NEW-KEY-000002', 'x'.repeat(600)].join('\r\n');
    const r = await importForm({ sku: code, format: 'text', keys: pasted }, file);
    expect(r.status).toBe(200);
    expect(r.text).toContain('data-progress');
    expect(cell(r.text, 'added')).toBe(3);
    expect(cell(r.text, 'duplicates')).toBe(3);
    expect(cell(r.text, 'rejected')).toBe(2);
    expect(cell(r.text, 'stock')).toBe(6);
    expect(r.text.match(/data-rejection/g)).toHaveLength(2);
    expect(r.text).toContain('多于两个字段');
    expect(Number((await knex()('skus').where('code', code).first('stock')).stock)).toBe(6);
    expect(await auditCount('keys.import')).toBeGreaterThan(0);

    // A larger file commits in batches of 2,000, each reported as it lands, each with its audit row.
    const big = await cardSku(t.shop, { keys: 0 });
    const imports = await auditCount('keys.import');
    const batches = await importForm({ sku: big.code, format: 'text', keys: '' }, Array.from({ length: 4500 }, (_, i) => `BULK-${String(i).padStart(6, '0')}`).join('\n'));
    expect(batches.text.match(/data-progress/g)).toHaveLength(3);
    expect(cell(batches.text, 'added')).toBe(4500);
    expect(await auditCount('keys.import')).toBe(imports + 3);

    // Refused before anything streams: unknown SKU, nothing to import, a bad token.
    expect((await importForm({ sku: 'NO-SUCH-SKU', keys: 'K-1' })).status).toBe(404);
    expect((await importForm({ sku: code, keys: '' })).status).toBe(400);
    const forged = new FormData();
    forged.set('_csrf', 'forged');
    forged.set('sku', code);
    forged.set('keys', 'FORGED-1');
    expect((await fetch(`${t.url}/admin/inventory/import`, { method: 'POST', body: forged, headers: { cookie: admin.cookieHeader } })).status).toBe(403);
    expect(Number((await knex()('skus').where('code', code).first('stock')).stock)).toBe(6);

    // Masked in the list: no key appears in full.
    const page = await admin.get(`/admin/inventory/${code}`);
    expect(page.status).toBe(200);
    for (const k of [...keys, 'NEW-KEY-000001', 'PIN-1']) expect(page.text).not.toContain(k);
    expect(page.text).toContain('••••••0001');

    const key = await knex()('card_keys').join('skus', 'skus.id', 'card_keys.sku_id').where('skus.code', code).orderBy('card_keys.id', 'desc').first('card_keys.id');
    const shown = await admin.post(`/admin/inventory/${code}/keys/${key.id}/reveal`, form({}));
    expect(shown.status).toBe(200);
    expect(shown.text).toMatch(/data-revealed>NEW-KEY-000003\nPIN-1</);
    expect(await auditCount('key.reveal')).toBe(1);
    // A key of another SKU is not revealed through this one's page.
    const other = await cardSku(t.shop, { keys: 1 });
    expect((await admin.post(`/admin/inventory/${other.code}/keys/${key.id}/reveal`, form({}))).status).toBe(404);
    expect(await auditCount('key.reveal')).toBe(1);

    // Void two available keys and one sold: the counter falls by the two.
    const buyer = await t.createUser({ balance: 10_000 });
    const bought = await (await t.client().login(buyer.email, buyer.password)).post('/api/store/checkout', { sku: code, quantity: 1, payment: 'wallet' });
    expect(bought.status).toBe(201);
    const rows = await knex()('card_keys').join('skus', 'skus.id', 'card_keys.sku_id').where('skus.code', code).orderBy('card_keys.id').select('card_keys.id', 'card_keys.status');
    const sold = rows.find((k) => k.status === 'sold')!.id;
    const available = rows.filter((k) => k.status === 'available').slice(0, 2).map((k) => String(k.id));
    let v = await admin.post(`/admin/inventory/${code}/void`, form({ key: [...available, String(sold)], reason: 'leaked' }));
    expect(v.status).toBe(303);
    expect(v.headers.get('location')).toContain('voided=2');
    expect(Number((await knex()('skus').where('code', code).first('stock')).stock)).toBe(3);
    expect(Number((await knex()('card_keys').join('skus', 'skus.id', 'card_keys.sku_id').where({ 'skus.code': code, 'card_keys.status': 'available' }).count({ n: '*' }).first())!.n)).toBe(3);
    v = await admin.post(`/admin/inventory/${code}/void`, form({ key: available, reason: '' }));
    expect(v.status).toBe(400);

    // Low-stock threshold and restock target: listed first, flagged, with the count to restock.
    expect((await admin.post(`/admin/inventory/${code}/levels`, form({ lowStock: '5', restockTarget: '3' }))).status).toBe(400);
    expect((await admin.post(`/admin/inventory/${code}/levels`, form({ lowStock: '5', restockTarget: '20' }))).status).toBe(303);
    const list = await admin.get(`/admin/inventory?low=1&q=${code}`);
    expect(list.text).toMatch(new RegExp(`data-sku="${code}" data-low`));
    expect(list.text).toContain('<td>17</td>');
    expect(await auditCount('keys.void')).toBe(1);
    expect(await auditCount('sku.stock_levels')).toBe(1);
  });

  it('shows a user with wallet, keys and KYC; adjusts the balance with a reason, revokes a key, disables the account', async () => {
    const u = await t.createUser({ balance: 5_000 });
    const client = await t.client().login(u.email, u.password);
    const key = await createApiKey(t.shop, u.id, 'erp');
    let page = await admin.get(`/admin/users/${u.id}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain(u.email);
    expect(page.text).toMatch(/data-balance>¥50\.00</);
    expect(page.text).toContain('test balance');

    let r = await admin.post(`/admin/users/${u.id}/adjust`, form({ amount: '+12.34', reason: '补偿订单' }));
    expect(r.status).toBe(303);
    for (const bad of [{ amount: '12.34', reason: '' }, { amount: 'lots', reason: 'x' }, { amount: '-1000', reason: 'too much' }]) {
      r = await admin.post(`/admin/users/${u.id}/adjust`, form(bad));
      expect([400, 402]).toContain(r.status);
    }
    page = await admin.get(`/admin/users/${u.id}`);
    expect(page.text).toMatch(/data-balance>¥62\.34</);
    expect(page.text).toContain('补偿订单');
    const adjust = await knex()('audit_log').where({ action: 'wallet.adjust', target_id: String(u.id) }).select('actor_id', 'after');
    expect(adjust).toHaveLength(1);
    expect(adjust[0].actor_id).toBe(adminId);

    expect(page.text).toContain(key.key);
    r = await admin.post(`/admin/users/${u.id}/api-keys/${key.key}/revoke`, form({}));
    expect(r.status).toBe(303);
    expect((await knex()('api_keys').where('key', key.key).first('revoked_at')).revoked_at).not.toBeNull();
    expect(await knex()('audit_log').where({ action: 'apikey.revoke', actor_id: adminId }).first('id')).toBeTruthy();

    expect((await client.get('/api/store/me')).status).toBe(200);
    r = await admin.post(`/admin/users/${u.id}/disabled`, form({ disabled: '1' }));
    expect(r.status).toBe(303);
    expect((await client.get('/api/store/me')).status).toBe(401);
    expect((await t.client().post('/api/store/auth/login', { email: u.email, password: u.password })).status).toBe(403);
    expect((await admin.post(`/admin/users/${u.id}/disabled`, form({ disabled: '0' }))).status).toBe(303);
    expect((await t.client().post('/api/store/auth/login', { email: u.email, password: u.password })).status).toBe(200);
    // Not oneself.
    expect((await admin.post(`/admin/users/${adminId}/disabled`, form({ disabled: '1' }))).status).toBe(400);
    expect(await auditCount('user.disable')).toBe(1);
    expect(await auditCount('user.enable')).toBe(1);
    // The tree links here.
    expect((await admin.get(`/admin/agents?q=${encodeURIComponent(u.email)}`)).text).toContain(`href="/admin/users/${u.id}"`);
  });

  it('saves site settings that apply at once, and activates only a theme that passes its check', async () => {
    let r = await admin.post('/admin/settings', form({ name: '星河数卡', locale: 'zh-CN', currency: 'CNY', notice: '今晚 23:00 维护' }));
    expect(r.status).toBe(303);
    let home = await t.client().get('/');
    expect(home.text).toContain('星河数卡');
    expect(home.text).toContain('今晚 23:00 维护');
    // Money has moved in CNY: the currency stays.
    r = await admin.post('/admin/settings', form({ name: '星河数卡', locale: 'zh-CN', currency: 'USD', notice: '' }));
    expect(r.status).toBe(400);
    expect(t.shop.config.shop.currency).toBe('CNY');
    expect((await admin.post('/admin/settings', form({ name: '', locale: 'fr', currency: 'CNY' }))).status).toBe(400);

    r = await admin.post('/admin/themes/activate', form({ theme: '@cardshop/theme-wholesale' }));
    expect(r.status).toBe(303);
    home = await t.client().get('/');
    expect(home.text).toContain('class="buyf"');

    // Broken on disk after the start: the check finds it and the theme is refused.
    const homeFile = path.join(copy, 'templates', 'home.hbs');
    const original = readFileSync(homeFile, 'utf8');
    writeFileSync(homeFile, '{{#each products}}{{nope this}}{{/each}}');
    r = await admin.post('/admin/themes/activate', form({ theme: copy }));
    expect(r.status).toBe(409);
    expect(r.text).toContain('data-check="failed"');
    expect((await t.client().get('/')).text).toContain('class="buyf"');
    expect((await admin.post('/admin/themes/activate', form({ theme: 'not-installed' }))).status).toBe(404);
    writeFileSync(homeFile, original); // a shop does not start with an installed theme that fails its check

    // Both stay after a restart.
    await t.restart();
    home = await t.client().get('/');
    expect(home.text).toContain('星河数卡');
    expect(home.text).toContain('class="buyf"');
    expect(await auditCount('theme.activate')).toBe(1);
    expect(await auditCount('settings.save')).toBe(1);
  });
});
