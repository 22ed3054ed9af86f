import { appRoutes, startTestShop, TEST_DIALECTS, type TestClient, type TestResponse, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Every console route, read from the app's routers (not listed by hand, so a new page is covered
 * the day it is added), asked by a visitor, a customer, a staff member and an admin.
 */
function consoleRoutes(t: TestShop): Array<{ method: string; path: string }> {
  const routes = new Map<string, { method: string; path: string }>();
  for (const route of appRoutes(t.shop)) {
    if (!/^\/(api\/)?admin(\/|$)/.test(route.path)) continue;
    // Any value for a parameter: the access check comes before the record is looked up.
    const path = route.path.replace(/:(\w+)/g, (_: string, name: string) => (name === 'kind' ? 'sku' : '1'));
    routes.set(`${route.method} ${path}`, { method: route.method, path });
  }
  return [...routes.values()];
}

/** Orders and inventory, pages and JSON: what staff may use. */
const STAFF = /^\/(api\/)?admin\/(orders|inventory)(\/|$)/;

describe.each(TEST_DIALECTS)('console access for every /admin and /api/admin route (%s)', (dialect) => {
  let t: TestShop;
  const clients: Record<'guest' | 'customer' | 'staff' | 'admin', { client: TestClient; csrf: string }> = {} as never;

  beforeAll(async () => {
    t = await startTestShop({ dialect });
    for (const role of ['customer', 'staff', 'admin'] as const) {
      const u = await t.createUser({ role });
      const client = await t.client().login(u.email, u.password);
      clients[role] = { client, csrf: await client.csrf('/login') };
    }
    const guest = t.client();
    clients.guest = { client: guest, csrf: await guest.csrf('/login') };
  });
  afterAll(() => t?.close());

  /** A request as a browser form (pages) or a script (JSON) would send it, with the asker's CSRF token. */
  const ask = (who: keyof typeof clients, method: string, path: string): Promise<TestResponse> => {
    const { client, csrf } = clients[who];
    if (method === 'GET') return client.get(path);
    const body = path.startsWith('/api/') ? {} : new URLSearchParams({ _csrf: csrf });
    return client.request(method, path, body);
  };
  const toLogin = (r: TestResponse) => r.status === 302 && (r.headers.get('location') ?? '').startsWith('/login?next=');

  it('finds the console’s routes in the routers, including every section', () => {
    const paths = consoleRoutes(t).map((r) => r.path);
    for (const p of ['/admin/catalog', '/admin/inventory', '/admin/users/1', '/admin/themes', '/admin/settings', '/admin/payments', '/admin/agents', '/admin/plugins', '/api/admin/inventory/1/void', '/api/admin/users/1']) {
      expect(paths).toContain(p);
    }
    expect(paths.length).toBeGreaterThan(50);
  });

  it('sends visitors to log in (pages) or answers 401 (JSON)', async () => {
    for (const { method, path } of consoleRoutes(t)) {
      const r = await ask('guest', method, path);
      if (path.startsWith('/api/')) expect(r.status, `${method} ${path}`).toBe(401);
      else expect(toLogin(r), `${method} ${path}: ${r.status}`).toBe(true);
    }
  });

  it('refuses customers everywhere, and staff outside orders and inventory', async () => {
    for (const { method, path } of consoleRoutes(t)) {
      expect((await ask('customer', method, path)).status, `customer ${method} ${path}`).toBe(403);
      const staff = await ask('staff', method, path);
      if (STAFF.test(path)) expect([401, 403], `staff ${method} ${path}`).not.toContain(staff.status);
      else expect(staff.status, `staff ${method} ${path}`).toBe(403);
    }
  });

  it('lets the admin through every route (a 4xx for made-up ids and empty forms, never a refusal or a 500)', async () => {
    for (const { method, path } of consoleRoutes(t)) {
      const r = await ask('admin', method, path);
      expect([401, 403], `${method} ${path}`).not.toContain(r.status);
      expect(toLogin(r), `${method} ${path}`).toBe(false);
      expect(r.status, `${method} ${path}: ${r.text.slice(0, 200)}`).toBeLessThan(500);
    }
  });

  it('shows staff only its sections in the menu', async () => {
    const page = await clients.staff.client.get('/admin/inventory');
    expect(page.status).toBe(200);
    const nav = /<nav[^>]*>([\s\S]*?)<\/nav>/.exec(page.text)![1]!;
    const links = [...nav.matchAll(/href="(\/admin[^"?]*)"/g)].map((m) => m[1]!);
    expect(links).toContain('/admin/inventory');
    expect(links.every((l) => STAFF.test(l))).toBe(true);
  });

  it('signs a console session out after the configured idle time, and keeps an active one', async () => {
    const u = await t.createUser({ role: 'admin' });
    const client = await t.client().login(u.email, u.password);
    const realNow = t.shop.now;
    let offset = 0;
    t.shop.now = () => Date.now() + offset;
    try {
      expect((await client.get('/admin/catalog')).status).toBe(200);
      // Used every 20 minutes (the default idle limit is 30): still signed in after an hour.
      for (let i = 0; i < 3; i++) {
        offset += 20 * 60_000;
        expect((await client.get('/admin/catalog')).status).toBe(200);
      }
      offset += 31 * 60_000;
      expect(toLogin(await client.get('/admin/catalog'))).toBe(true);
      // The session is over, not only for the console.
      expect((await client.get('/api/store/me')).status).toBe(401);
      expect(Number((await t.shop.db.knex('sessions').where('user_id', u.id).count({ n: '*' }).first())!.n)).toBe(0);
    } finally {
      t.shop.now = realNow;
    }
  });
});
