import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect, verifyLedger, type Database } from '@cardshop/core';
import { createMysqlDatabase, startTestShop, TEST_DIALECTS, TEST_MYSQL_URL, TestClient, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku } from './fixtures.js';
import { until } from './shop-process.js';

/**
 * A TCP proxy in front of the test's MariaDB server, so one shop's database can go away without
 * stopping the server other tests use: `cut('refuse')` closes the port (connections refused),
 * `cut('drop')` accepts and hangs up at once; both end the connections open through it.
 */
async function dbProxy(target: URL) {
  const open = new Set<Socket>();
  let mode: 'pass' | 'drop' = 'pass';
  let server: Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        if (mode === 'drop') return client.destroy();
        const upstream = tcpConnect(Number(target.port || 3306), target.hostname);
        for (const s of [client, upstream]) {
          open.add(s);
          s.on('close', () => open.delete(s)).on('error', () => undefined);
        }
        client.pipe(upstream).pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as { port: number }).port;
        resolve();
      });
    });
  await listen();
  return {
    get port() {
      return port;
    },
    async cut(how: 'refuse' | 'drop') {
      mode = how === 'drop' ? 'drop' : 'pass';
      const closed = how === 'refuse' ? new Promise((r) => server!.close(r)) : undefined;
      for (const s of open) s.destroy();
      await closed;
    },
    async restore() {
      if (!server!.listening) await listen();
      mode = 'pass';
    },
    close: () => new Promise((r) => (server!.listening ? server!.close(r) : r(null))),
  };
}

/**
 * The database goes away while the shop runs: MariaDB behind a proxy that refuses, then drops
 * connections; SQLite locked by another connection's exclusive transaction (as a backup tool or
 * a stuck import would). Requests that need the database get a 503 with a message in the
 * buyer's language, never a 500 or a stack; nothing is half-written; and the shop serves again
 * as soon as the database is back, without a restart.
 */
describe.each(TEST_DIALECTS)('the database unavailable for a while (%s)', (dialect) => {
  let t: TestShop;
  let dir: string;
  let proxy: Awaited<ReturnType<typeof dbProxy>> | undefined;
  let mysql: Awaited<ReturnType<typeof createMysqlDatabase>> | undefined;
  let locker: Database | undefined;
  let sku: { code: string; keys: string[]; product: number };
  const PRICE = 1000;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cardshop-outage-'));
    let database: string;
    if (dialect === 'mysql') {
      mysql = await createMysqlDatabase();
      proxy = await dbProxy(new URL(TEST_MYSQL_URL));
      const url = new URL(mysql.url);
      url.port = String(proxy.port);
      database = url.toString();
    } else {
      // A short wait for a lock, so the test need not sit out the default 10 s.
      database = `sqlite:${path.join(dir, 'shop.db')}?busyTimeout=300`;
    }
    t = await startTestShop({ dialect, config: { database } });
    sku = await cardSku(t.shop, { keys: 40, price: PRICE });
  });

  afterAll(async () => {
    await locker?.close();
    await t?.close();
    await proxy?.close();
    await mysql?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Takes the database away: the proxy cuts, or another connection takes SQLite's write lock and keeps it. */
  async function outage(how: 'refuse' | 'drop' | 'lock'): Promise<() => Promise<void>> {
    if (how !== 'lock') {
      await proxy!.cut(how);
      return () => proxy!.restore();
    }
    // One connection: BEGIN IMMEDIATE takes the write lock, and it stays taken until ROLLBACK.
    locker = connect(`sqlite:${path.join(dir, 'shop.db')}`);
    await locker.knex.raw('BEGIN IMMEDIATE');
    return async () => {
      await locker!.knex.raw('ROLLBACK');
      await locker!.close();
      locker = undefined;
    };
  }

  const buy = (c: TestClient) => c.post('/api/store/checkout', { sku: sku.code, payment: 'wallet' });

  const ways = dialect === 'mysql' ? (['refuse', 'drop'] as const) : (['lock'] as const);
  it.each(ways)('answers 503 while the database is away (%s) and serves again once it is back', async (how) => {
    const buyer = await t.createUser({ balance: 100_000 });
    const c = new TestClient(t.url);
    expect((await c.post('/api/store/auth/login', { email: buyer.email, password: buyer.password })).status).toBe(200);
    expect((await buy(c)).status).toBe(201);
    const csrf = await c.csrf(`/checkout?sku=${sku.code}`);

    const back = await outage(how);
    const tries = await Promise.all(Array.from({ length: 30 }, () => buy(c)));
    for (const r of tries) {
      expect(r.status, r.text).toBe(503);
      expect(r.text).not.toMatch(/SQLITE|ECONN|Connection lost|\.(ts|js):\d+/);
      expect(r.body.error.code).toBe('database_unavailable');
      expect(r.headers.get('retry-after')).toBe('5');
    }
    expect(tries[0]!.body.error.message).toMatch(/数据库暂时无法访问/);
    const en = await c.request('POST', '/api/store/checkout', { sku: sku.code, payment: 'wallet' }, { 'accept-language': 'en' });
    expect(en.status).toBe(503);
    expect(en.body.error.message).toBe('The database cannot be reached at the moment. Your request was not carried out; please try again shortly.');
    // Locked for writing only: pages are read through SQLite's readers and still served.
    if (how === 'lock') expect((await new TestClient(t.url).get(`/product/${sku.code.toLowerCase()}`)).status).toBe(200);
    // The checkout form: the theme's error page, with the message and no stack.
    const page = await c.request('POST', '/checkout', new URLSearchParams({ _csrf: csrf, sku: sku.code, quantity: '1', payment: 'wallet', contact: '' }), { 'accept-language': 'en' });
    expect(page.status).toBe(503);
    expect(page.text).toContain('The database cannot be reached at the moment.');
    expect(page.text).not.toMatch(/\bat .*\.(ts|js):\d+|SQLITE|ECONN|Connection lost/);

    await back();
    // The pool finds its connections dead and opens new ones; no restart.
    await until('the shop to answer from the database again', async () => (await c.get('/healthz')).status === 200, 30_000);
    const after = await buy(c);
    expect(after.status, after.text).toBe(201);
    expect(after.body.order.keys).toHaveLength(1);

    // Nothing of the refused checkouts was written: two orders, two keys sold, two debits.
    const orders = await t.shop.db.knex('orders').where('user_id', buyer.id).count({ n: '*' }).first();
    expect(Number(orders?.n)).toBe(2);
    const account = await t.shop.db.knex('accounts').where('code', `wallet:${buyer.id}`).first('balance');
    expect(Number(account.balance)).toBe(100_000 - 2 * PRICE);
    const [{ stock }] = await t.shop.db.knex('skus').where('code', sku.code).select('stock');
    const available = await t.shop.db.knex('card_keys').where({ status: 'available' }).count({ n: '*' }).first();
    expect(Number(stock)).toBe(Number(available?.n));
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });
});
