import { pruneSessions, verifyLedger } from '@cardshop/core';
import { startTestShop, TEST_DIALECTS, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku, otherSku } from './fixtures.js';

describe.each(TEST_DIALECTS)('store API over HTTP (%s)', (dialect) => {
  let t: TestShop;
  let code: string;
  let keys: string[];

  beforeAll(async () => {
    t = await startTestShop({ dialect });
    ({ code, keys } = await cardSku(t.shop, { keys: 5, price: 1250 }));
    await otherSku(t.shop, 'manual', 'MANUAL-1', 700);
  });
  afterAll(() => t?.close());

  it('registers, logs in, buys a card and sees its key', async () => {
    const alice = t.client();
    const reg = await alice.post('/api/store/auth/register', { email: 'Alice@Example.com', password: 'secret-pass-1' });
    expect(reg.status).toBe(201);
    expect(reg.body.user).toMatchObject({ email: 'alice@example.com', role: 'customer' });

    const me = await alice.get('/api/store/me');
    expect(me.body.wallet.balance).toBe(0);

    // no money yet
    const broke = await alice.post('/api/store/checkout', { sku: code, quantity: 1, payment: 'wallet' });
    expect(broke.status).toBe(402);
    expect(broke.body.error.code).toBe('insufficient_balance');

    const admin = await t.createUser({ role: 'admin' });
    const adminClient = await t.client().login(admin.email, admin.password);
    const credit = await adminClient.post(`/api/admin/wallets/${reg.body.user.id}/adjust`, { amount: 5000, reason: 'welcome' });
    expect(credit.status).toBe(200);
    expect(credit.body.balance).toBe(5000);

    // a fresh login in another browser works as well
    const again = await t.client().login('alice@example.com', 'secret-pass-1');
    const bought = await again.post('/api/store/checkout', { sku: code, quantity: 2, payment: 'wallet' });
    expect(bought.status).toBe(201);
    expect(bought.body.order).toMatchObject({ status: 'delivered', quantity: 2, unitPrice: 1250, amount: 2500 });
    expect(bought.body.order.keys.map((k: { card: string }) => k.card)).toEqual(keys.slice(0, 2));
    expect(typeof bought.body.token).toBe('string');

    const view = await alice.get(`/api/store/orders/${bought.body.order.no}`);
    expect(view.status).toBe(200);
    expect(view.body.order.keys).toEqual(bought.body.order.keys);
    expect((await alice.get('/api/store/me')).body.wallet.balance).toBe(2500);

    const product = await alice.get(`/api/store/products/${code.toLowerCase()}`);
    expect(product.body.product.skus[0]).toMatchObject({ code, stock: 3, inStock: true, price: 1250 });
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });

  it('keeps keys encrypted at rest', async () => {
    const rows = await t.shop.db.knex('card_keys').select('secret', 'fingerprint');
    expect(rows.length).toBeGreaterThanOrEqual(5);
    for (const r of rows) {
      expect(r.secret).not.toMatch(/KEY/);
      expect(r.fingerprint).toMatch(/^[0-9a-f]{32}$/);
    }
  });

  it('lets a guest read an order only with its token', async () => {
    const bob = await t.createUser({ balance: 10_000 });
    const client = await t.client().login(bob.email, bob.password);
    const { body } = await client.post('/api/store/checkout', { sku: code, payment: 'wallet' });
    const no = body.order.no;

    const stranger = t.client();
    expect((await stranger.get(`/api/store/orders/${no}`)).status).toBe(404);
    expect((await stranger.get(`/api/store/orders/${no}?token=wrong-token`)).status).toBe(404);
    const other = await t.createUser();
    const otherClient = await t.client().login(other.email, other.password);
    const denied = await otherClient.get(`/api/store/orders/${no}`);
    expect(denied.status).toBe(404);
    expect(denied.text).not.toContain(body.order.keys[0].card);

    const guest = await stranger.get(`/api/store/orders/${no}?token=${encodeURIComponent(body.token)}`);
    expect(guest.status).toBe(200);
    expect(guest.body.order.keys).toEqual(body.order.keys);
  });

  it('keeps manual orders paid until an admin delivers them', async () => {
    const buyer = await t.createUser({ balance: 1000 });
    const client = await t.client().login(buyer.email, buyer.password);
    const placed = await client.post('/api/store/checkout', { sku: 'MANUAL-1', fields: { phone: '13800138000' }, payment: 'wallet' });
    expect(placed.status).toBe(201);
    expect(placed.body.order).toMatchObject({ status: 'paid', fields: { phone: '13800138000' }, keys: [] });

    const admin = await t.createUser({ role: 'admin' });
    const adminClient = await t.client().login(admin.email, admin.password);
    expect((await client.post(`/api/admin/orders/${placed.body.order.no}/deliver`, { content: 'x' })).status).toBe(403);
    const done = await adminClient.post(`/api/admin/orders/${placed.body.order.no}/deliver`, { content: 'VIP activated' });
    expect(done.body.order).toMatchObject({ status: 'delivered', delivery: 'VIP activated' });
    const twice = await adminClient.post(`/api/admin/orders/${placed.body.order.no}/deliver`, { content: 'again' });
    expect(twice.status).toBe(409);
    expect((await client.get(`/api/store/orders/${placed.body.order.no}`)).body.order.delivery).toBe('VIP activated');
  });

  it('refunds to the wallet once, and the ledger stays balanced', async () => {
    const buyer = await t.createUser({ balance: 1000 });
    const client = await t.client().login(buyer.email, buyer.password);
    const placed = await client.post('/api/store/checkout', { sku: 'MANUAL-1', fields: { phone: '13900139000' }, payment: 'wallet' });
    const admin = await t.createUser({ role: 'admin' });
    const adminClient = await t.client().login(admin.email, admin.password);
    const results = await Promise.all(
      [1, 2, 3].map(() => adminClient.post(`/api/admin/orders/${placed.body.order.no}/refund`, { reason: 'cannot fulfil' })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409]);
    expect((await client.get('/api/store/me')).body.wallet.balance).toBe(1000);
    const report = (await adminClient.get('/api/admin/ledger/verify')).body;
    expect(report).toMatchObject({ ok: true, drift: [], unbalanced: [], negative: [] });
  });

  it('logs out', async () => {
    const u = await t.createUser();
    const c = await t.client().login(u.email, u.password);
    expect((await c.get('/api/store/me')).status).toBe(200);
    expect((await c.post('/api/store/auth/logout')).status).toBe(204);
    expect((await c.get('/api/store/me')).status).toBe(401);
  });

  it('prunes expired sessions and keeps live ones', async () => {
    const u = await t.createUser();
    await t.client().login(u.email, u.password);
    await t.shop.db.knex('sessions').where('user_id', u.id).update({ expires_at: Date.now() - 1 });
    await t.client().login(u.email, u.password);
    expect(await pruneSessions(t.shop)).toBeGreaterThanOrEqual(1);
    const left = await t.shop.db.knex('sessions').where('user_id', u.id).select('expires_at');
    expect(left).toHaveLength(1);
    expect(Number(left[0].expires_at)).toBeGreaterThan(Date.now());
  });

  it('answers health checks', async () => {
    expect((await t.client().get('/healthz')).body).toEqual({ status: 'ok' });
  });
});
