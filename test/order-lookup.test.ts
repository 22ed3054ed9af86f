import { dummyPayments, startTestShop, TEST_DIALECTS, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku } from './fixtures.js';

// Crockford's base32, as order numbers use it.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const randomNo = () => `261202-${Array.from({ length: 10 }, () => ALPHABET[Math.floor(Math.random() * 32)]).join('')}`;

describe.each(TEST_DIALECTS)('finding an order without its link (%s)', (dialect) => {
  let t: TestShop;
  let keys: string[];
  let no: string;
  const contact = 'owner@example.com';
  const password = 'blue-horse-42';

  beforeAll(async () => {
    t = await startTestShop({ dialect, config: { trustProxy: true, plugins: [dummyPayments()] } });
    const sku = await cardSku(t.shop, { keys: 3, price: 800 });
    keys = sku.keys;
    const placed = await t.client().post('/api/store/checkout', { sku: sku.code, quantity: 2, contact, queryPassword: password, payment: 'dummy' });
    expect(placed.status).toBe(201);
    no = placed.body.order.no;
    await t.notify({ orderNo: no, amount: 1600 });
  });
  afterAll(() => t?.close());

  const lookup = (body: Record<string, unknown>, from = '192.0.2.1') => t.client().post('/api/store/orders/lookup', body, { 'x-forwarded-for': from });
  const leaks = (text: string) => keys.some((k) => text.includes(k));

  it('opens with the number or the contact and the query password, and with nothing less', async () => {
    const byNo = await lookup({ q: no.toLowerCase(), password });
    expect(byNo.status).toBe(200);
    expect(byNo.body.orders[0].keys.map((k: { card: string }) => k.card)).toEqual(keys.slice(0, 2));
    const byContact = await lookup({ q: 'Owner@Example.com', password }, '192.0.2.2');
    expect(byContact.body.orders.map((o: { no: string }) => o.no)).toEqual([no]);

    const wrong = await lookup({ q: no, password: 'not-it' }, '192.0.2.3');
    const unknown = await lookup({ q: randomNo(), password: 'not-it' }, '192.0.2.4');
    const stranger = await lookup({ q: 'nobody@example.com', password }, '192.0.2.5');
    for (const r of [wrong, unknown, stranger]) {
      expect(r.status).toBe(404);
      expect(r.body).toEqual(wrong.body); // the same answer whether the order exists or not
      expect(leaks(r.text)).toBe(false);
    }
    expect((await lookup({ q: no }, '192.0.2.6')).status).toBe(400);
    // The bare number still opens nothing.
    expect((await t.client().get(`/api/store/orders/${no}`)).status).toBe(404);
  });

  it('reveals no key to 1,000 guesses of numbers, contacts and passwords', async () => {
    const answers: Array<{ status: number; text: string }> = [];
    for (let i = 0; i < 1000; i += 50) {
      const wave = await Promise.all(
        Array.from({ length: 50 }, (_, j) => {
          const n = i + j;
          // A botnet: a new address for every guess, at the real order, at random numbers, at contacts.
          const q = n % 3 === 0 ? no : n % 3 === 1 ? randomNo() : `user${n}@example.com`;
          return lookup({ q, password: `guess-${n}` }, `10.${n >> 8}.${n & 255}.7`);
        }),
      );
      answers.push(...wave);
    }
    expect(answers.some((r) => leaks(r.text))).toBe(false);
    expect(answers.every((r) => r.status === 404 || r.status === 429)).toBe(true);
    // The real order was asked about 334 times: all but its first few got "too many attempts".
    expect(answers.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(300);
    // …and now even the right password waits for the window to pass.
    expect((await lookup({ q: no, password }, '192.0.2.50')).status).toBe(429);

    // One address guessing on: stopped after twenty tries, whatever it asks.
    const one = [];
    for (let i = 0; i < 30; i++) one.push(await lookup({ q: randomNo(), password: 'x' }, '198.51.100.99'));
    expect(one.slice(0, 20).every((r) => r.status === 404)).toBe(true);
    expect(one.slice(20).every((r) => r.status === 429 && r.body.error.code === 'too_many_attempts')).toBe(true);

    // An hour later the owner gets in again.
    const now = t.shop.now;
    (t.shop as { now: () => number }).now = () => Date.now() + 3_600_000;
    try {
      expect((await lookup({ q: no, password }, '192.0.2.51')).status).toBe(200);
    } finally {
      (t.shop as { now: () => number }).now = now;
    }
  });

  it('sends a one-time code to the contact, usable once, and answers the same for a stranger', async () => {
    const codes: Array<{ contact: string; code: string }> = [];
    t.shop.hooks.on('lookup.code', (p) => void codes.push(p));
    const sent = await t.client().post('/api/store/orders/lookup-code', { q: contact }, { 'x-forwarded-for': '203.0.113.1' });
    const none = await t.client().post('/api/store/orders/lookup-code', { q: 'stranger@example.com' }, { 'x-forwarded-for': '203.0.113.2' });
    expect(sent.status).toBe(202);
    expect(none.status).toBe(202);
    expect(none.body).toEqual(sent.body);
    await t.shop.hooks.idle();
    expect(codes).toHaveLength(1);
    expect(codes[0]!.contact).toBe(contact);

    const opened = await lookup({ q: contact, code: codes[0]!.code }, '203.0.113.3');
    expect(opened.status).toBe(200);
    expect(opened.body.orders[0].keys).toHaveLength(2);
    expect((await lookup({ q: contact, code: codes[0]!.code }, '203.0.113.4')).status).toBe(404); // used up
  });

  it('works as a page: the look-up form, then the order with its keys in this browser only', async () => {
    const browser = t.client();
    const csrf = await browser.csrf('/query');
    const page = await browser.get('/query');
    expect(page.text).toContain('name="password"');
    const found = await browser.post('/query', new URLSearchParams({ _csrf: csrf, q: contact, password }), { 'x-forwarded-for': '203.0.113.20' });
    expect(found.status).toBe(303);
    expect(found.headers.get('location')).toBe(`/order/${no}`);
    const order = await browser.get(`/order/${no}`);
    expect(order.status).toBe(200);
    expect(leaks(order.text)).toBe(true);
    expect((await t.client().get(`/order/${no}`)).status).toBe(404); // another browser: nothing

    const refused = await browser.post('/query', new URLSearchParams({ _csrf: csrf, q: contact, password: 'wrong-one' }), { 'x-forwarded-for': '203.0.113.21' });
    expect(refused.status).toBe(404);
    expect(refused.text).toContain('name="q"');
    expect((await browser.post('/query', new URLSearchParams({ q: contact, password }))).status).toBe(403); // no CSRF token

    // The checkout page offers guests a query password.
    const sku = await t.shop.db.knex('skus').join('orders', 'orders.sku_id', 'skus.id').where('orders.no', no).first('skus.code');
    expect((await t.client().get(`/checkout?sku=${sku.code}`)).text).toContain('name="queryPassword"');
  });
});
