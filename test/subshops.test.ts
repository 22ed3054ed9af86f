import { request } from 'node:http';
import { verifyLedger } from '@cardshop/core';
import { startTestShop, TEST_DIALECTS, type TestClient, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku } from './fixtures.js';

/** A GET with a Host header of our choosing (fetch may not set one). */
function getWithHost(url: string, host: string, path: string): Promise<{ status: number; text: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, headers: { host } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', reject).end();
  });
}

const skuPrice = (body: { products: Array<{ skus: Array<{ code: string; price: number }> }> }, code: string) =>
  body.products.flatMap((p) => p.skus).find((s) => s.code === code)?.price;

describe.each(TEST_DIALECTS)('sub-shops and the agent API over HTTP (%s)', (dialect) => {
  let t: TestShop;
  let agent: TestClient;
  let agentId: number;
  let admin: TestClient;
  let code: string;

  beforeAll(async () => {
    t = await startTestShop({ dialect });
    ({ code } = await cardSku(t.shop, { keys: 20, price: 10_000 }));
    const a = await t.createUser();
    agentId = a.id;
    agent = await t.client().login(a.email, a.password);
    const ad = await t.createUser({ role: 'admin' });
    admin = await t.client().login(ad.email, ad.password);
  });
  afterAll(() => t?.close());

  it('a customer becomes an agent, marks up, and opens a sub-shop', async () => {
    expect((await agent.put('/api/store/agent/markups', { markups: [] })).status).toBe(403);
    expect((await agent.post('/api/store/agent/join')).body.user.role).toBe('agent');
    const m = await agent.put('/api/store/agent/markups', { markups: [{ scope: 'all', kind: 'fixed', value: 1_000 }, { scope: 'sku', target: code, level: 'member', kind: 'percent', value: 1_500 }] });
    expect(m.status).toBe(200);
    expect(m.body.markups).toHaveLength(2);
    const s = await agent.put('/api/store/agent/site', { code: `mine-${dialect}`, name: 'Mine', host: `mine-${dialect}.example.test`, notice: '24/7 delivery' });
    expect(s.status).toBe(200);
    expect(s.body.site).toMatchObject({ code: `mine-${dialect}`, host: `mine-${dialect}.example.test`, enabled: true });
  });

  it('bad markups are refused with the field named, and nothing changes', async () => {
    const before = (await agent.get('/api/store/agent/markups')).body.markups;
    await admin.put(`/api/admin/skus/${code}/pricing`, { cost: null, floor: null, ceiling: 11_000 });
    for (const [markups, field, message] of [
      [[{ scope: 'all', kind: 'fixed', value: -1 }], 'markups.0.value', 'error.markup_below_price'],
      [[{ scope: 'sku', target: code, kind: 'fixed', value: 2_000 }], 'markups.0.value', 'error.markup_above_ceiling'],
      [[{ scope: 'sku', target: 'NOPE', kind: 'fixed', value: 1 }], 'markups.0.target', 'error.not_found'],
      [[{ scope: 'all', level: 'nope', kind: 'fixed', value: 1 }], 'markups.0.level', 'error.level_not_found'],
      [[{ scope: 'all', kind: 'fixed', value: 1 }, { scope: 'all', kind: 'percent', value: 1 }], 'markups.1.scope', 'error.markup_duplicate'],
      [[{ scope: 'all', kind: 'fixed', value: 1.5 }], 'markups.0.value', 'field.integer'],
    ] as const) {
      const r = await agent.put('/api/store/agent/markups', { markups });
      expect(r.status).toBe(400);
      expect(r.body.error.fields[field]).toBeTruthy();
      void message;
    }
    expect((await agent.get('/api/store/agent/markups')).body.markups).toEqual(before);
    await admin.put(`/api/admin/skus/${code}/pricing`, { cost: null, floor: null, ceiling: null });
  });

  it('the sub-shop answers by path prefix and by host name, at the agent prices', async () => {
    const guest = t.client();
    expect(skuPrice((await guest.get('/api/store/products')).body, code)).toBe(10_000);
    // The SKU markup (15 %) wins over the everything markup for members; a guest is a member.
    expect(skuPrice((await guest.get(`/s/mine-${dialect}/api/store/products`)).body, code)).toBe(11_500);
    const page = await guest.get(`/s/mine-${dialect}/`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Mine');
    expect(page.text).toContain('24/7 delivery');
    expect(page.text).toContain(`href="/s/mine-${dialect}/product/`);
    // an agent's host name answers only once the operator approved it
    const site = (await agent.get('/api/store/agent/site')).body.site;
    expect(site.hostApproved).toBe(false);
    expect((await getWithHost(t.url, `mine-${dialect}.example.test`, '/')).text).not.toContain('24/7 delivery');
    expect((await agent.post(`/api/admin/sites/${site.id}/host`, { approved: true })).status).toBe(403);
    expect((await admin.post(`/api/admin/sites/${site.id}/host`, { approved: true })).status).toBe(204);
    const byHost = await getWithHost(t.url, `mine-${dialect}.example.test`, '/');
    expect(byHost.status).toBe(200);
    expect(byHost.text).toContain('24/7 delivery');
    expect(byHost.text).toContain('¥115.00');
    // redirects stay on the sub-shop
    const account = await guest.get(`/s/mine-${dialect}/account`);
    expect(account.status).toBe(302);
    expect(account.headers.get('location')).toBe(`/s/mine-${dialect}/login?next=/account`);
  });

  it('someone who signs up on the sub-shop joins the agent; an order there pays the agent its margin', async () => {
    const buyer = t.client();
    const r = await buyer.post(`/s/mine-${dialect}/api/store/auth/register`, { email: `sub-${dialect}@example.test`, password: 'password123' });
    expect(r.status).toBe(201);
    const row = await t.shop.db.knex('users').where('id', r.body.user.id).first('upline_id');
    expect(row.upline_id).toBe(agentId);
    await admin.post(`/api/admin/wallets/${r.body.user.id}/adjust`, { amount: 50_000, reason: 'test' });
    const before = (await agent.get('/api/store/me')).body.wallet.balance;
    const order = await buyer.post(`/s/mine-${dialect}/api/store/checkout`, { sku: code, quantity: 2, payment: 'wallet' });
    expect(order.status).toBe(201);
    expect(order.body.order.amount).toBe(23_000);
    expect((await agent.get('/api/store/me')).body.wallet.balance).toBe(before + 3_000);
    const site = (await agent.get('/api/store/agent/site')).body;
    expect(site.orders.map((o: { no: string }) => o.no)).toContain(order.body.order.no);
    const earnings = (await agent.get('/api/store/agent/earnings')).body;
    expect(earnings.credited).toBeGreaterThanOrEqual(3_000);
    const team = (await agent.get('/api/store/agent/downline')).body;
    expect(team.members).toEqual([expect.objectContaining({ id: r.body.user.id, volume: 23_000, margin: 3_000 })]);
    expect(await verifyLedger(t.shop)).toMatchObject({ ok: true });
  });

  it('the agent centre page shows the invite link, the downline and the earnings, and saves markups from its form', async () => {
    const page = await agent.get('/agent');
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/\/i\/[A-Z0-9]{6,8}/);
    expect(page.text).toContain('su***@example.test'); // the downline member, e-mail masked
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
    const bad = await agent.post('/agent/markups', new URLSearchParams({ _csrf: csrf, 'markups[0][scope]': 'all', 'markups[0][kind]': 'fixed', 'markups[0][value]': '-1' }));
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('aria-invalid="true"');
    const good = await agent.post(
      '/agent/markups',
      new URLSearchParams({
        _csrf: csrf,
        'markups[0][scope]': 'all',
        'markups[0][kind]': 'fixed',
        'markups[0][value]': '10.00',
        'markups[1][scope]': 'sku',
        'markups[1][target]': code,
        'markups[1][level]': 'member',
        'markups[1][kind]': 'percent',
        'markups[1][value]': '15',
        'markups[2][scope]': 'all',
        'markups[2][value]': '',
      }),
    );
    expect(good.status).toBe(303);
    expect((await agent.get('/api/store/agent/markups')).body.markups).toEqual([
      { scope: 'all', target: null, level: null, kind: 'fixed', value: 1_000 },
      { scope: 'sku', target: code, level: 'member', kind: 'percent', value: 1_500 },
    ]);
    // a customer is offered to join instead
    const customer = await t.createUser();
    const other = await t.client().login(customer.email, customer.password);
    expect((await other.get('/agent')).text).toContain('action="/agent/join"');
  });

  it('an invite link makes the inviter the upline', async () => {
    const { code: invite } = (await agent.get('/api/store/agent/invite')).body;
    const visitor = t.client();
    const landing = await visitor.get(`/i/${invite}`);
    expect(landing.status).toBe(302);
    const r = await visitor.post('/api/store/auth/register', { email: `invited-${dialect}@example.test`, password: 'password123' });
    expect((await t.shop.db.knex('users').where('id', r.body.user.id).first('upline_id')).upline_id).toBe(agentId);
  });

  it('the admin moves users but never into a cycle', async () => {
    const a = await t.createUser();
    const b = await t.createUser({ uplineId: a.id });
    const c = await t.createUser({ uplineId: b.id });
    for (const [who, upline] of [
      [a.id, c.id],
      [a.id, a.id],
      [b.id, c.id],
    ]) {
      const r = await admin.post(`/api/admin/users/${who}/upline`, { upline });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('tree_cycle');
    }
    expect((await admin.post(`/api/admin/users/${c.id}/upline`, { upline: -1 })).status).toBe(400);
    expect((await admin.post(`/api/admin/users/${c.id}/upline`, { upline: 999_999 })).status).toBe(400);
    expect((await t.shop.db.knex('users').where('id', a.id).first('upline_id')).upline_id).toBeNull();
    expect((await admin.post(`/api/admin/users/${c.id}/upline`, { upline: null })).status).toBe(204);
    expect((await admin.post(`/api/admin/users/${a.id}/upline`, { upline: c.id })).status).toBe(204);
    // non-admins are refused
    expect((await agent.post(`/api/admin/users/${a.id}/upline`, { upline: null })).status).toBe(403);
  });

  it('the operator closes a sub-shop', async () => {
    const { sites } = (await admin.get('/api/admin/sites')).body;
    const site = sites.find((s: { code: string }) => s.code === `mine-${dialect}`);
    expect((await admin.post(`/api/admin/sites/${site.id}/disable`, { disabled: true })).status).toBe(204);
    expect((await t.client().get(`/s/mine-${dialect}/`)).status).toBe(404);
    expect((await getWithHost(t.url, `mine-${dialect}.example.test`, '/')).status).toBe(404);
    expect((await admin.post(`/api/admin/sites/${site.id}/disable`, { disabled: false })).status).toBe(204);
    expect((await t.client().get(`/s/mine-${dialect}/`)).status).toBe(200);
  });
});
