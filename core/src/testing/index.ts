/**
 * Test helpers for cardshop and for plugin authors (`@cardshop/core/testing`): a real shop on a
 * temporary SQLite file or a fresh MySQL database, listening on a free port, and an HTTP client
 * that keeps cookies like a browser.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import knexFactory from 'knex';
import { createUser, type Role, type User } from '../agents/users.js';
import type { ConfigInput } from '../config/config.js';
import { createShop, type Shop } from '../shop.js';
import { adjustWallet } from '../wallet/ledger.js';
import { signRequest, type ApiCredentials } from '../agents/api-keys.js';
import { signDummy } from './dummy-pay.js';
import { copyMigratedMysql, copyMigratedSqlite } from './template-db.js';

export { dummyPayments, signDummy, DUMMY_SECRET } from './dummy-pay.js';
export { recordingLogger, setupPlugin } from './plugin.js';
export { createDummySupplier, type DummySupplier, type DummyBehaviour, type DummySupplierOrder } from './dummy-supplier.js';

export type TestDialect = 'sqlite' | 'mysql';

/** Every route the shop's app serves (method and path pattern), read from its routers. */
export function appRoutes(shop: Shop): Array<{ method: string; path: string }> {
  type Layer = { path: string; methods: string[] };
  type Mw = { router?: { stack: Layer[] }; routers?: Array<{ stack: Layer[] }> };
  const routers = (shop.app.middleware as Mw[]).flatMap((mw) => mw.routers ?? (mw.router ? [mw.router] : []));
  return routers.flatMap((r) => r.stack.flatMap((l) => l.methods.filter((m) => m !== 'HEAD').map((method) => ({ method, path: l.path }))));
}

/** The server the MySQL tests run against; CI starts MariaDB there. */
export const TEST_MYSQL_URL = process.env.CARDSHOP_TEST_MYSQL ?? 'mysql://root@127.0.0.1:3306/test';

/** Dialects every database test runs on. MySQL is never skipped: CI must have it. */
export const TEST_DIALECTS: TestDialect[] = (process.env.CARDSHOP_TEST_DIALECTS?.split(',') as TestDialect[]) ?? ['sqlite', 'mysql'];

