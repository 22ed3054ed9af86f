import { randomBytes } from 'node:crypto';
import { dummyPayments, startTestShop, TEST_DIALECTS, type TestClient, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku, otherSku } from './fixtures.js';

const DAY = 86_400_000;
/** Order numbers on a page, in the order shown. */
const numbers = (html: string) => [...html.matchAll(/<tr data-order="([^"]+)"/g)].map((m) => m[1]!);
/** The query string of a pagination link (`rel="next"` or `rel="prev"`). */
const linkOf = (html: string, rel: string) =>
  new RegExp(`<a href="/admin/orders\\?([^"]*)" rel="${rel}">`)
    .exec(html)?.[1]
    ?.replace(/&#x3D;/g, '=')
    .replace(/&amp;/g, '&');
/** A CSV export's rows as cells (the header first); fetch has already dropped the byte-order mark. */
const csvRows = (text: string) =>
  text
    .split('\r\n')
    .filter(Boolean)
    .map((line) => line.split(','));

describe.each(TEST_DIALECTS)('the console order list (%s)', (dialect) => {
  let t: TestShop;
  let admin: TestClient;
  let cardA: string;
  let cardB: string;
  const bulk = `BULK-${dialect.toUpperCase()}`;
  const site = `orders-${dialect}`;
  const placed = { a: [] as string[], b: [] as string[], guest: [] as string[], agent: [] as string[], site: [] as string[], manual: [] as string[] };
  let agentId: number;
  let memberEmail: string;

  async function buy(client: TestClient, body: Record<string, unknown>, path = '/api/store/checkout') {
    const r = await client.post(path, { quantity: 1, payment: 'wallet', ...body });
    expect(r.status, r.text).toBe(201);
    return r.body.order.no as string;
  }

  beforeAll(async () => {
    t = await startTestShop({ dialect, config: { plugins: [dummyPayments()] } });
    const boss = await t.createUser({ role: 'admin' });
    admin = await t.client().login(boss.email, boss.password);
    ({ code: cardA } = await cardSku(t.shop, { price: 100, keys: 200 }));
    ({ code: cardB } = await cardSku(t.shop, { price: 300, keys: 20 }));
    await otherSku(t.shop, 'manual', `MAN-${dialect}`, 800);

    // 120 orders of A by one buyer, a few of B, so the list has pages.
    const buyer = await t.createUser({ balance: 1_000_00 });
    const client = await t.client().login(buyer.email, buyer.password);
    for (let i = 0; i < 12; i++) placed.a.push(...(await Promise.all(Array.from({ length: 10 }, () => buy(client, { sku: cardA })))));
    for (let i = 0; i < 3; i++) placed.b.push(await buy(client, { sku: cardB }));
    placed.manual.push(await buy(client, { sku: `MAN-${dialect}`, fields: { phone: '13800138000' } }));

    // Guests pay through the gateway later: two unpaid orders with the same contact.
    for (let i = 0; i < 2; i++) {
      const r = await t.client().post('/api/store/checkout', { sku: cardB, quantity: 1, payment: 'dummy', contact: `Guest-${dialect}@Example.test` });
      expect(r.status, r.text).toBe(201);
      placed.guest.push(r.body.order.no);
    }

    // An agent with a sub-shop; its member buys there, and the agent buys for itself.
    const agentUser = await t.createUser({ balance: 100_00 });
    agentId = agentUser.id;
    const agent = await t.client().login(agentUser.email, agentUser.password);
    await agent.post('/api/store/agent/join');
    expect((await agent.put('/api/store/agent/site', { code: site, name: 'Orders test' })).status).toBe(200);
    expect((await agent.put('/api/store/agent/markups', { markups: [{ scope: 'all', kind: 'fixed', value: 50 }] })).status).toBe(200);
    const member = await t.createUser({ uplineId: agentUser.id, balance: 100_00 });
    memberEmail = member.email;
    const memberClient = await t.client().login(member.email, member.password);
    placed.site.push(await buy(memberClient, { sku: cardB }, `/s/${site}/api/store/checkout`));
    placed.agent.push(await buy(agent, { sku: cardA }));

    // 1,050 more orders written straight into the table: the CSV export crosses its batches.
    const sku = await t.shop.db.knex('skus').where('code', cardA).first('id', 'product_id');
    const now = Date.now();
    const rows = Array.from({ length: 1_050 }, (_, i) => ({
      no: `${bulk}-${String(i).padStart(5, '0')}`,
      token_hash: randomBytes(32).toString('hex'),
      sku_id: sku.id,
      product_id: sku.product_id,
      product_type: 'card',
      title: 'bulk',
      quantity: 1,
      unit_price: 100,
      amount: 100,
      currency: 'CNY',
      status: 'cancelled',
      payment: 'dummy',
      created_at: now - 40 * DAY,
      updated_at: now - 40 * DAY,
    }));
    for (let i = 0; i < rows.length; i += 200) await t.shop.db.knex('orders').insert(rows.slice(i, i + 200));
  });
  afterAll(() => t?.close());

  it('is for the console’s users only: guests go to log in, customers get 403', async () => {
    const customer = await t.createUser();
    const other = await t.client().login(customer.email, customer.password);
    for (const path of ['/admin/orders', `/admin/orders?sku=${cardA}`, '/admin/orders/export.csv', `/admin/orders/${placed.b[0]}`]) {
      expect((await admin.get(path)).status, path).toBe(200);
      const guest = await t.client().get(path);
      expect(guest.status).toBe(302);
      expect(guest.headers.get('location')).toBe(`/login?next=${encodeURIComponent(path)}`);
      expect((await other.get(path)).status).toBe(403);
    }
    const form = new URLSearchParams({ _csrf: await other.csrf('/login'), reason: 'mine', to: 'wallet' });
    expect((await other.post(`/admin/orders/${placed.b[0]}/refund`, form)).status).toBe(403);
  });

  it('pages through every order newest first, by id, forwards and back', async () => {
    const all = await t.shop.db.knex('orders').orderBy('id', 'desc').pluck('no');
    const first = (await admin.get('/admin/orders')).text;
    expect(numbers(first)).toEqual(all.slice(0, 50));
    expect(linkOf(first, 'prev')).toBeUndefined();
    const second = (await admin.get(`/admin/orders?${linkOf(first, 'next')}`)).text;
    expect(numbers(second)).toEqual(all.slice(50, 100));
    // Back from the second page is the first page again.
    expect(numbers((await admin.get(`/admin/orders?${linkOf(second, 'prev')}`)).text)).toEqual(all.slice(0, 50));
    // A deep page straight from a cursor.
    const id = (await t.shop.db.knex('orders').where('no', all[700]).first('id')).id;
    expect(numbers((await admin.get(`/admin/orders?before=${id}`)).text)).toEqual(all.slice(701, 751));
    // The last page has no older link.
    const lastId = (await t.shop.db.knex('orders').where('no', all.at(-10)).first('id')).id;
    const last = (await admin.get(`/admin/orders?before=${lastId}`)).text;
    expect(numbers(last)).toEqual(all.slice(-9));
    expect(linkOf(last, 'next')).toBeUndefined();
  });

  it('filters by number, contact, SKU, status, dates, agent and sub-shop', async () => {
    const q = async (query: string) => numbers((await admin.get(`/admin/orders?${query}`)).text);
    const no = placed.b[1]!;
    expect(await q(`no=${no.toLowerCase()}`)).toEqual([no]);
    expect(await q(`no=${no.slice(0, 12)}`)).toContain(no);
    expect(await q(`no=${bulk}-0104`)).toEqual(Array.from({ length: 10 }, (_, i) => `${bulk}-0104${9 - i}`));
    // A guest's contact as typed or in other case; a member's account e-mail.
    expect(await q(`contact=${encodeURIComponent(`Guest-${dialect}@Example.test`)}`)).toEqual([...placed.guest].reverse());
    expect(await q(`contact=${encodeURIComponent(`GUEST-${dialect}@example.TEST`)}`)).toEqual([...placed.guest].reverse());
    expect(await q(`contact=${encodeURIComponent(memberEmail)}`)).toEqual(placed.site);
    expect(await q(`sku=${cardB}`)).toEqual([...placed.b, ...placed.guest, ...placed.site].reverse());
    expect(await q('status=pending_payment')).toEqual([...placed.guest].reverse());
    expect(await q(`sku=${cardB}&status=delivered`)).toEqual([...placed.b, ...placed.site].reverse());
    // The agent's own order and its member's (through its margin).
    expect(await q(`agent=%23${agentId}`)).toEqual([...placed.site, ...placed.agent].reverse());
    expect(await q(`site=${site}`)).toEqual(placed.site);
    // Two of B's orders moved to ten days ago: a range of that one day finds exactly them.
    const moved = placed.b.slice(0, 2);
    const tenDaysAgo = Date.now() - 10 * DAY;
    await t.shop.db.knex('orders').whereIn('no', moved).update({ created_at: tenDaysAgo });
    const day = new Date(tenDaysAgo + 8 * 3_600_000).toISOString().slice(0, 10);
    expect(await q(`from=${day}&to=${day}`)).toEqual([...moved].reverse());
    expect((await q(`from=${day}&sku=${cardB}`)).length).toBe(placed.b.length + placed.guest.length + placed.site.length);
  });

  it('refuses a filter it cannot read with the field named', async () => {
    for (const [query, field] of [
      ['sku=NO-SUCH-SKU', 'sku'],
      ['agent=nobody@example.test', 'agent'],
      ['site=nowhere', 'site'],
      ['from=2026-02-30', 'from'],
      ['from=2026-12-05&to=2026-12-01', 'to'],
      ['status=lost', 'status'],
    ]) {
      const r = await admin.get(`/admin/orders?${query}`);
      expect(r.status, query).toBe(400);
      expect(r.text).toContain(`data-error="${field}"`);
      expect(numbers(r.text)).toEqual([]);
    }
    expect((await admin.get('/admin/orders/export.csv?sku=NO-SUCH-SKU')).status).toBe(400);
  });

  it('exports the same filter as a CSV, streamed in batches', async () => {
    let r = await admin.get(`/admin/orders/export.csv?sku=${cardB}&status=delivered&lang=en`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/csv');
    expect(r.headers.get('content-disposition')).toMatch(/attachment; filename="orders-\d{4}-\d{2}-\d{2}\.csv"/);
    // Excel needs the byte-order mark to read UTF-8 (fetch's text() hides it: read the bytes).
    const raw = await fetch(`${t.url}/admin/orders/export.csv?sku=${cardB}`, { headers: { cookie: admin.cookieHeader } });
    expect([...new Uint8Array(await raw.arrayBuffer()).slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    let rows = csvRows(r.text);
    expect(rows[0]).toEqual(['Order', 'Placed', 'Status', 'Item', 'SKU', 'Qty', 'Amount', 'Currency', 'Payment', 'Buyer', 'Contact', 'Sub-shop', 'Paid', 'Delivered']);
    expect(rows.slice(1).map((c) => c[0])).toEqual([...placed.b, ...placed.site].reverse());
    expect(rows.slice(1).map((c) => c[6])).toEqual(['3.50', '3.00', '3.00', '3.00']);
    expect(rows[1]![11]).toBe(site);
    // 1,050 rows across two batches of 1,000, none twice.
    r = await admin.get(`/admin/orders/export.csv?no=${bulk}&lang=zh-CN`);
    rows = csvRows(r.text).slice(1);
    expect(rows).toHaveLength(1_050);
    expect(new Set(rows.map((c) => c[0])).size).toBe(1_050);
    expect(rows[0]![0]).toBe(`${bulk}-01049`);
    expect(rows[0]![2]).toBe('已取消');
  });

  it('opens an order with its ledger entries and jobs, and acts on it from there', async () => {
    const no = placed.manual[0]!;
    let page = await admin.get(`/admin/orders/${no}`);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
    expect(page.text).toContain(`data-entry="order:${no}:pay wallet:`);
    expect(page.text).toContain(`data-entry="order:${no}:pay platform:revenue"`);
    expect(page.text).toMatch(/data-deliver-form/);
    // What the buyer typed, under the label the product asks for it with: what the operator delivers to.
    expect(page.text).toContain('<tr data-input="phone"><th>手机号</th><td>13800138000</td></tr>');
    expect(page.text).toContain(`action="/admin/orders/${no}/deliver"`);
    const form = (fields: Record<string, string>) => new URLSearchParams({ _csrf: csrf, ...fields });
    // Nothing to deliver is refused and changes nothing.
    let r = await admin.post(`/admin/orders/${no}/deliver`, form({ content: ' ' }));
    expect(r.status).toBe(400);
    expect((await t.shop.db.knex('orders').where('no', no).first('status')).status).toBe('paid');
    r = await admin.post(`/admin/orders/${no}/deliver`, form({ content: 'Code: 1234-5678' }));
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe(`/admin/orders/${no}?done=delivered`);
    expect((await t.shop.db.knex('orders').where('no', no).first('status')).status).toBe('delivered');
    const audit = await t.shop.db.knex('audit_log').where({ action: 'order.deliver_manually', target_id: no }).first('after');
    expect(JSON.parse(audit.after)).toEqual({ status: 'delivered', length: 15 });
    page = await admin.get(`/admin/orders/${no}?done=delivered`);
    expect(page.text).not.toMatch(/data-deliver-form/);

    // A refund from the order page, back to the same page; the ledger shows it.
    r = await admin.post(`/admin/orders/${no}/refund`, form({ to: 'wallet', reason: 'changed mind' }));
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe(`/admin/orders/${no}?done=refunded`);
    page = await admin.get(`/admin/orders/${no}`);
    expect(page.text).toContain(`data-entry="order:${no}:refund platform:revenue"`);
    expect(page.text).toMatch(/data-status>refunded</);

    // The payment pages' address for the same order still works, with its own form targets.
    const old = await admin.get(`/admin/payments/orders/${placed.guest[0]}`);
    expect(old.status).toBe(200);
    expect(old.text).toContain(`action="/admin/payments/orders/${placed.guest[0]}/confirm"`);
  });
});
