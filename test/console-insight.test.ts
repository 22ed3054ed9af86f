import { dummyPayments, startTestShop, TEST_DIALECTS, type TestClient, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku } from './fixtures.js';

const DAY = 86_400_000;
const customers = (html: string) => [...html.matchAll(/<tr data-customer="([^"]+)"/g)].map((m) => m[1]!);
const segmentOf = (html: string, name: string) => new RegExp(`<tr data-customer="${name.replace(/[.+]/g, '\\$&')}"[^>]*>[\\s\\S]*?<td data-segment="([a-z_]+)"`).exec(html)?.[1];

describe.each(TEST_DIALECTS)('the console’s customer insight (%s)', (dialect) => {
  let t: TestShop;
  let admin: TestClient;
  let x: string;
  let y: string;
  let z: string;
  const people: Record<string, string> = {};
  const guest = `guest-${dialect}@example.test`;

  /** A wallet order of `sku` by `client`, placed `daysAgo` days ago. */
  async function buy(client: TestClient, sku: string, daysAgo: number) {
    const r = await client.post('/api/store/checkout', { sku, quantity: 1, payment: 'wallet' });
    expect(r.status, r.text).toBe(201);
    await t.shop.db.knex('orders').where('no', r.body.order.no).update({ created_at: Date.now() - daysAgo * DAY });
  }

  async function customer(name: string) {
    const u = await t.createUser({ email: `${name}-${dialect}@example.test`, balance: 100_00 });
    people[name] = u.email;
    return t.client().login(u.email, u.password);
  }

  beforeAll(async () => {
    t = await startTestShop({ dialect, config: { plugins: [dummyPayments()] } });
    const boss = await t.createUser({ role: 'admin' });
    admin = await t.client().login(boss.email, boss.password);
    ({ code: x } = await cardSku(t.shop, { price: 1_000, keys: 20 }));
    ({ code: y } = await cardSku(t.shop, { price: 2_000, keys: 20 }));
    ({ code: z } = await cardSku(t.shop, { price: 500, keys: 20 }));

    // Ann: X and Y on one day, X again weeks before. Bob: X and Y on another day. Cat: Z today.
    // Dan: Y once, long ago. A guest pays for Z through the gateway, yesterday. Eve's order is unpaid.
    const ann = await customer('ann');
    await buy(ann, x, 40);
    await buy(ann, x, 5);
    await buy(ann, y, 5);
    const bob = await customer('bob');
    await buy(bob, x, 2);
    await buy(bob, y, 2);
    await buy(await customer('cat'), z, 0);
    await buy(await customer('dan'), y, 300);
    const placed = await t.client().post('/api/store/checkout', { sku: z, quantity: 1, payment: 'dummy', contact: guest });
    expect((await t.notify({ orderNo: placed.body.order.no, amount: 500 })).status).toBe(200);
    await t.shop.db.knex('orders').where('no', placed.body.order.no).update({ created_at: Date.now() - DAY });
    const eve = await customer('eve');
    expect((await eve.post('/api/store/checkout', { sku: z, quantity: 1, payment: 'dummy' })).status).toBe(201);
  });
  afterAll(() => t?.close());

  it('is the admin’s only: guests go to log in, customers get 403', async () => {
    const other = await t.client().login(people.cat!, 'password123');
    for (const path of ['/admin/insight', '/admin/insight?segment=loyal', '/admin/insight.csv']) {
      expect((await admin.get(path)).status).toBe(200);
      const visitor = await t.client().get(path);
      expect(visitor.status).toBe(302);
      expect(visitor.headers.get('location')).toBe(`/login?next=${encodeURIComponent(path)}`);
      expect((await other.get(path)).status).toBe(403);
    }
  });

  it('lists customers by what they spent, with RFM segments and repeat buyers marked', async () => {
    const page = (await admin.get('/admin/insight?refresh=1&lang=zh-CN')).text;
    // Only delivered orders count: Eve, whose order is unpaid, is no customer yet. Cat and the guest
    // spent the same; the more recent comes first.
    expect(customers(page)).toEqual([people.ann, people.bob, people.dan, people.cat, guest]);
    expect(page).toContain('5 位客户，其中复购 2 位（40.0%）');
    expect(page).toMatch(new RegExp(`<tr data-customer="${people.ann}" class="repeat" data-repeat>`));
    expect(page).toMatch(new RegExp(`<tr data-customer="${people.bob}" class="repeat" data-repeat>`));
    expect(page).not.toMatch(new RegExp(`<tr data-customer="${people.cat}" class="repeat"`));
    expect(page).toMatch(new RegExp(`data-customer="${people.ann}"[^>]*>[\\s\\S]*?</td>\\s*<td data-segment="loyal">忠实客户</td><td>3</td><td>¥40.00</td>`));
    // Recency by quintile: Dan (300 days) and Ann (5) score 1, Bob 2, the guest 3, Cat (today) 4.
    expect(segmentOf(page, people.ann!)).toBe('loyal');
    expect(segmentOf(page, people.bob!)).toBe('at_risk');
    expect(segmentOf(page, guest)).toBe('regular');
    expect(segmentOf(page, people.cat!)).toBe('new');
    expect(segmentOf(page, people.dan!)).toBe('hibernating');
    expect(page).toContain(`<a href="/admin/orders?contact=${encodeURIComponent(guest)}">${guest}</a> <small>游客</small>`);
  });

  it('filters by segment and repeat buyers', async () => {
    expect(customers((await admin.get('/admin/insight?segment=new')).text)).toEqual([people.cat]);
    expect(customers((await admin.get('/admin/insight?repeat=1')).text)).toEqual([people.ann, people.bob]);
    expect(customers((await admin.get('/admin/insight?segment=hibernating&repeat=1')).text)).toEqual([]);
  });

  it('finds the SKUs bought together by one buyer on one day', async () => {
    const page = (await admin.get('/admin/insight')).text;
    const pairs = [...page.matchAll(/<tr data-pair="([^"]+)">[\s\S]*?<td>(\d+)<\/td><\/tr>/g)].map((m) => [m[1], m[2]]);
    // Ann's X and Y five days ago, Bob's two days ago; Ann's earlier X was on another day.
    expect(pairs).toEqual([[`${x}+${y}`, '2']]);
  });

  it('exports the customers as CSV with the same filter', async () => {
    let r = await admin.get('/admin/insight.csv?lang=en');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/csv');
    let rows = r.text.split('\r\n').filter(Boolean).map((l) => l.split(','));
    expect(rows[0]).toEqual(['Customer', '', 'Segment', 'Orders', 'Spent', 'First order', 'Last order', 'R', 'F', 'M', 'Repeat']);
    expect(rows.slice(1).map((c) => c[0])).toEqual([people.ann, people.bob, people.dan, people.cat, guest]);
    expect(rows[1]!.slice(2, 5)).toEqual(['Loyal', '3', '40.00']);
    expect(rows[5]![1]).toBe('guest');
    r = await admin.get('/admin/insight.csv?repeat=1');
    rows = r.text.split('\r\n').filter(Boolean).map((l) => l.split(','));
    expect(rows.slice(1).map((c) => c[0])).toEqual([people.ann, people.bob]);
  });
});
