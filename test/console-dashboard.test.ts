import { becomeAgent, importKeys, setMarkups, setRoute, setSkuPricing } from '@cardshop/core';
import { createDummySupplier, dummyPayments, startTestShop, TEST_DIALECTS, type TestClient, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku, otherSku } from './fixtures.js';

const DAY = 86_400_000;
/** The console counts days in China Standard Time. */
const shopDay = (ms: number) => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 10);
/** Noon (shop time) `days` ago. */
const noonDaysAgo = (days: number) => {
  const today = Math.floor((Date.now() + 8 * 3_600_000) / DAY);
  return (today - days) * DAY - 8 * 3_600_000 + 12 * 3_600_000;
};

/** `data-*` attributes of the element carrying `data-<key>="<value>"`. */
function dataOf(html: string, key: string, value: string): Record<string, string> {
  const tag = new RegExp(`<[a-z]+ [^>]*data-${key}="${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"[^>]*>`).exec(html)?.[0];
  if (!tag) throw new Error(`no element with data-${key}="${value}"`);
  return Object.fromEntries([...tag.matchAll(/data-([a-z-]+)(?:="([^"]*)")?/g)].map((m) => [m[1]!, m[2] ?? '']));
}

describe.each(TEST_DIALECTS)('the console dashboard (%s)', (dialect) => {
  const supplier = createDummySupplier('sup-dash');
  let t: TestShop;
  let admin: TestClient;
  let skuA: string;
  let skuB: string;
  const day1 = noonDaysAgo(3);
  const day2 = noonDaysAgo(1);

  /** Places a wallet order and moves it (and its margins) to `at`. */
  async function buy(client: TestClient, sku: string, quantity: number, at?: number, fields?: Record<string, string>) {
    const r = await client.post('/api/store/checkout', { sku, quantity, payment: 'wallet', fields });
    expect(r.status, r.text).toBe(201);
    const no = r.body.order.no as string;
    if (at !== undefined) {
      const { id } = await t.shop.db.knex('orders').where('no', no).first('id');
      await t.shop.db.knex('orders').where('id', id).update({ created_at: at });
      await t.shop.db.knex('order_margins').where('order_id', id).update({ created_at: at });
    }
    return no;
  }

  beforeAll(async () => {
    t = await startTestShop({ dialect, config: { plugins: [supplier.plugin, dummyPayments()], delivery: { backoffMs: 0, maxAttempts: 1, supplierPollMs: 60_000 } } });
    const boss = await t.createUser({ role: 'admin' });
    admin = await t.client().login(boss.email, boss.password);

    // A: ¥10.00, cost ¥6.00, 10 keys; B: ¥5.00, no cost, 3 keys, warned at 5.
    ({ code: skuA } = await cardSku(t.shop, { price: 1_000, keys: 10 }));
    ({ code: skuB } = await cardSku(t.shop, { price: 500, keys: 3 }));
    await setSkuPricing(t.shop, { sku: skuA, cost: 600, floor: null, ceiling: null }, { id: boss.id });
    await t.shop.db.knex('skus').where('code', skuB).update({ low_stock: 5 });

    const buyer = await t.createUser({ balance: 100_00 });
    const client = await t.client().login(buyer.email, buyer.password);
    // Day 1: two orders of A (1 and 2 keys). Day 2: one of B by the buyer, one of B through an agent.
    await buy(client, skuA, 1, day1);
    await buy(client, skuA, 2, day1);
    await buy(client, skuB, 1, day2);
    const agentUser = await t.createUser();
    const agent = { ...agentUser, ...(await becomeAgent(t.shop, agentUser)) };
    await setMarkups(t.shop, agent, { markups: [{ scope: 'all', kind: 'fixed', value: 100 }] });
    const member = await t.createUser({ uplineId: agent.id, balance: 20_00 });
    await buy(await t.client().login(member.email, member.password), skuB, 1, day2);

    // A supplier that delivers one top-up and fails the other (refunded).
    await otherSku(t.shop, 'direct', 'DASH-TOP', 500);
    await setRoute(t.shop, 'DASH-TOP', { supplier: 'sup-dash', supplierSku: 'S-1', priority: 0, cost: 300 });
    await buy(client, 'DASH-TOP', 1, undefined, { phone: '13800138000' });
    await t.shop.delivery.worker.runDue();
    supplier.behaviour.set('S-1', 'fail');
    await buy(client, 'DASH-TOP', 1, undefined, { phone: '13800138000' });
    await t.shop.delivery.worker.runDue();

    // An order waiting for its payment.
    expect((await client.post('/api/store/checkout', { sku: skuA, quantity: 1, payment: 'dummy' })).status).toBe(201);
  });
  afterAll(() => t?.close());

  it('is the admin’s only: guests go to log in, customers get 403', async () => {
    const customer = await t.createUser();
    const other = await t.client().login(customer.email, customer.password);
    for (const path of ['/admin', '/admin?period=month']) {
      expect((await admin.get(path)).status).toBe(200);
      const guest = await t.client().get(path);
      expect(guest.status).toBe(302);
      expect(guest.headers.get('location')).toBe(`/login?next=${encodeURIComponent(path)}`);
      expect((await other.get(path)).status).toBe(403);
    }
  });

  it('draws sales and margin per day from the orders put in', async () => {
    const page = (await admin.get('/admin?period=day&refresh=1')).text;
    // Day 1: ¥10 + ¥20 of A, cost 3 × ¥6 → margin ¥12. Day 2: ¥5 + ¥6 of B (no cost), ¥1 to the agent → margin ¥10.
    expect(dataOf(page, 'bucket', shopDay(day1))).toMatchObject({ orders: '2', sales: '3000', margin: '1200' });
    expect(dataOf(page, 'bucket', shopDay(day2))).toMatchObject({ orders: '2', sales: '1100', margin: '1000' });
    expect(dataOf(page, 'bucket', shopDay(noonDaysAgo(2)))).toMatchObject({ orders: '0', sales: '0', margin: '0' });
    // The top-up delivered today: ¥5.00, no cost price on the SKU.
    expect(dataOf(page, 'bucket', shopDay(Date.now()))).toMatchObject({ orders: '1', sales: '500', margin: '500' });
    expect(page.match(/data-bucket=/g)).toHaveLength(30);
    // The chart's bars carry the same points.
    expect(page).toContain(`data-series="销售额" data-label="${shopDay(day1).slice(5)}" data-value="3000"`);
    expect(page).toContain(`data-series="毛利" data-label="${shopDay(day2).slice(5)}" data-value="1000"`);
    expect(page).toMatch(/<svg [^>]*role="img"/);
    expect(page).toContain('data-total="sales">¥46.00<');
  });

  it('adds the same orders up by week and by month', async () => {
    for (const period of ['week', 'month']) {
      const page = (await admin.get(`/admin?period=${period}&refresh=1`)).text;
      expect(page).toContain('data-total="orders">5<');
      expect(page).toContain('data-total="margin">¥27.00<');
      expect(page.match(/data-bucket=/g)).toHaveLength(12);
    }
  });

  it('counts orders by status, ranks SKUs and agents, and rates the supplier and the own stock', async () => {
    const page = (await admin.get('/admin?refresh=1&lang=en')).text;
    expect(page).toMatch(/data-status="delivered"><td><a [^>]*>Delivered<\/a><\/td><td>5</);
    expect(page).toMatch(/data-status="refunded">.*?<td>1</);
    expect(page).toMatch(/data-status="pending_payment">.*?<td>1</);
    const skus = [...page.matchAll(/data-sku="([^"]+)"/g)].map((m) => m[1]);
    expect(skus).toEqual([skuA, skuB, 'DASH-TOP']);
    expect(page).toMatch(new RegExp(`data-sku="${skuA}">.*?<td>3</td><td>¥30.00</td>`));
    expect([...page.matchAll(/data-agent="(\d+)"/g)].map((m) => m[1])).toHaveLength(1);
    expect(page).toMatch(/data-agent="\d+"><td><a [^>]*>[^<]+<\/a><\/td><td>1<\/td><td>¥6.00<\/td><td>¥1.00<\/td>/);
    expect(page).toMatch(/data-supplier="sup-dash"><td>sup-dash<\/td><td>1<\/td><td class="bad-cell">1<\/td><td>0<\/td><td data-rate>50.0 %/);
    expect(page).toMatch(/data-supplier="stock"><td>Own stock \(card keys\)<\/td><td>4<\/td><td>0<\/td><td>0<\/td><td data-rate>100.0 %/);
  });

  it('shows stock with the SKUs running out first, and the wallets against the ledger', async () => {
    let page = (await admin.get('/admin?refresh=1&lang=zh-CN')).text;
    const stock = [...page.matchAll(/data-stock="([^"]+)"( class="low" data-low)?/g)].map((m) => [m[1], Boolean(m[2])]);
    // B: 1 key left, warned at 5; A: 7 keys less the one the unpaid order holds, no warning.
    expect(stock).toEqual([
      [skuB, true],
      [skuA, false],
    ]);
    expect(dataOf(page, 'stock', skuB)).toHaveProperty('low');
    const keys = await t.shop.db.knex('skus').whereIn('code', [skuA, skuB]).sum({ n: 'stock' }).first();
    expect(Number(keys!.n)).toBe(7);
    expect(page).toMatch(/data-stock-summary>2 个[^<]*共 7 张[^<]*；1 个/);

    const wallets = await t.shop.db.knex('accounts').where('kind', 'wallet').sum({ total: 'balance' }).first();
    expect(dataOf(page, 'float', 'wallet')).toMatchObject({ balance: String(Number(wallets!.total)), journal: String(Number(wallets!.total)) });
    expect(page).toMatch(/data-float="wallet"[^>]*>.*?class="ok-cell"/);

    // A balance changed behind the ledger's back is shown, not hidden.
    const account = await t.shop.db.knex('accounts').where('kind', 'wallet').first('id', 'balance');
    await t.shop.db.knex('accounts').where('id', account.id).update({ balance: Number(account.balance) + 1 });
    page = (await admin.get('/admin?refresh=1')).text;
    expect(page).toMatch(/data-float="wallet"[^>]*>.*?class="bad-cell"/);
    await t.shop.db.knex('accounts').where('id', account.id).update({ balance: account.balance });
  });

  it('shows keys just imported at once, without asking for a refresh', async () => {
    expect(dataOf((await admin.get('/admin')).text, 'stock', skuB)).toHaveProperty('low');
    await importKeys(t.shop, { sku: skuB, lines: Array.from({ length: 9 }, (_, i) => `${skuB}-MORE-${i}`) });
    const page = (await admin.get('/admin')).text;
    expect(page).toMatch(new RegExp(`data-stock="${skuB}"><td>.*?</td><td>.*?</td><td>10 <small>/ 5</small></td>`));
  });
});
