import { request, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import { dummyPayments, startTestShop, TEST_DIALECTS, TestClient, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku } from './fixtures.js';

/**
 * The HTTP layer under attack: security headers on every kind of answer, forwarded headers from
 * untrusted peers, password and order look-up guessing, session fixation, oversized bodies and slow
 * clients. Each over a real socket, on every dialect.
 */

const EN = { 'accept-language': 'en' };
const ZH = { 'accept-language': 'zh-CN' };

/** The cookie jar of a test client, to plant a cookie as an attacker would. */
const jar = (c: TestClient) => (c as unknown as { cookies: Map<string, string> }).cookies;

function expectSecurityHeaders(headers: Headers, what: string) {
  const csp = headers.get('content-security-policy') ?? '';
  const directive = (name: string) => csp.split(';').map((d) => d.trim()).find((d) => d.startsWith(`${name} `));
  expect(directive('script-src'), what).toBe("script-src 'self'");
  expect(directive('frame-ancestors'), what).toBe("frame-ancestors 'none'");
  expect(directive('object-src'), what).toBe("object-src 'none'");
  expect(headers.get('x-content-type-options'), what).toBe('nosniff');
  expect(headers.get('referrer-policy'), what).toMatch(/^(strict-origin-when-cross-origin|no-referrer)$/);
  expect(headers.get('x-frame-options'), what).toBe('DENY');
}

describe.each(TEST_DIALECTS)('HTTP defences (%s)', (dialect) => {
  let t: TestShop;
  let sku: string;

  beforeAll(async () => {
    // The test's own connections come from 127.0.0.1, the configured proxy; `fromElsewhere` connects
    // from 127.0.0.2, a peer whose forwarded headers must count for nothing.
    t = await startTestShop({ dialect, config: { trustProxy: ['127.0.0.1'], plugins: [dummyPayments()], http: { headersTimeoutMs: 400, requestTimeoutMs: 3_000 } } });
    sku = (await cardSku(t.shop, { keys: 20 })).code;
  });
  afterAll(() => t?.close());

  it('sends the security headers on every kind of page, and no HSTS over plain HTTP', async () => {
    const admin = await t.createUser({ role: 'admin' });
    const console_ = await t.client().login(admin.email, admin.password);
    const guest = t.client();
    const home = await guest.get('/');
    const asset = /src="(\/assets\/[^"]+)"/.exec(home.text)![1]!;
    const product = /href="(\/product\/[^"]+)"/.exec(home.text)![1]!;
    const answers: Array<[string, Promise<{ status: number; headers: Headers }>]> = [
      ['home', Promise.resolve(home)],
      ['home from the page cache', guest.get('/')],
      ['product page', guest.get(product)],
      ['login form', guest.get('/login')],
      ['404 page', guest.get('/no/such/page')],
      ['asset', guest.get(asset)],
      ['Store API', guest.get('/api/store/products')],
      ['API error', guest.get('/api/store/me')],
      ['bad JSON', guest.post('/api/store/checkout', '{"x":', { 'content-type': 'application/json' })],
      ['console', console_.get('/admin/catalog')],
      ['health', guest.get('/healthz')],
    ];
    for (const [what, answer] of answers) {
      const r = await answer;
      expect(r.status, what).toBeLessThan(500);
      expectSecurityHeaders(r.headers, what);
      expect(r.headers.get('strict-transport-security'), what).toBeNull();
    }
  });

  /**
   * Sends a 20 MB body as a client that does not wait: announced by Content-Length or chunked,
   * written 64 KiB at a time until the server answers. Resolves with the answer's status line.
   */
  const hugeBody = (path: string, type: string, framing: 'length' | 'chunked', cookie = '') =>
    new Promise<string>((resolve, reject) => {
      const size = 20 * 1024 * 1024;
      const socket: Socket = connect(Number(new URL(t.url).port), '127.0.0.1');
      let got = '';
      let sent = 0;
      const chunk = Buffer.alloc(64 * 1024, 'a');
      const pump = () => {
        while (!got && sent < size && socket.writable) {
          sent += chunk.length;
          const piece = framing === 'chunked' ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]) : chunk;
          if (!socket.write(piece)) return void socket.once('drain', pump);
        }
      };
      socket.on('connect', () => {
        const length = framing === 'length' ? `Content-Length: ${size}` : 'Transfer-Encoding: chunked';
        socket.write(`POST ${path} HTTP/1.1\r\nHost: shop\r\nContent-Type: ${type}\r\n${length}\r\nCookie: ${cookie}\r\n\r\n`);
        pump();
      });
      socket.on('data', (d) => {
        got += d.toString();
        if (got.includes('\r\n')) {
          resolve(got.slice(0, got.indexOf('\r\n')));
          socket.destroy();
        }
      });
      socket.on('error', (err) => (got ? undefined : reject(err)));
    });

  it('answers 413 to a 20 MB body, announced or chunked, on the APIs, forms and payment notifies, and writes nothing', async () => {
    const orders = async () => Number((await t.shop.db.knex('orders').count({ n: '*' }).first())!.n);
    const before = await orders();
    for (const framing of ['length', 'chunked'] as const) {
      expect(await hugeBody('/api/store/checkout', 'application/json', framing), `json ${framing}`).toBe('HTTP/1.1 413 Payload Too Large');
      expect(await hugeBody('/login', 'application/x-www-form-urlencoded', framing), `form ${framing}`).toBe('HTTP/1.1 413 Payload Too Large');
      expect(await hugeBody('/pay/dummy/notify', 'application/json', framing), `notify ${framing}`).toBe('HTTP/1.1 413 Payload Too Large');
      expect(await hugeBody('/api/v1/orders', 'application/json', framing), `agent api ${framing}`).toBe('HTTP/1.1 413 Payload Too Large');
    }
    // And over fetch, the body in the JSON error as everywhere.
    const json = await t.client().post('/api/store/checkout', { sku, payment: 'dummy', contact: 'x'.repeat(100_000) });
    expect([json.status, json.body.error.code]).toEqual([413, 'payload_too_large']);
    expect(await orders()).toBe(before);
  });

  it('refuses deeply nested JSON with a 4xx, not a crash', async () => {
    const deep = '['.repeat(20_000) + ']'.repeat(20_000);
    const r = await t.client().post('/api/store/checkout', deep, { 'content-type': 'application/json' });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(typeof r.body.error.code).toBe('string');
  });

  it('limits failed sign-ins per account (429, in both languages, with Retry-After) and lets the account in again later', async () => {
    const victim = await t.createUser();
    const other = await t.createUser();
    for (let i = 0; i < 10; i++) {
      const r = await t.client().post('/api/store/auth/login', { email: victim.email, password: `guess-${i}` });
      expect(r.status).toBe(401);
    }
    // Now even the right password is not checked.
    const en = await t.client().request('POST', '/api/store/auth/login', { email: victim.email, password: victim.password }, EN);
    expect(en.status).toBe(429);
    expect(en.body.error.code).toBe('too_many_attempts');
    expect(en.body.error.message).toMatch(/Too many failed sign-ins; try again in 15 minutes/);
    expect(en.headers.get('retry-after')).toBe('900');
    const zh = await t.client().request('POST', '/api/store/auth/login', { email: victim.email.toUpperCase(), password: victim.password }, ZH);
    expect([zh.status, zh.body.error.message]).toEqual([429, '登录失败次数过多，请 15 分钟后再试']);
    // The HTML form is the same door.
    const browser = t.client();
    const csrf = await browser.csrf('/login');
    const page = await browser.request('POST', '/login', new URLSearchParams({ _csrf: csrf, email: victim.email, password: victim.password }), EN);
    expect(page.status).toBe(429);
    expect(page.text).toContain('Too many failed sign-ins');
    // Another account from the same address is not locked out.
    expect((await t.client().post('/api/store/auth/login', { email: other.email, password: other.password })).status).toBe(200);
    const realNow = t.shop.now;
    t.shop.now = () => Date.now() + 16 * 60_000;
    try {
      expect((await t.client().post('/api/store/auth/login', { email: victim.email, password: victim.password })).status).toBe(200);
    } finally {
      t.shop.now = realNow;
    }
  });

  /** A JSON POST from another peer address (127.0.0.2), as a client that is not the proxy. */
  const fromElsewhere = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; headers: IncomingHttpHeaders }>((resolve, reject) => {
      const data = JSON.stringify(body);
      const req = request(`${t.url}${path}`, { method: 'POST', localAddress: '127.0.0.2', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers } }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers }));
      });
      req.on('error', reject);
      req.end(data);
    });

  it('sends HSTS and Secure cookies only when the configured proxy says HTTPS', async () => {
    const u = await t.createUser();
    const HTTPS = { 'x-forwarded-proto': 'https' };
    const viaProxy = await t.client().post('/api/store/auth/login', { email: u.email, password: u.password }, HTTPS);
    expect(viaProxy.status).toBe(200);
    expect(viaProxy.headers.get('strict-transport-security')).toMatch(/^max-age=31536000/);
    expect(viaProxy.headers.getSetCookie().find((c) => c.startsWith('cs_session='))).toMatch(/;\s*secure/i);
    expectSecurityHeaders(viaProxy.headers, 'behind the proxy');
    const claimed = await fromElsewhere('/api/store/auth/login', { email: u.email, password: u.password }, HTTPS);
    expect(claimed.status).toBe(200);
    expect(claimed.headers['strict-transport-security']).toBeUndefined();
    expect(String(claimed.headers['set-cookie']?.find((c) => c.startsWith('cs_session=')))).not.toMatch(/;\s*secure/i);
  });

  it('limits failed sign-ins per address, whatever X-Forwarded-For a client that is not the proxy claims; successes never add up', async () => {
    const user = await t.createUser();
    // An office signing in all day from one address.
    for (let i = 0; i < 31; i++) expect((await fromElsewhere('/api/store/auth/login', { email: user.email, password: user.password })).status).toBe(200);
    const statuses: number[] = [];
    for (let i = 0; i < 31; i++) statuses.push((await fromElsewhere('/api/store/auth/login', { email: `nobody${i}@test.local`, password: 'guess' }, { 'x-forwarded-for': `203.0.113.${i}` })).status);
    expect(statuses.slice(0, 30).every((s) => s === 401)).toBe(true);
    expect(statuses[30]).toBe(429);
    // The proxy's word counts: the address it forwards has a count of its own.
    const viaProxy = await t.client().post('/api/store/auth/login', { email: 'nobody0@test.local', password: 'guess' }, { 'x-forwarded-for': '203.0.113.99' });
    expect(viaProxy.status).toBe(401);
    // Parallel guesses cannot slip under the limit: each attempt is counted by one upsert first.
    const burst = await Promise.all(Array.from({ length: 40 }, (_, i) => t.client().post('/api/store/auth/login', { email: `burst${i}@test.local`, password: 'guess' }, { 'x-forwarded-for': '198.51.100.7' })));
    const guessed = burst.filter((r) => r.status === 401).length;
    expect(guessed).toBeGreaterThan(0);
    expect(guessed).toBeLessThanOrEqual(30);
    expect(burst.filter((r) => r.status === 429)).toHaveLength(40 - guessed);
  });

  it('limits order look-up guesses (429 in both languages)', async () => {
    const realNow = t.shop.now;
    const start = Date.now() + 3 * 60 * 60_000;
    t.shop.now = () => start;
    try {
      const placed = await t.client().post('/api/store/checkout', { sku, payment: 'dummy', contact: 'lookup@test.local', queryPassword: 'right-password' });
      expect(placed.status).toBe(201);
      const no = placed.body.order.no as string;
      const guesses = [];
      for (let i = 0; i < 5; i++) guesses.push((await t.client().post('/api/store/orders/lookup', { q: no, password: `guess-${i}` })).status);
      expect(guesses).toEqual([404, 404, 404, 404, 404]);
      const en = await t.client().request('POST', '/api/store/orders/lookup', { q: no, password: 'right-password' }, EN);
      expect([en.status, en.body.error.code]).toEqual([429, 'too_many_attempts']);
      expect(en.body.error.message).toMatch(/Too many attempts/);
      const zh = await t.client().request('POST', '/api/store/orders/lookup', { q: no, password: 'right-password' }, ZH);
      expect([zh.status, zh.body.error.message]).toEqual([429, '尝试次数过多，请稍后再试']);
    } finally {
      t.shop.now = realNow;
    }
  });

  it('gives a new session id at sign-in and ends the one the browser brought (session fixation)', async () => {
    const attacker = await t.createUser();
    const victim = await t.createUser({ balance: 5_000 });
    const planted = jar(await t.client().login(attacker.email, attacker.password));
    for (const via of ['api', 'form'] as const) {
      const browser = t.client();
      await browser.get('/login');
      // The attacker's own signed session cookie, planted in the victim's browser.
      const fixed = new Map(planted);
      for (const [k, v] of fixed) if (k.startsWith('cs_session')) jar(browser).set(k, v);
      if (via === 'api') await browser.login(victim.email, victim.password);
      else {
        const csrf = await browser.csrf('/login');
        const r = await browser.post('/login', new URLSearchParams({ _csrf: csrf, email: victim.email, password: victim.password }));
        expect(r.status).toBe(303);
      }
      expect(jar(browser).get('cs_session')).not.toBe(fixed.get('cs_session'));
      expect((await browser.get('/api/store/me')).body.user.email).toBe(victim.email);
      // The planted id opens nothing now, least of all the victim's account.
      const withPlanted = t.client();
      for (const [k, v] of fixed) jar(withPlanted).set(k, v);
      expect((await withPlanted.get('/api/store/me')).status).toBe(401);
      planted.clear();
      for (const [k, v] of jar(await t.client().login(attacker.email, attacker.password))) planted.set(k, v);
    }
  });

  /** A raw connection that sends `head` and then one more byte every 50 ms, until the server hangs up. */
  const trickle = (head: string) =>
    new Promise<string>((resolve, reject) => {
      const { port } = new URL(t.url);
      const socket: Socket = connect(Number(port), '127.0.0.1', () => socket.write(head));
      let got = '';
      const drip = setInterval(() => socket.writable && socket.write('x'), 50);
      socket.on('data', (d) => (got += d.toString()));
      socket.on('error', () => undefined); // a reset is being cut off too
      socket.on('close', () => {
        clearInterval(drip);
        resolve(got);
      });
      socket.setTimeout(30_000, () => reject(new Error('the slow client was never cut off')));
    });

  it('cuts off clients that trickle their headers or body (slowloris), and serves others meanwhile', async () => {
    const slowHeaders = trickle('GET / HTTP/1.1\r\nHost: shop\r\nX-Slow: ');
    const slowBody = trickle(`POST /api/store/auth/login HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"email":"`);
    // Others are served while the slow ones hold their sockets.
    const served = await Promise.all(Array.from({ length: 5 }, () => t.client().get('/healthz')));
    expect(served.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    const [headersCut, bodyCut] = await Promise.all([slowHeaders, slowBody]);
    expect(headersCut).toMatch(/^(HTTP\/1\.1 408|)/);
    expect(headersCut).not.toMatch(/HTTP\/1\.1 200/);
    expect(bodyCut).not.toMatch(/HTTP\/1\.1 [23]\d\d/);
  });
});
