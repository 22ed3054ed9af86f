import { seedDemoCatalog } from '@cardshop/core';
import { startTestShop, TEST_DIALECTS, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const form = (fields: Record<string, string>) => new URLSearchParams(fields);

describe.each(TEST_DIALECTS)('HTML pages over HTTP (%s)', (dialect) => {
  let t: TestShop;

  beforeAll(async () => {
    t = await startTestShop({ dialect });
    await seedDemoCatalog(t.shop);
  });
  afterAll(() => t?.close());

  it('renders the storefront in Chinese by default and English on request', async () => {
    const c = t.client();
    const zh = await c.get('/');
    expect(zh.status).toBe(200);
    expect(zh.text).toContain('<html lang="zh-CN">');
    expect(zh.text).toContain('Steam 钱包充值卡');
    expect(zh.text).toContain('¥48.50');
    const en = await c.get('/?lang=en');
    expect(en.text).toContain('<html lang="en">');
    // the choice sticks in a cookie
    expect((await c.get('/product/steam-wallet')).text).toContain('<html lang="en">');
  });

  it('refuses form posts without the CSRF token', async () => {
    const c = t.client();
    await c.get('/login');
    const r = await c.post('/login', form({ email: 'a@b.cd', password: 'whatever1' }));
    expect(r.status).toBe(403);
    const forged = await c.post('/login', form({ _csrf: 'f'.repeat(40), email: 'a@b.cd', password: 'whatever1' }));
    expect(forged.status).toBe(403);
  });

  it('registers, buys through the checkout form and shows the keys', async () => {
    const c = t.client();
    const csrf = await c.csrf('/register');
    const reg = await c.post('/register', form({ _csrf: csrf, email: 'page-buyer@test.local', password: 'password123' }));
    expect(reg.status).toBe(303);
    expect(reg.headers.get('location')).toBe('/account');
    const me = await c.get('/api/store/me');
    await t.createUser({ role: 'admin' }); // keep the ids apart from the buyer
    const { adjustWallet } = await import('@cardshop/core');
    await adjustWallet(t.shop, { userId: me.body.user.id, amount: 50_000, reason: 'test' });

    const page = await c.get('/checkout?sku=STEAM-100&quantity=2');
    expect(page.status).toBe(200);
    expect(page.text).toContain('¥193.00');
    const paid = await c.post('/checkout', form({ _csrf: csrf, sku: 'STEAM-100', quantity: '2', payment: 'wallet', contact: '' }));
    expect(paid.status).toBe(303);
    const location = paid.headers.get('location')!;
    expect(location).toMatch(/^\/order\/\d{6}-[0-9A-Z]{10}\?token=[\w-]+&placed=1$/);

    const order = await c.get(location);
    expect(order.status).toBe(200);
    expect(order.headers.get('cache-control')).toBe('no-store');
    const keys = order.text.match(/STEAM-100-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}/g) ?? [];
    expect(new Set(keys).size).toBe(2);

    // the guest link works in another browser; without the token nothing is shown
    const other = t.client();
    expect((await other.get(location)).text).toContain(keys[0]);
    const bare = await other.get(location.split('?')[0]!);
    expect(bare.status).toBe(404);
    expect(bare.text).not.toContain(keys[0]);

    const account = await c.get('/account');
    expect(account.text).toContain(location.split('?')[0]!.slice('/order/'.length));
  });

  it('shows field errors on the checkout page and writes nothing', async () => {
    const c = t.client();
    const csrf = await c.csrf('/register');
    await c.post('/register', form({ _csrf: csrf, email: 'fields@test.local', password: 'password123' }));
    const before = Number((await t.shop.db.knex('orders').count({ n: '*' }).first())?.n);
    const r = await c.post('/checkout', form({ _csrf: csrf, sku: 'MOBILE-50', quantity: '1', payment: 'wallet', field_phone: '12' }));
    expect(r.status).toBe(400);
    expect(r.text).toContain('格式不正确');
    const broke = await c.post('/checkout', form({ _csrf: csrf, sku: 'MOBILE-50', quantity: '1', payment: 'wallet', field_phone: '13800138000' }));
    expect(broke.status).toBe(402);
    expect(broke.text).toContain('余额不足');
    expect(Number((await t.shop.db.knex('orders').count({ n: '*' }).first())?.n)).toBe(before);
  });

  it('logs in with a form, refuses a foreign redirect, and logs out', async () => {
    await t.createUser({ email: 'form-login@test.local' });
    const c = t.client();
    const csrf = await c.csrf('/login');
    const wrong = await c.post('/login', form({ _csrf: csrf, email: 'form-login@test.local', password: 'nope-nope' }));
    expect(wrong.status).toBe(401);
    expect(wrong.text).toContain('邮箱或密码错误');
    const ok = await c.post('/login', form({ _csrf: csrf, email: 'form-login@test.local', password: 'password123', next: '//evil.example/' }));
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/account');
    expect((await c.get('/account')).status).toBe(200);
    const out = await c.post('/logout', form({ _csrf: csrf }));
    expect(out.status).toBe(303);
    expect((await c.get('/account')).headers.get('location')).toBe('/login?next=/account');
  });

  it('serves theme assets with long caching', async () => {
    const home = await t.client().get('/');
    const css = /href="(\/assets\/[0-9a-f]+\/style\.css)"/.exec(home.text)![1]!;
    const r = await t.client().get(css);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/text\/css/);
    expect(r.headers.get('cache-control')).toContain('immutable');
    expect((await t.client().get('/assets/x/../../package.json')).status).toBe(404);
  });
});
