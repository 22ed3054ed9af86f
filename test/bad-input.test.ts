import { startTestShop, TEST_DIALECTS, type TestClient, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku, otherSku } from './fixtures.js';

/** Counts of every table that bad input must leave alone. */
async function snapshot(t: TestShop) {
  const out: Record<string, unknown> = {};
  for (const table of ['orders', 'journal_entries', 'journal_transactions', 'users']) {
    out[table] = Number((await t.shop.db.knex(table).count({ n: '*' }).first())?.n);
  }
  out.available = Number((await t.shop.db.knex('card_keys').where('status', 'available').count({ n: '*' }).first())?.n);
  out.balances = await t.shop.db.knex('accounts').orderBy('id').pluck('balance');
  return out;
}

describe.each(TEST_DIALECTS)('bad input is refused with the field named (%s)', (dialect) => {
  let t: TestShop;
  let buyer: TestClient;
  let code: string;

  beforeAll(async () => {
    t = await startTestShop({ dialect });
    ({ code } = await cardSku(t.shop, { keys: 5, maxQuantity: 3 }));
    await otherSku(t.shop, 'direct', 'PHONE-10');
    const u = await t.createUser({ balance: 100_000 });
    buyer = await t.client().login(u.email, u.password);
  });
  afterAll(() => t?.close());

  const cases: Array<[string, unknown, number, string, string?]> = [
    ['quantity as a string', { sku: 'X', quantity: '2', payment: 'wallet' }, 400, 'validation_failed', 'quantity'],
    ['negative quantity', { sku: 'X', quantity: -1, payment: 'wallet' }, 400, 'validation_failed', 'quantity'],
    ['zero quantity', { sku: 'X', quantity: 0, payment: 'wallet' }, 400, 'validation_failed', 'quantity'],
    ['fractional quantity', { sku: 'X', quantity: 1.5, payment: 'wallet' }, 400, 'validation_failed', 'quantity'],
    ['huge quantity', { sku: 'X', quantity: 1e12, payment: 'wallet' }, 400, 'validation_failed', 'quantity'],
    ['quantity over the SKU limit', { sku: 'X', quantity: 4, payment: 'wallet' }, 400, 'validation_failed', 'quantity'],
    ['missing sku', { quantity: 1, payment: 'wallet' }, 400, 'validation_failed', 'sku'],
    ['sku as an object', { sku: { $ne: null }, payment: 'wallet' }, 400, 'validation_failed', 'sku'],
    ['unknown payment', { sku: 'X', payment: 'bitcoin' }, 400, 'validation_failed', 'payment'],
    ['unknown top-level field', { sku: 'X', payment: 'wallet', price: 1 }, 400, 'validation_failed', 'body'],
    ['bad contact', { sku: 'X', payment: 'wallet', contact: 'not a contact' }, 400, 'validation_failed', 'contact'],
    ['unknown sku', { sku: 'NOPE', payment: 'wallet' }, 404, 'not_found'],
    ['broken phone field', { sku: 'PHONE-10', payment: 'wallet', fields: { phone: '12345' } }, 400, 'validation_failed', 'fields.phone'],
    ['missing phone field', { sku: 'PHONE-10', payment: 'wallet', fields: {} }, 400, 'validation_failed', 'fields.phone'],
    ['unknown input field', { sku: 'PHONE-10', payment: 'wallet', fields: { phone: '13800138000', evil: 'x' } }, 400, 'validation_failed', 'fields.evil'],
    ['field too long', { sku: 'PHONE-10', payment: 'wallet', fields: { phone: '13800138000', note: 'x'.repeat(11) } }, 400, 'validation_failed', 'fields.note'],
  ];

  it.each(cases)('%s', async (_name, body, status, errorCode, field) => {
    const before = await snapshot(t);
    const sent = JSON.parse(JSON.stringify(body).replace('"X"', JSON.stringify(code)));
    const r = await buyer.post('/api/store/checkout', sent);
    expect(r.status).toBe(status);
    expect(r.body.error.code).toBe(errorCode);
    expect(typeof r.body.error.message).toBe('string');
    if (field === 'body') expect(Object.keys(r.body.error.fields ?? {}).join()).toMatch(/body|price/);
    else if (field) expect(r.body.error.fields).toHaveProperty([field]);
    expect(await snapshot(t)).toEqual(before);
  });

  it('refuses an oversized body with 413', async () => {
    const before = await snapshot(t);
    const r = await buyer.post('/api/store/checkout', { sku: code, payment: 'wallet', contact: 'x'.repeat(100_000) });
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe('payload_too_large');
    expect(await snapshot(t)).toEqual(before);
  });

  it('refuses broken JSON and non-JSON bodies on the API', async () => {
    const broken = await buyer.post('/api/store/checkout', '{"sku":', { 'content-type': 'application/json' });
    expect(broken.status).toBe(400);
    expect(broken.body.error.code).toBe('bad_json');
    const form = await buyer.post('/api/store/checkout', new URLSearchParams({ sku: code, payment: 'wallet' }));
    expect(form.status).toBe(415);
  });

  it('asks guests to log in for wallet payment', async () => {
    const r = await t.client().post('/api/store/checkout', { sku: code, payment: 'wallet' });
    expect(r.status).toBe(401);
  });

  it('names the field on registration and login errors', async () => {
    const c = t.client();
    const bad = await c.post('/api/store/auth/register', { email: 'nope', password: 'short' });
    expect(bad.status).toBe(400);
    expect(Object.keys(bad.body.error.fields).sort()).toEqual(['email', 'password']);
    await c.post('/api/store/auth/register', { email: 'dup@test.local', password: 'password123' });
    const dup = await t.client().post('/api/store/auth/register', { email: 'DUP@test.local', password: 'password123' });
    expect(dup.status).toBe(409);
    expect(dup.body.error.fields).toHaveProperty('email');
    const wrong = await t.client().post('/api/store/auth/login', { email: 'dup@test.local', password: 'wrong-password' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('invalid_credentials');
  });

  it('speaks English when asked', async () => {
    const r = await buyer.request('POST', '/api/store/checkout', { sku: code, quantity: 0, payment: 'wallet' }, { 'accept-language': 'en-US,en;q=0.9' });
    expect(r.body.error.message).toMatch(/fields are not right/);
    expect(r.body.error.fields.quantity).toBe('Must be at least 1');
    const zh = await buyer.post('/api/store/checkout', { sku: code, quantity: 0, payment: 'wallet' });
    expect(zh.body.error.fields.quantity).toBe('不能小于 1');
  });

  it('gives real 404s for unknown pages and API routes', async () => {
    const api = await t.client().get('/api/store/nope');
    expect(api.status).toBe(404);
    expect(api.body.error.code).toBe('not_found');
    const page = await t.client().get('/no/such/page');
    expect(page.status).toBe(404);
    expect(page.headers.get('content-type')).toMatch(/html/);
  });
});
