import { startTestShop, TEST_DIALECTS, type TestClient, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku } from './fixtures.js';

const PAGES = ['/admin/levels', '/admin/agents', '/admin/sites'];

describe.each(TEST_DIALECTS)('the console: levels, prices, the tree and sub-shops (%s)', (dialect) => {
  let t: TestShop;
  let admin: TestClient;
  let csrf: string;
  let code: string;

  beforeAll(async () => {
    t = await startTestShop({ dialect });
    ({ code } = await cardSku(t.shop, { keys: 3, price: 10_000 }));
    const a = await t.createUser({ role: 'admin' });
    admin = await t.client().login(a.email, a.password);
    csrf = await admin.csrf('/admin/levels');
  });
  afterAll(() => t?.close());

  const form = (fields: Record<string, string>) => new URLSearchParams({ _csrf: csrf, ...fields });

  it('is the admin’s only: guests go to log in, other users get 403', async () => {
    const customer = await t.createUser();
    const other = await t.client().login(customer.email, customer.password);
    for (const page of PAGES) {
      expect((await admin.get(page)).status).toBe(200);
      const guest = await t.client().get(page);
      expect(guest.status).toBe(302);
      expect(guest.headers.get('location')).toContain('/login?next=');
      expect((await other.get(page)).status).toBe(403);
    }
    expect((await other.post('/admin/levels', form({ code: 'x' }))).status).toBe(403);
  });

  it('adds a level, a SKU override, price protection and a rebate bracket, and the prices follow', async () => {
    let r = await admin.post('/admin/levels', form({ code: 'gold', name: 'Gold', rank: '20', ruleKind: 'retail_percent', ruleValue: '90', upgradeSpend: '1000.00', upgradePrice: '' }));
    expect(r.status).toBe(303);
    r = await admin.post('/admin/levels/overrides', form({ level: 'gold', scope: 'sku', target: code, ruleKind: 'fixed', ruleValue: '85.50' }));
    expect(r.status).toBe(303);
    r = await admin.post('/admin/levels/protection', form({ sku: code, cost: '70', floor: '86', ceiling: '' }));
    expect(r.status).toBe(303);
    r = await admin.post('/admin/levels/tiers', form({ level: 'gold', minVolume: '5000', percent: '1.5' }));
    expect(r.status).toBe(303);
    const page = await admin.get('/admin/levels');
    expect(page.text).toContain('Gold');
    expect(page.text).toContain(code);
    expect(page.text).toContain('1.5 %');

    const buyer = await t.createUser({ balance: 100_000 });
    await t.shop.db.knex('users').where('id', buyer.id).update({ level_id: (await t.shop.db.knex('agent_levels').where('code', 'gold').first('id')).id });
    const client = await t.client().login(buyer.email, buyer.password);
    const sku = (await client.get('/api/store/products')).body.products.flatMap((p: { skus: Array<{ code: string; price: number }> }) => p.skus).find((s: { code: string }) => s.code === code);
    // the override says 85.50; the floor of 86.00 wins
    expect(sku.price).toBe(8_600);
  });

  it('refuses bad forms with the field named and changes nothing', async () => {
    const before = await t.shop.db.knex('agent_levels').count({ n: '*' }).first();
    for (const fields of [
      { code: 'Bad Code', name: 'x', rank: '30', ruleKind: 'retail_percent', ruleValue: '90' },
      { code: 'neg', name: 'x', rank: '30', ruleKind: 'retail_percent', ruleValue: '-5' },
      { code: 'dup', name: 'x', rank: '20', ruleKind: 'retail_percent', ruleValue: '90' },
    ]) {
      const r = await admin.post('/admin/levels', form(fields));
      expect(r.status).toBe(400);
      expect(r.text).toMatch(/class="notice bad"/);
    }
    const floor = await admin.post('/admin/levels/protection', form({ sku: code, cost: '', floor: '90', ceiling: '80' }));
    expect(floor.status).toBe(400);
    expect(floor.text).toContain('floor');
    expect((await t.shop.db.knex('agent_levels').count({ n: '*' }).first())!.n).toBe(before!.n);
    expect(Number((await t.shop.db.knex('skus').where('code', code).first('floor_price')).floor_price)).toBe(8_600);
  });

  it('moves users in the tree, sets levels, and closes a sub-shop', async () => {
    const top = await t.createUser();
    const below = await t.createUser({ uplineId: top.id });
    let r = await admin.post(`/admin/agents/${top.id}/upline`, form({ upline: String(below.id) }));
    expect(r.status).toBe(400);
    r = await admin.post(`/admin/agents/${below.id}/upline`, form({ upline: '', parent: String(top.id) }));
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe(`/admin/agents?parent=${top.id}&saved=1`);
    expect((await t.shop.db.knex('users').where('id', below.id).first('upline_id')).upline_id).toBeNull();
    r = await admin.post(`/admin/agents/${below.id}/level`, form({ level: 'gold' }));
    expect(r.status).toBe(303);
    const tree = await admin.get(`/admin/agents?q=${encodeURIComponent(below.email)}`);
    expect(tree.text).toContain(below.email);
    expect(tree.text).toContain('Gold');

    const owner = await t.client().login(top.email, top.password);
    await owner.post('/api/store/agent/join');
    await owner.put('/api/store/agent/site', { code: `console-${dialect}`, name: 'Console test' });
    const site = (await t.shop.db.knex('sites').where('code', `console-${dialect}`).first('id')).id;
    expect((await admin.post(`/admin/sites/${site}`, form({ disabled: '1' }))).status).toBe(303);
    expect((await admin.get('/admin/sites')).text).toContain(`console-${dialect}`);
    expect((await t.client().get(`/s/console-${dialect}/`)).status).toBe(404);
    const audit = await t.shop.db.knex('audit_log').whereIn('action', ['user.move', 'user.level', 'site.disable', 'level.save', 'price.override', 'sku.pricing']).select('action');
    expect(new Set(audit.map((a) => a.action))).toEqual(new Set(['user.move', 'user.level', 'site.disable', 'level.save', 'price.override', 'sku.pricing']));
  });
});
