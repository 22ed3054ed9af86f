import { createApiKey } from '@cardshop/core';
import { appRoutes, startTestShop, TEST_DIALECTS, type ApiClient, type TestClient, type TestResponse, type TestShop } from '@cardshop/core/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbSnapshot } from './db-snapshot.js';
import { cardSku } from './fixtures.js';

/**
 * Hostile input to every JSON endpoint (Store API, Agent API, admin API), read from the app's
 * routers so a new endpoint is fuzzed the day it is added: whatever arrives, the answer is a 4xx
 * (or a 2xx for input that happens to be valid), never a 500, always `{ error: { code } }` with
 * the fields named on a validation error, and a refused request writes nothing.
 */

/** Routes not fuzzed, each with why; a stale entry fails the listing test. */
const SKIPPED: Record<string, string> = {
  'POST /api/store/auth/logout': 'reads no input and ends the session the other requests use',
};

/** Runs per route (FUZZ_RUNS for a longer hunt; FUZZ_SEED replays one). */
const RUNS = Number(process.env.FUZZ_RUNS) || 20;

const FIELDS = ['sku', 'quantity', 'qty', 'payment', 'contact', 'fields', 'email', 'password', 'amount', 'code', 'name', 'title', 'body', 'lines', 'q', 'no', 'token', 'price', 'percent', 'markup', 'level', 'upline', 'host', 'theme', 'pick', 'account', 'idNumber', 'realName', 'status', 'decision', 'reason', 'callback_url', 'items', 'skus', 'enabled', 'category', 'id', 'ids', 'note', '__proto__', 'constructor'];

/** Values no field should take: wrong types, numbers out of any range, hostile strings. */
const hostile: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, [], {}, -1, -0.5, 0, 1.5, 1e308, -1e308, 2 ** 53 + 1, 2 ** 63, -(2 ** 31) - 1, '', ' ', '-1', '1e400', 'NaN', 'Infinity'),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }).map((s) => `${s}\u0000${s}`),
  fc.constantFrom("' OR 1=1 --", '"; DROP TABLE orders; --', '<script>alert(1)</script>', '../../etc/passwd', '%00', '\u202e\u0000\ud800', '𝕏'.repeat(2000), 'x'.repeat(40_000)),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 5 }),
  fc.dictionary(fc.constantFrom(...FIELDS), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
);

/** A whole body: any JSON value at all, or an object of known field names with hostile values. */
const bodies: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.dictionary(fc.constantFrom(...FIELDS), hostile, { minKeys: 1, maxKeys: 5 }),
  fc.constant(undefined),
);

const queries: fc.Arbitrary<string> = fc
  .array(fc.tuple(fc.oneof(fc.constantFrom(...FIELDS, 'before', 'after', 'limit', 'page', 'category', 'status', 'from', 'to'), fc.string({ maxLength: 8 })), hostile.map((v) => (typeof v === 'string' ? v : JSON.stringify(v) ?? '').slice(0, 300))), { maxLength: 4 })
  .map((pairs) => {
    const q = new URLSearchParams();
    for (const [k, v] of pairs) q.append(k, v);
    const s = q.toString();
    return s ? `?${s}` : '';
  });

