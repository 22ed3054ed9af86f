import { spawnSync } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { balanceOf, createApiKey, setRoute, signature, signRequest, verifyLedger, type ApiCredentials } from '@cardshop/core';
import { createDummySupplier, startTestShop, TEST_DIALECTS, type ApiClient, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku, otherSku } from './fixtures.js';

/** A webhook receiver: answers each POST with the next status in `answers` (then 200). */
async function receiver(answers: number[] = []) {
  const received: Array<{ headers: IncomingMessage['headers']; body: string; path: string }> = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ headers: req.headers, body, path: req.url! });
      res.statusCode = answers.shift() ?? 200;
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/cardshop?shop=c`;
  return { url, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe.each(TEST_DIALECTS)('the Agent API (%s)', (dialect) => {
  const supplier = createDummySupplier('api-sup');
  let t: TestShop;
  let agent: { id: number; email: string };
  let keys: ApiCredentials;
  let api: ApiClient;

  beforeAll(async () => {
    t = await startTestShop({ dialect, config: { plugins: [supplier.plugin], delivery: { backoffMs: 0, maxAttempts: 3 } } });
    agent = await t.createUser({ balance: 1_000_000 });
    keys = await createApiKey(t.shop, agent.id, 'tests');
    api = t.apiClient(keys);
  });
  afterAll(() => t?.close());

  it('publishes an OpenAPI document generated from its schemas', async () => {
    const r = await t.client().get('/api/v1/openapi.json');
    expect(r.status).toBe(200);
    expect(r.body.openapi).toBe('3.1.0');
    expect(Object.keys(r.body.paths)).toEqual(expect.arrayContaining(['/products', '/products/{sku}', '/orders', '/orders/{no}', '/wallet']));
    expect(r.body.components.schemas.OrderInput.properties).toHaveProperty('callback_url');
    expect(r.body.components.schemas.Webhook.properties.order).toEqual({ $ref: '#/components/schemas/Order' });
  });

  it('refuses unsigned, mis-signed, stale and replayed requests with 401 and a code', async () => {
    const code = async (headers: Record<string, string>, p = '/api/v1/wallet') => {
      const r = await fetch(t.url + p, { headers });
      return { status: r.status, code: ((await r.json()) as { error: { code: string } }).error.code };
    };
    expect(await code({})).toEqual({ status: 401, code: 'signature_required' });
    const good = signRequest(keys, { method: 'GET', path: '/api/v1/wallet' });
    expect(await code({ ...good, 'x-cardshop-signature': signature('wrong-secret', { method: 'GET', path: '/api/v1/wallet', timestamp: good['x-cardshop-timestamp'], nonce: good['x-cardshop-nonce'], body: '' }) })).toEqual({ status: 401, code: 'bad_signature' });
    // Signed for another path: the path and query are part of what is signed.
    expect(await code(good, '/api/v1/wallet?x=1')).toEqual({ status: 401, code: 'bad_signature' });
    expect(await code(signRequest(keys, { method: 'GET', path: '/api/v1/wallet' }, Date.now() - 301_000))).toEqual({ status: 401, code: 'stale_timestamp' });
    expect(await code(signRequest({ key: 'ck_nosuchkey', secret: 'x' }, { method: 'GET', path: '/api/v1/wallet' }))).toEqual({ status: 401, code: 'invalid_key' });
    expect((await fetch(`${t.url}/api/v1/wallet`, { headers: good })).status).toBe(200);
    expect(await code(good)).toEqual({ status: 401, code: 'nonce_reused' });
    // A body changed on the way no longer matches its signature.
    const body = JSON.stringify({ sku: 'X', quantity: 1 });
    const signedPost = signRequest(keys, { method: 'POST', path: '/api/v1/orders', body });
    const tampered = await fetch(`${t.url}/api/v1/orders`, { method: 'POST', headers: { ...signedPost, 'content-type': 'application/json', 'idempotency-key': 'k' }, body: body.replace('1', '9') });
    expect(tampered.status).toBe(401);
  });

  it("lists products at the caller's prices with stock, and one by SKU", async () => {
    const { code } = await cardSku(t.shop, { keys: 3, price: 1200 });
    const all = await api.get('/products');
    expect(all.status).toBe(200);
    expect(all.body.products.find((p: { sku: string }) => p.sku === code)).toMatchObject({ price: 1200, stock: 3, in_stock: true, type: 'card', currency: 'CNY' });
    const one = await api.get(`/products/${code}`);
    expect(one.body.product).toMatchObject({ sku: code, stock: 3 });
    expect((await api.get('/products/NO-SUCH-SKU')).body.error.code).toBe('unknown_sku');
  });

  it('places an order once per Idempotency-Key, pays from the wallet, and refuses bad requests without charging', async () => {
    const { code, keys: cardKeys } = await cardSku(t.shop, { keys: 2, price: 1000 });
    const before = await balanceOf(t.shop, agent.id);
    const first = await api.post('/orders', { sku: code, quantity: 1 }, { 'idempotency-key': `buy-${code}` });
    expect(first.status).toBe(201);
    expect(first.body.order).toMatchObject({ status: 'delivered', sku: code, amount: 1000, keys: [{ card: cardKeys[0] }], idempotency_key: `buy-${code}` });
    const again = await api.post('/orders', { sku: code, quantity: 1 }, { 'idempotency-key': `buy-${code}` });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.order.no).toBe(first.body.order.no);
    expect((await api.post('/orders', { sku: code, quantity: 2 }, { 'idempotency-key': `buy-${code}` })).body.error.code).toBe('idempotency_conflict');
    expect(await balanceOf(t.shop, agent.id)).toBe(before - 1000);

    expect((await api.get(`/orders/${first.body.order.no}`)).body.order.keys).toEqual([{ card: cardKeys[0] }]);
    expect((await api.get(`/orders?idempotency_key=buy-${code}`)).body.order.no).toBe(first.body.order.no);
    expect((await api.get('/wallet')).body.wallet).toEqual({ balance: before - 1000, currency: 'CNY' });

    const refused = async (body: unknown, key: string | null, client = api) => {
      const r = await client.post('/orders', body, key === null ? {} : { 'idempotency-key': key });
      return { status: r.status, code: r.body.error?.code, fields: r.body.error?.fields };
    };
    expect(await refused({ sku: code }, null)).toMatchObject({ status: 400, code: 'idempotency_key_required' });
    expect(await refused({ sku: code, quantity: 0 }, 'q0')).toMatchObject({ status: 400, code: 'validation_failed', fields: { quantity: expect.any(String) } });
    expect(await refused({ sku: code, callback_url: 'ftp://x' }, 'cb')).toMatchObject({ status: 400, fields: { callback_url: expect.any(String) } });
    expect(await refused({ sku: 'NO-SUCH', quantity: 1 }, 'nosku')).toMatchObject({ status: 404, code: 'unknown_sku' });
    expect(await refused({ sku: code, quantity: 5 }, 'toomany')).toMatchObject({ status: 409, code: 'out_of_stock' });
    const top = await otherSku(t.shop, 'direct', `API-TOP-${dialect}`, 700);
    expect(await refused({ sku: top.code, fields: { phone: '123' } }, 'badphone')).toMatchObject({ status: 400, fields: { 'fields.phone': expect.any(String) } });
    const poor = await t.createUser({ balance: 100 });
    expect(await refused({ sku: code, quantity: 1 }, 'poor', t.apiClient(await createApiKey(t.shop, poor.id)))).toMatchObject({ status: 402, code: 'insufficient_balance' });
    expect(await balanceOf(t.shop, poor.id)).toBe(100);
    expect(await balanceOf(t.shop, agent.id)).toBe(before - 1000);
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });

  it('makes one order per key out of 300 parallel requests with random repeats', async () => {
    const { code } = await cardSku(t.shop, { keys: 400, price: 100 });
    const buyer = await t.createUser({ balance: 1_000_000 });
    const client = t.apiClient(await createApiKey(t.shop, buyer.id));
    const keysUsed = Array.from({ length: 300 }, () => `par-${Math.floor(Math.random() * 120)}`);
    const answers = await Promise.all(keysUsed.map((k) => client.post('/orders', { sku: code, quantity: 1 }, { 'idempotency-key': k })));
    expect(answers.every((a) => a.status === 201 || a.status === 200), JSON.stringify(answers.find((a) => a.status > 201)?.body)).toBe(true);
    const distinct = new Set(keysUsed);
    const byKey = new Map<string, Set<string>>();
    answers.forEach((a, i) => byKey.set(keysUsed[i]!, (byKey.get(keysUsed[i]!) ?? new Set()).add(a.body.order.no)));
    expect([...byKey.values()].every((nos) => nos.size === 1)).toBe(true);
    expect(answers.filter((a) => a.status === 201)).toHaveLength(distinct.size);
    const orders = await t.shop.db.knex('orders').where('user_id', buyer.id).count({ n: '*' }).first();
    expect(Number(orders?.n)).toBe(distinct.size);
    expect(await balanceOf(t.shop, buyer.id)).toBe(1_000_000 - 100 * distinct.size);
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });

  it('posts a signed webhook to callback_url when the order is delivered, and retries until the receiver takes it', async () => {
    const hooks = await receiver([500]);
    try {
      const top = await otherSku(t.shop, 'direct', `API-HOOK-${dialect}`, 700);
      await setRoute(t.shop, top.code, { supplier: 'api-sup', supplierSku: 'S-HOOK' });
      supplier.behaviour.set('S-HOOK', 'pending');
      const placed = await api.post('/orders', { sku: top.code, fields: { phone: '13800138000' }, callback_url: hooks.url }, { 'idempotency-key': 'hooked' });
      expect(placed.body.order.status).toBe('paid');
      await t.shop.delivery.worker.runDue();
      await supplier.complete(placed.body.order.no);
      await t.shop.delivery.worker.runDue();
      await t.shop.delivery.worker.runDue(Date.now() + 60_000);
      expect(hooks.received.length).toBe(2); // a 500, then the retry that was taken
      const hook = hooks.received[1]!;
      const body = JSON.parse(hook.body);
      expect(body).toMatchObject({ event: 'order.delivered', order: { no: placed.body.order.no, status: 'delivered', idempotency_key: 'hooked', keys: [{ card: `S-HOOK-${placed.body.order.no}-1` }] } });
      const h = hook.headers as Record<string, string>;
      expect(h['x-cardshop-key']).toBe(keys.key);
      expect(h['x-cardshop-signature']).toBe(signature(keys.secret, { method: 'POST', path: hook.path, timestamp: h['x-cardshop-timestamp']!, nonce: h['x-cardshop-nonce']!, body: hook.body }));
    } finally {
      await hooks.close();
    }
  });

  it('lets a user create and revoke keys on the account page, showing the secret once', async () => {
    const user = await t.createUser({ balance: 500 });
    const browser = await t.client().login(user.email, user.password);
    const csrf = await browser.csrf('/account');
    const made = await browser.post('/account/api-keys', new URLSearchParams({ _csrf: csrf, label: 'my shop' }));
    expect(made.status).toBe(200);
    const key = /<code>(ck_[^<]+)<\/code>/.exec(made.text)![1]!;
    const secret = /<code>(cs_[^<]+)<\/code>/.exec(made.text)![1]!;
    const client = t.apiClient({ key, secret });
    expect((await client.get('/wallet')).body.wallet.balance).toBe(500);
    const page = await browser.get('/account');
    expect(page.text).toContain(key);
    expect(page.text).not.toContain(secret);
    const revoked = await browser.post(`/account/api-keys/${key}/revoke`, new URLSearchParams({ _csrf: csrf }));
    expect(revoked.status).toBe(303);
    expect((await client.get('/wallet')).body.error.code).toBe('invalid_key');
  });

  it('creates a key from the command line, as JSON', async () => {
    const r = spawnSync(process.execPath, [path.resolve('core/dist/cli/main.js'), 'apikey', 'create', '--user', agent.email], {
      cwd: t.shop.config.root,
      env: { ...process.env, CARDSHOP_DATABASE: t.shop.config.database, CARDSHOP_SECRET: t.shop.config.secret, CARDSHOP_LOCALE: 'en' },
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    const made = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(made).toEqual({ key: expect.stringMatching(/^ck_/), secret: expect.stringMatching(/^cs_/) });
    const wallet = await t.apiClient(made).get('/wallet');
    expect(wallet.status).toBe(200);
    expect(wallet.body.wallet.balance).toBe(await balanceOf(t.shop, agent.id));
  });
});