export interface TestShop {
  shop: Shop;
  url: string;
  dialect: TestDialect;
  /** A user with a wallet balance (minor units); password is `password123`. */
  createUser(opts?: { email?: string; role?: Role; balance?: number; uplineId?: number }): Promise<User & { password: string }>;
  client(): TestClient;
  /** A client of the Agent API (/api/v1) that signs every request with these credentials. */
  apiClient(credentials: ApiCredentials): ApiClient;
  /** Sends the dummy gateway's signed notify for an order (see dummyPayments). */
  notify(payload: { orderNo: string; amount: number; tradeNo?: string; status?: string }, secret?: string): Promise<TestResponse<string>>;
  /**
   * Stops the shop and starts it again on the same database, secret and port, as an operator's
   * restart does (plugin settings saved in the admin apply then). `shop` is the new one after.
   */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A fresh MySQL database on the test server, empty or with the core's migrations applied
 * (copied from a template: much faster than migrating); drop it when done.
 */
export async function createMysqlDatabase(opts: { migrated?: boolean } = {}): Promise<{ url: string; drop(): Promise<void> }> {
  const server = new URL(TEST_MYSQL_URL);
  const name = `cardshop_t_${randomBytes(6).toString('hex')}`;
  const admin = knexFactory({
    client: 'mysql2',
    connection: { host: server.hostname, port: Number(server.port || 3306), user: decodeURIComponent(server.username), password: decodeURIComponent(server.password) },
    // One connection that stays: it holds the template lock while a template is built.
    pool: { min: 0, max: 1, idleTimeoutMillis: 600_000 },
  });
  await admin.raw(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  const drop = async () => {
    await admin.raw(`DROP DATABASE IF EXISTS \`${name}\``);
    await admin.destroy();
  };
  if (opts.migrated) {
    try {
      await copyMigratedMysql(admin, server, name);
    } catch (err) {
      await drop().catch(() => undefined);
      throw err;
    }
  }
  const url = new URL(server);
  url.pathname = `/${name}`;
  url.searchParams.set('pool', '20');
  return { url: url.toString(), drop };
}

export async function startTestShop(opts: { dialect?: TestDialect; config?: ConfigInput; listen?: boolean } = {}): Promise<TestShop> {
  const dialect = opts.dialect ?? 'sqlite';
  const root = mkdtempSync(path.join(tmpdir(), 'cardshop-test-'));
  const mysql = dialect === 'mysql' ? await createMysqlDatabase({ migrated: true }) : undefined;
  if (!mysql) await copyMigratedSqlite(path.join(root, 'shop.db'));
  const config: ConfigInput = {
    root,
    database: mysql?.url ?? `sqlite:${path.join(root, 'shop.db')}`,
    secret: randomBytes(32).toString('hex'),
    logLevel: 'error',
    // Every test request comes from 127.0.0.1: limits on unpaid orders and guest orders per
    // address and contact, and the bot-defence challenges, apply only in the tests that set them.
    ...opts.config,
    checkout: { maxUnpaid: { contact: 0, ip: 0, session: 0 }, guestOrders: { ip: 0, contact: 0 }, ...opts.config?.checkout },
    botDefence: { checkout: false, register: false, ...opts.config?.botDefence },
  };
  let shop = createShop(config);
  const cleanUp = async () => {
    await shop.close();
    await mysql?.drop();
    rmSync(root, { recursive: true, force: true });
  };
  let url = '';
  try {
    await shop.ready();
    if (opts.listen !== false) url = await shop.listen(0, '127.0.0.1');
  } catch (err) {
    await cleanUp();
    throw err;
  }
  let n = 0;
  return {
    get shop() {
      return shop;
    },
    url,
    dialect,
    async restart() {
      await shop.close();
      shop = createShop(config);
      await shop.ready();
      if (url) await shop.listen(Number(new URL(url).port), '127.0.0.1');
    },
    async createUser(o = {}) {
      const password = 'password123';
      const email = o.email ?? `user${++n}-${randomBytes(3).toString('hex')}@test.local`;
      const user = await createUser(shop, { email, password, role: o.role ?? 'customer', uplineId: o.uplineId });
      if (o.balance) await adjustWallet(shop, { userId: user.id, amount: o.balance, reason: 'test balance' });
      return { ...user, password };
    },
    client: () => new TestClient(url),
    apiClient: (credentials) => new ApiClient(url, credentials),
    notify(payload, secret) {
      const { body, signature } = signDummy({ tradeNo: `T-${payload.orderNo}`, status: 'paid', ...payload }, secret);
      return new TestClient(url).post('/pay/dummy/notify', body, { 'content-type': 'application/json', 'x-dummy-signature': signature });
    },
    close: cleanUp,
  };
}

/**
 * Solves the built-in proof of work as the browser's script does: tries nonces until SHA-256 of
 * `token:nonce` starts with `bits` zero bits. Returns the answer to send as `challenge`.
 */
export function solveProofOfWork(token: string, bits: number): string {
  for (let n = 0; ; n++) {
    const answer = `${token}:${n}`;
    const digest = createHash('sha256').update(answer).digest();
    let zeros = 0;
    for (const byte of digest) {
      zeros += byte ? Math.clz32(byte) - 24 : 8;
      if (byte) break;
    }
    if (zeros >= bits) return answer;
  }
}

export interface TestResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** fetch with a cookie jar, JSON by default, and no redirect following (tests look at them). */
export class TestClient {
  private cookies = new Map<string, string>();

  constructor(readonly base: string) {}

  get cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<TestResponse<T>> {
    const init: RequestInit = { method, headers: { ...headers, cookie: this.cookieHeader }, redirect: 'manual' };
    if (body !== undefined) {
      const isForm = body instanceof URLSearchParams;
      init.body = isForm ? body.toString() : typeof body === 'string' ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] ??= isForm ? 'application/x-www-form-urlencoded' : 'application/json';
    }
    const res = await fetch(this.base + path, init);
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const text = await res.text();
    let parsed: unknown = text;
    if (res.headers.get('content-type')?.includes('json')) parsed = JSON.parse(text);
    return { status: res.status, headers: res.headers, body: parsed as T, text };
  }

  get<T = any>(path: string) {
    return this.request<T>('GET', path);
  }

  post<T = any>(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.request<T>('POST', path, body ?? {}, headers);
  }

  put<T = any>(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.request<T>('PUT', path, body ?? {}, headers);
  }

  async login(email: string, password: string): Promise<this> {
    const r = await this.post('/api/store/auth/login', { email, password });
    if (r.status !== 200) throw new Error(`login failed: ${r.status} ${r.text}`);
    return this;
  }

  /**
   * A solved bot-defence challenge for a guest's checkout or a registration, as the page's script
   * would send it (`challenge` in the body); undefined when the shop asks for none.
   */
  async challenge(purpose: 'checkout' | 'register'): Promise<string | undefined> {
    const r = await this.get(`/api/store/challenge?purpose=${purpose}`);
    if (r.status !== 200) throw new Error(`no challenge: ${r.status} ${r.text}`);
    const c = r.body.challenge as { kind: string; token: string; bits: number } | null;
    if (!c) return undefined;
    if (c.kind !== 'pow') throw new Error(`cannot solve a "${c.kind}" challenge`);
    return solveProofOfWork(c.token, c.bits);
  }

  /** The CSRF token of the current browser, read from a page's form. */
  async csrf(path = '/login'): Promise<string> {
    const page = await this.get(path);
    const m = /name="_csrf" value="([^"]+)"/.exec(page.text);
    if (!m) throw new Error(`no CSRF token on ${path}`);
    return m[1]!;
  }
}

/** Signed requests to a shop's Agent API, as a downstream shop or an integrator sends them. */
export class ApiClient {
  constructor(
    readonly base: string,
    readonly credentials: ApiCredentials,
  ) {}

  /** `path` is under /api/v1 (`/orders`, `/products?category=x`); `headers` may override the signed ones. */
  async request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<TestResponse<T>> {
    const full = `/api/v1${path}`;
    const raw = body === undefined ? '' : JSON.stringify(body);
    const signed = signRequest(this.credentials, { method, path: full, body: raw });
    const res = await fetch(this.base + full, {
      method,
      headers: { ...signed, ...(raw ? { 'content-type': 'application/json' } : {}), ...headers },
      body: raw || undefined,
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: (res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text) as T, text };
  }

  get<T = any>(path: string) {
    return this.request<T>('GET', path);
  }

  post<T = any>(path: string, body: unknown, headers?: Record<string, string>) {
    return this.request<T>('POST', path, body, headers);
  }
}