/** Every byte percent-encoded (a lone surrogate too, as its UTF-8 replacement). */
const percentEncoded = (s: string) => [...Buffer.from(s)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');

describe.each(TEST_DIALECTS)('hostile input to every JSON endpoint (%s)', (dialect) => {
  let t: TestShop;
  let snapshot: () => Promise<unknown>;
  let admin: TestClient;
  let buyer: TestClient;
  let api: ApiClient;
  /** Real values for path parameters, so a request reaches the record and not only the 404. */
  const real: Record<string, string> = {};

  beforeAll(async () => {
    t = await startTestShop({ dialect });
    const { code } = await cardSku(t.shop, { keys: 20, maxQuantity: 5 });
    const a = await t.createUser({ role: 'admin' });
    admin = await t.client().login(a.email, a.password);
    const u = await t.createUser({ balance: 100_000 });
    buyer = await t.client().login(u.email, u.password);
    expect((await buyer.post('/api/store/agent/join', {})).status).toBeLessThan(300);
    const order = await buyer.post('/api/store/checkout', { sku: code, quantity: 1, payment: 'wallet' });
    expect(order.status).toBe(201);
    api = t.apiClient(await createApiKey(t.shop, u.id, 'fuzz'));
    // The console's revoke takes no body: it gets another key than the one the fuzzer signs with.
    const spare = await createApiKey(t.shop, u.id, 'spare');
    Object.assign(real, { no: order.body.order.no, code, sku: code, userId: String(u.id), key: spare.key, id: '1', gateway: 'dummy' });
    snapshot = await dbSnapshot(t);
  });
  afterAll(() => t?.close());

  const jsonRoutes = () => {
    const seen = new Map<string, { method: string; path: string }>();
    for (const r of appRoutes(t.shop)) if (r.path.startsWith('/api/')) seen.set(`${r.method} ${r.path}`, r);
    return [...seen.values()];
  };

  it('finds every JSON endpoint in the routers', () => {
    const listed = jsonRoutes().map((r) => `${r.method} ${r.path}`);
    for (const known of ['POST /api/store/checkout', 'POST /api/v1/orders', 'POST /api/admin/inventory/:code/import', 'POST /api/admin/wallets/:userId/adjust', 'POST /api/store/wallet/withdrawals']) expect(listed).toContain(known);
    for (const skipped of Object.keys(SKIPPED)) expect(listed).toContain(skipped);
    expect(listed.length).toBeGreaterThan(90);
  });

  /** Sends one hostile request as whoever may use the route: the admin, the signed agent, the buyer. */
  const send = (method: string, path: string, body: unknown): Promise<TestResponse> => {
    const sent = method === 'GET' || method === 'DELETE' ? undefined : body;
    if (path.startsWith('/api/v1/')) return api.request(method, path.slice('/api/v1'.length), sent);
    const client = path.startsWith('/api/admin/') ? admin : buyer;
    return client.request(method, path, sent === undefined ? undefined : JSON.stringify(sent), { 'content-type': 'application/json' });
  };

  it('answers every endpoint below 500 with a coded error, and a refused request writes nothing', async () => {
    const routes = jsonRoutes().filter((r) => !SKIPPED[`${r.method} ${r.path}`]);
    for (const route of routes) {
      const params = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
      const values = fc.tuple(...params.map((name) => fc.oneof({ weight: 3, arbitrary: fc.constant(real[name] ?? '1') }, { weight: 1, arbitrary: hostile.map((v) => percentEncoded(typeof v === 'string' ? v.slice(0, 200) : (JSON.stringify(v) ?? 'x'))) })));
      await fc.assert(
        fc.asyncProperty(values, queries, bodies, async (args, query, body) => {
          let i = 0;
          const path = route.path.replace(/:(\w+)/g, () => args[i++]!) + query;
          const before = await snapshot();
          const r = await send(route.method, path, body);
          const what = `${route.method} ${path.slice(0, 200)} ${JSON.stringify(body)?.slice(0, 200)} → ${r.status} ${r.text.slice(0, 300)}`;
          expect(r.status, what).toBeLessThan(500);
          if (r.status >= 400) {
            expect(r.headers.get('content-type'), what).toMatch(/json/);
            expect(typeof r.body.error?.code, what).toBe('string');
            expect(typeof r.body.error?.message, what).toBe('string');
            if (r.body.error.code === 'validation_failed') expect(Object.keys(r.body.error.fields ?? {}).length, what).toBeGreaterThan(0);
            expect(await snapshot(), what).toEqual(before);
          }
        }),
        { numRuns: RUNS, seed: Number(process.env.FUZZ_SEED) || undefined, endOnFailure: true },
      );
    }
  }, 120_000);
});
