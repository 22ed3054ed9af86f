import { adjustWallet, createCategory, createProduct, createSku, importKeys } from '@cardshop/core';
import { startTestShop, TEST_DIALECTS, type TestClient, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbSnapshot } from './db-snapshot.js';

/** Strings that change a query's meaning if pasted into SQL (or a LIKE pattern) instead of bound. */
const SQL = ["' OR '1'='1", "' OR 1=1 --", '" OR ""="', "%' OR '%'='", "'; DROP TABLE orders; --", "1' UNION SELECT email, password_hash FROM users --", '%', '_', '\\', "') OR ('a'='a"];

/** Markup that runs script if a page prints it unescaped; `x` ties each to the field it went into. */
const xss = (field: string) => `<script>alert('${field}')</script><img src=x onerror=alert('${field}')>"'`;
const RAW = /<script>alert|<img src=x onerror/;
const escapedIn = (html: string, field: string) => html.includes(`&lt;script&gt;alert(&#x27;${field}&#x27;)`) || html.includes(`&lt;script&gt;alert('${field}')`);

describe.each(TEST_DIALECTS)('injection and cross-site scripting (%s)', (dialect) => {
  let t: TestShop;
  let admin: TestClient;
  let agent: TestClient;
  let snapshot: () => Promise<unknown>;
  let orderNo: string;
  let guestNo: string;
  let guestToken: string;
  let productId: number;
  let userId: number;
  const site = `xss-${dialect}`;

  beforeAll(async () => {
    t = await startTestShop({ dialect, config: { siteThemes: ['@cardshop/theme-wholesale'] } });
    const shop = t.shop;
    const category = await createCategory(shop, { slug: 'xss-cat', name: xss('category'), description: xss('category-description') });
    productId = await createProduct(shop, { categoryId: category, slug: 'xss-card', name: xss('product'), description: xss('description'), type: 'card' });
    await createSku(shop, { productId, code: 'XSS-CARD', name: xss('sku'), price: 1_000 });
    await importKeys(shop, { sku: 'XSS-CARD', lines: ['XSS-KEY-1', 'XSS-KEY-2', 'XSS-KEY-3'] });
    const manual = await createProduct(shop, { categoryId: category, slug: 'xss-manual', name: 'Manual', type: 'manual', fields: [{ name: 'note', label: { 'zh-CN': '备注', en: 'Note' }, maxLength: 200 }] });
    await createSku(shop, { productId: manual, code: 'XSS-MANUAL', name: 'Manual', price: 500 });

    const a = await t.createUser({ role: 'admin' });
    admin = await t.client().login(a.email, a.password);
    const news = await admin.post('/api/admin/articles', { title: xss('article'), body: xss('article-body'), published: true, announcement: true });
    expect(news.status, news.text).toBe(201);
    agent = t.client();
    const registered = await agent.post('/api/store/auth/register', { email: `xss-${dialect}@example.com`, password: 'password123', displayName: xss('display-name') });
    expect(registered.status, registered.text).toBe(201);
    userId = registered.body.user.id;
    await t.shop.db.knex('users').where('id', userId).update({ email: `xss+"><script>alert('email')</script>@example.com` });
    await adjustWallet(shop, { userId, amount: 100_000, reason: xss('adjust-reason') });
    await agent.post('/api/store/agent/join');
    const s = await agent.put('/api/store/agent/site', { code: site, name: xss('site-name'), notice: xss('site-notice'), theme: '@cardshop/theme-wholesale' });
    expect(s.status, s.text).toBe(200);
    const article = await agent.post('/api/store/agent/articles', { title: xss('agent-article'), body: xss('agent-article-body'), published: true, announcement: true });
    expect(article.status, article.text).toBe(201);
    const order = await agent.post(`/s/${site}/api/store/checkout`, { sku: 'XSS-CARD', quantity: 1, payment: 'wallet', contact: `buyer@example.com` });
    expect(order.status, order.text).toBe(201);
    orderNo = order.body.order.no;
    const manualOrder = await agent.post('/api/store/checkout', { sku: 'XSS-MANUAL', payment: 'wallet', fields: { note: xss('field') } });
    expect(manualOrder.status, manualOrder.text).toBe(201);
    guestNo = manualOrder.body.order.no;
    guestToken = manualOrder.body.token;
    expect((await agent.post('/api/store/wallet/withdrawals', { amount: 2_000, method: 'alipay', payee: xss('payee') })).status).toBe(201);
    snapshot = await dbSnapshot(t);
  });
  afterAll(() => t?.close());

  it('answers every search and filter with an ordinary answer to a string full of SQL, and changes nothing', async () => {
    const before = await snapshot();
    for (const p of SQL) {
      const q = encodeURIComponent(p);
      // The shop's searches: nothing matches, so nothing comes back (a `%` is a character, not "everything").
      const store = await agent.get(`/api/store/products?q=${q}`);
      expect(store.status, p).toBe(200);
      expect(store.body.products, p).toEqual([]);
      const page = await agent.get(`/search?q=${q}`);
      expect(page.status, p).toBe(200);
      expect(page.text, p).not.toContain('XSS-CARD');
      expect((await agent.get(`/s/${site}/search?q=${q}`)).status, p).toBe(200);
      const lookup = await t.client().post('/api/store/orders/lookup', { q: p, password: p });
      expect(lookup.status, `${p}: ${lookup.text}`).toBeLessThan(500);
      expect(lookup.text, p).not.toContain(orderNo);
      for (const path of [`/api/store/products?category=${q}`, `/api/store/orders?before=${q}`, `/api/store/agent/downline?parent=${q}&page=${q}`, `/api/store/skus/${q}/picks`, `/api/store/products/${q}`]) {
        expect((await agent.get(path)).status, `${path}`).toBeLessThan(500);
      }
      // The console's searches and filters: orders (every field), keys, users and agents, withdrawals, payments, audit.
      for (const field of ['no', 'contact', 'sku', 'status', 'agent', 'site', 'from', 'to']) {
        const r = await admin.get(`/admin/orders?${field}=${q}`);
        expect(r.status, `${field}=${p}`).toBeLessThan(500);
        expect(r.text, `${field}=${p}`).not.toContain(orderNo);
        expect((await admin.get(`/admin/orders/export.csv?${field}=${q}`)).status).toBeLessThan(500);
      }
      for (const path of [
        `/admin/inventory?q=${q}`,
        `/api/admin/inventory?q=${q}`,
        `/admin/inventory/XSS-CARD?status=${q}&before=${q}`,
        `/admin/agents?q=${q}&status=${q}&parent=${q}`,
        `/admin/withdrawals?status=${q}`,
        `/api/admin/withdrawals?status=${q}&before=${q}`,
        `/api/admin/jobs?status=${q}`,
        `/admin/payments/orders?no=${q}`,
        `/admin/payments/dummy/callbacks?before=${q}`,
        `/admin/audit?before=${q}`,
        `/admin/insight?segment=${q}&page=${q}`,
        `/admin/articles?site=${q}&page=${q}`,
        `/api/admin/sites?page=${q}`,
      ]) {
        const r = await admin.get(path);
        expect(r.status, `${path}: ${r.text.slice(0, 200)}`).toBeLessThan(500);
        if (path.includes('q=')) expect(r.text, path).not.toContain('XSS-KEY');
      }
      const keys = await admin.get(`/api/admin/inventory?q=${q}`);
      expect(keys.body.skus, p).toEqual([]);
      const agents = await admin.get(`/admin/agents?q=${q}`);
      expect(agents.text, p).not.toContain(`xss-${dialect}@example.com`);
    }
    // Every table is still there, and holds what it held.
    expect(await snapshot()).toEqual(before);
  });

  const shopPages = () => [
    '/',
    '/category/xss-cat',
    '/product/xss-card',
    '/checkout?sku=XSS-CARD',
    `/order/${orderNo}`,
    `/order/${guestNo}?token=${guestToken}`,
    `/order/${orderNo}/receipt`,
    '/account',
    '/agent',
    '/articles',
    '/search?q=XSS',
  ];

  it.each(['default', 'wholesale'] as const)('prints every stored field escaped in the %s theme', async (theme) => {
    const prefix = theme === 'wholesale' ? `/s/${site}` : '';
    const seen = new Set<string>();
    for (const path of shopPages()) {
      const r = await agent.get(prefix + path);
      expect(r.status, `${prefix}${path}`).toBe(200);
      expect(r.text, `${prefix}${path}`).not.toMatch(RAW);
      for (const field of ['category', 'product', 'description', 'sku', 'article', 'display-name', 'site-name', 'site-notice', 'agent-article', 'field', 'payee']) if (escapedIn(r.text, field)) seen.add(field);
    }
    // The payloads were on those pages (escaped), so the check above looked at them.
    const expected = ['category', 'product', 'description', 'sku', 'field', ...(theme === 'wholesale' ? ['site-name', 'site-notice', 'agent-article'] : ['article'])];
    expect([...seen].sort()).toEqual(expect.arrayContaining(expected.sort()));
  });

  it('prints every stored field escaped in the console', async () => {
    const seen = new Set<string>();
    const pages = [
      '/admin',
      '/admin/catalog',
      `/admin/catalog/products/${productId}`,
      '/admin/inventory',
      '/admin/inventory/XSS-CARD',
      '/admin/orders',
      `/admin/orders/${orderNo}`,
      `/admin/orders/${guestNo}`,
      `/admin/payments/orders/${orderNo}`,
      '/admin/agents',
      `/admin/users/${userId}`,
      '/admin/sites',
      '/admin/withdrawals',
      '/admin/articles',
      '/admin/audit',
      '/admin/insight',
    ];
    for (const path of pages) {
      const r = await admin.get(path);
      expect(r.status, path).toBe(200);
      expect(r.text, path).not.toMatch(RAW);
      expect(r.text, path).not.toContain(`"><script>alert('email')`);
      for (const field of ['category', 'product', 'description', 'sku', 'article', 'display-name', 'site-name', 'agent-article', 'field', 'adjust-reason']) if (escapedIn(r.text, field)) seen.add(field);
    }
    expect([...seen].sort()).toEqual(expect.arrayContaining(['category', 'product', 'description', 'sku', 'article', 'agent-article', 'site-name', 'adjust-reason'].sort()));
  });

  it('refuses a javascript: address as a product or category image', async () => {
    const csrf = await admin.csrf('/admin/catalog');
    const r = await admin.request('POST', `/admin/catalog/products/${productId}`, new URLSearchParams({ _csrf: csrf, name: 'x', slug: 'xss-card', imageUrl: 'javascript:alert(1)' }));
    expect(r.status).toBe(400);
    const page = await agent.get('/product/xss-card');
    expect(page.text).not.toContain('javascript:');
  });
});
