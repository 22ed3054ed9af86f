import { appRoutes, startTestShop, TEST_DIALECTS, type TestClient, type TestResponse, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbSnapshot } from './db-snapshot.js';
import { cardSku } from './fixtures.js';

/**
 * Every form that changes something (every non-GET route outside the JSON APIs, read from the
 * routers, so a new form is covered the day it is added) refuses a post without this browser's
 * CSRF token (missing, made up, or another browser's) with 403, and writes nothing; with the
 * token, the same post gets past the check. JSON endpoints need no token: a cross-site form cannot
 * send `application/json`, which they require (shown last).
 */

/**
 * Not browser forms: payment and supplier callbacks, signed by their sender and verified, and the
 * one-click unsubscribe a mail client POSTs without cookies (RFC 8058), authorised by its signed link.
 */
const CALLBACKS = /^\/(pay|supplier|unsubscribe)\//;

/** Forms that would change something with only their token added: the refusal must keep them from it. */
const WORKING: Record<string, Record<string, string>> = {
  'POST /account/api-keys': { label: 'csrf' },
  'POST /agent/join': {},
  'POST /admin/users/:id/adjust': { amount: '10', reason: 'csrf' },
};

/** Forms that upload a file (multipart): they get the keys a working import would add. */
const MULTIPART = new Set(['/admin/inventory/import']);

describe.each(TEST_DIALECTS)('CSRF on every state-changing form (%s)', (dialect) => {
  let t: TestShop;
  let snapshot: () => Promise<unknown>;
  let admin: TestClient;
  let buyer: TestClient;
  let buyerId: number;
  const tokens = new Map<TestClient, string>();

  beforeAll(async () => {
    t = await startTestShop({ dialect });
    await cardSku(t.shop, { code: 'CSRF-CARD', keys: 3 });
    const a = await t.createUser({ role: 'admin' });
    admin = await t.client().login(a.email, a.password);
    const b = await t.createUser({ balance: 10_000 });
    buyerId = b.id;
    buyer = await t.client().login(b.email, b.password);
    for (const c of [admin, buyer]) tokens.set(c, await c.csrf('/login'));
    snapshot = await dbSnapshot(t);
  });
  afterAll(() => t?.close());

  const forms = () => {
    const seen = new Map<string, { method: string; route: string; path: string }>();
    for (const { method, path: route } of appRoutes(t.shop)) {
      if (method === 'GET' || route.startsWith('/api/') || CALLBACKS.test(route)) continue;
      const path = route.replace(/:(\w+)/g, (_: string, name: string) => (name === 'kind' ? 'sku' : name === 'id' && route.startsWith('/admin/users') ? String(buyerId) : '1'));
      seen.set(`${method} ${route}`, { method, route, path });
    }
    return [...seen.values()];
  };
  const asker = (path: string) => (path.startsWith('/admin') ? admin : buyer);
  /** As the browser sends the form: url-encoded, or multipart where the form uploads a file. */
  const post = async (client: TestClient, method: string, path: string, fields: Record<string, string>): Promise<TestResponse> => {
    if (!MULTIPART.has(path)) return client.request(method, path, new URLSearchParams(fields));
    const body = new FormData();
    for (const [k, v] of Object.entries({ sku: 'CSRF-CARD', keys: 'CSRF-NEW-1', ...fields })) body.append(k, v);
    const res = await fetch(client.base + path, { method, body, headers: { cookie: client.cookieHeader }, redirect: 'manual' });
    return { status: res.status, headers: res.headers, text: await res.text(), body: undefined };
  };

  it('finds the forms in the routers: account, agent centre, checkout, sign-in and every console section', () => {
    const listed = forms().map((f) => `${f.method} ${f.route}`);
    for (const known of ['POST /checkout', 'POST /login', 'POST /register', 'POST /logout', 'POST /query', 'POST /account/topup', 'POST /account/kyc', 'POST /agent/withdraw', 'POST /admin/settings', 'POST /admin/catalog/products', 'POST /admin/inventory/import', ...Object.keys(WORKING)]) {
      expect(listed).toContain(known);
    }
    expect(listed.length).toBeGreaterThan(60);
  });

  it('refuses every form without the browser’s token, a made-up one or another browser’s, and writes nothing', async () => {
    const before = await snapshot();
    const refused = (r: TestResponse, what: string) => {
      expect(r.status, `${what}: ${r.status} ${r.headers.get('location') ?? ''}`).toBe(403);
      expect(r.text, what).toMatch(/页面已过期|has expired/);
    };
    for (const { method, route, path } of forms()) {
      const client = asker(path);
      const fields = WORKING[`${method} ${route}`] ?? {};
      const other = tokens.get(client === admin ? buyer : admin)!;
      refused(await post(client, method, path, fields), `${method} ${path} without a token`);
      refused(await post(client, method, path, { ...fields, _csrf: 'x'.repeat(40) }), `${method} ${path} with a made-up token`);
      refused(await post(client, method, path, { ...fields, _csrf: other }), `${method} ${path} with another browser’s token`);
    }
    expect(await snapshot()).toEqual(before);
    // Still signed in: a cross-site post to /logout ended nothing.
    expect((await buyer.get('/api/store/me')).status).toBe(200);
  });

  it('lets the same forms past the check with the token', async () => {
    for (const { method, route, path } of forms()) {
      if (route === '/logout') continue;
      const client = asker(path);
      const r = await post(client, method, path, { ...(WORKING[`${method} ${route}`] ?? {}), _csrf: tokens.get(client)! });
      expect(r.status, `${method} ${path}`).not.toBe(403);
      expect(r.status, `${method} ${path}: ${r.text.slice(0, 200)}`).toBeLessThan(500);
    }
    // The working forms did their work this time (so the refusals above kept real writes out).
    const knex = t.shop.db.knex;
    expect(await knex('api_keys').where('user_id', buyerId).count({ n: '*' }).first()).toMatchObject({ n: 1 });
    expect((await buyer.get('/api/store/me')).body).toMatchObject({ user: { role: 'agent' }, wallet: { balance: 10_000 + 1_000 } });
    const out = await post(buyer, 'POST', '/logout', { _csrf: tokens.get(buyer)! });
    expect(out.status).toBe(303);
    expect((await buyer.get('/api/store/me')).status).toBe(401);
  });

  it('refuses a form-encoded or text body on the JSON APIs (what a cross-site form could send)', async () => {
    const c = await t.client().login((await t.createUser()).email, 'password123');
    for (const type of ['application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x']) {
      const r = await c.request('POST', '/api/store/agent/join', 'a=1', { 'content-type': type });
      expect(r.status, type).toBe(415);
    }
    expect((await c.get('/api/store/me')).body.user.role).toBe('customer');
  });
});
