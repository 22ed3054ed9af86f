import { authenticate, getOrder, lookupOrders, verifyLedger } from '@cardshop/core';
import { startTestShop, TEST_DIALECTS, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardshop, killedAt, reportLine } from './fixtures/import/cli.js';
import { dujiaokaShop, FULL, REPEATED_KEYS, SCARCE, SMALL, type SourceShop } from './fixtures/import/shops.js';

// The realistic size on SQLite (the default shop), a smaller one on MySQL: the suite stays quick.
describe.each(TEST_DIALECTS)('cardshop import dujiaoka into %s', (dialect) => {
  const size = dialect === 'sqlite' ? FULL : SMALL;
  let src: SourceShop;
  let ts: TestShop;
  let env: Record<string, string>;
  const args = () => ['import', 'dujiaoka', '--from', src.url];
  const one = async (sql: string) => Number(Object.values(((await src.db.knex.raw(sql)) as any)[0][0])[0]);

  beforeAll(async () => {
    [src, ts] = await Promise.all([dujiaokaShop(size), startTestShop({ dialect })]);
    env = { CARDSHOP_DATABASE: ts.shop.config.database, CARDSHOP_SECRET: ts.shop.config.secret! };
  });
  afterAll(async () => {
    await ts?.close();
    await src?.drop();
  });

  it('dry runs by default: a report of what maps and what does not, and nothing written', async () => {
    const r = cardshop(args(), env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/dry run, nothing written: \d+ rows read/);
    const unsold = await one(`SELECT COUNT(*) FROM carmis c JOIN goods g ON g.id = c.goods_id WHERE c.status = 1 AND c.deleted_at IS NULL AND g.deleted_at IS NULL`);
    const carmis = reportLine(r.stdout, 'carmis');
    expect(carmis[0]).toBe(await one('SELECT COUNT(*) FROM carmis'));
    // Before dedupe: the dry run does not write keys to learn which it already holds.
    expect(carmis[1]).toBe(unsold);
    expect(reportLine(r.stdout, 'goods')).toEqual([45, 44, 0, 1]);
    expect(r.stdout).toContain('carmis: sold (kept as history in its order)');
    expect(r.stdout).toContain('coupons: a code for several products');
    expect(r.stdout).toMatch(/易支付-支付宝 \(off in the old shop\): enable @cardshop\/plugin-payment-epay/);
    expect(r.stdout).toMatch(/PayPal: no plugin of ours matches: a manual step/);
    for (const table of ['import_map', 'card_keys', 'orders', 'coupons']) expect(Number((await ts.shop.db.knex(table).count({ n: '*' }).first())?.n), table).toBe(0);
    expect(await ts.shop.db.knex('categories').where('slug', 'like', 'dujiaoka-%').first()).toBeUndefined();
  });

  it('--apply killed half way and run again finishes with nothing twice', async () => {
    const killed = await killedAt([...args(), '--apply'], env, 40);
    expect(killed.signal).toBe('SIGKILL');
    const partial = Number((await ts.shop.db.knex('import_map').count({ n: '*' }).first())?.n);
    expect(partial).toBeGreaterThan(0);

    const resumed = cardshop([...args(), '--apply'], env);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/imported: \d+ rows read/);
    expect(reportLine(resumed.stdout, 'carmis')[2]).toBeGreaterThan(0); // done by the killed run

    const again = cardshop([...args(), '--apply'], env);
    expect(again.code, again.stderr).toBe(0);
    for (const table of ['goods_group', 'goods', 'carmis', 'coupons', 'admin_users', 'orders']) expect(reportLine(again.stdout, table)[1], table).toBe(0);

    const count = async (table: string, where: Record<string, unknown> = {}) => Number((await ts.shop.db.knex(table).where(where).count({ n: '*' }).first())?.n);
    const unsold = await one(`SELECT COUNT(*) FROM (SELECT DISTINCT c.goods_id, c.carmi FROM carmis c JOIN goods g ON g.id = c.goods_id WHERE c.status = 1 AND c.deleted_at IS NULL AND g.deleted_at IS NULL) k`);
    expect(unsold).toBe((await one(`SELECT COUNT(*) FROM carmis c JOIN goods g ON g.id = c.goods_id WHERE c.status = 1 AND c.deleted_at IS NULL AND g.deleted_at IS NULL`)) - REPEATED_KEYS);
    expect(await count('card_keys', { status: 'available' })).toBe(unsold);
    expect(Number((await ts.shop.db.knex('skus').sum({ n: 'stock' }).first())?.n)).toBe(unsold);
    const imported = async (table: string) => Number((await ts.shop.db.knex(table).where('slug', 'like', 'dujiaoka-%').count({ n: '*' }).first())?.n);
    expect(await imported('categories')).toBe(9);
    expect(await imported('products')).toBe(44);
    expect(await count('orders')).toBe(await one('SELECT COUNT(*) FROM orders WHERE deleted_at IS NULL'));
    expect(await count('orders', { status: 'delivered' })).toBe(await one('SELECT COUNT(*) FROM orders WHERE status = 4'));
    expect(await count('coupons')).toBe(11);
    // Guests: one order per distinct e-mail at least, all found by e-mail.
    expect(Number((await ts.shop.db.knex('orders').countDistinct({ n: 'contact' }).first())?.n)).toBe(await one('SELECT COUNT(DISTINCT email) FROM orders'));
    expect((await verifyLedger(ts.shop)).ok).toBe(true);
    expect(cardshop(['ledger', 'verify'], env).stdout).toContain('ledger OK');
  });

  it('a guest finds an old order by e-mail and the old query password, with the keys delivered', async () => {
    // Order 30: delivered (status 4), query password pw30, keys "SOLD-30", e-mail buyer<30 % users>.
    const found = await lookupOrders(ts.shop, { q: `buyer${30 % size.users}@example.com`, password: 'pw30' }, { ip: '127.0.0.1' });
    expect(found.map((o) => o.no)).toEqual(['DJ00000000000030']);
    const order = await getOrder(ts.shop, 'DJ00000000000030', { granted: true });
    expect(order).toMatchObject({ status: 'delivered', delivery: 'SOLD-30', amount: 875, discount: 125, contact: `buyer${30 % size.users}@example.com` });
    await expect(lookupOrders(ts.shop, { q: `buyer${30 % size.users}@example.com`, password: 'pw31' }, { ip: '127.0.0.2' })).rejects.toThrow();
  });

  it("the old admin signs in with the old bcrypt password once; then it is ours", async () => {
    await expect(authenticate(ts.shop, 'admin@dujiaoka.local', 'not-it', { ip: '127.0.0.3' })).rejects.toThrow();
    const before = await ts.shop.db.knex('users').where('email', 'admin@dujiaoka.local').first('password_hash', 'role');
    expect(before).toMatchObject({ role: 'admin', password_hash: expect.stringMatching(/^legacy-bcrypt\$\$2y\$10\$/) });
    expect((await authenticate(ts.shop, 'admin@dujiaoka.local', 'admin', { ip: '127.0.0.3' })).role).toBe('admin');
    const after = await ts.shop.db.knex('users').where('email', 'admin@dujiaoka.local').first('password_hash');
    expect(after.password_hash).toMatch(/^scrypt\$/);
    expect((await authenticate(ts.shop, 'admin@dujiaoka.local', 'admin', { ip: '127.0.0.3' })).role).toBe('admin');
  });

  it('an imported key sells once', async () => {
    const buyer = await ts.createUser({ balance: 100_000 });
    const client = await ts.client().login(buyer.email, buyer.password);
    const sold: string[] = [];
    for (let i = 0; i < SCARCE; i++) {
      const r = await client.post('/api/store/checkout', { sku: 'DJ-41', payment: 'wallet' });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      sold.push(...r.body.order.keys.map((k: { card: string }) => k.card));
    }
    expect(sold.sort()).toEqual(Array.from({ length: SCARCE }, (_, i) => `SCARCE-${i + 1}`));
    const more = await client.post('/api/store/checkout', { sku: 'DJ-41', payment: 'wallet' });
    expect(more.status).not.toBe(201);
  });
});

describe('cardshop import: bad input', () => {
  let src: SourceShop;
  beforeAll(async () => {
    src = await dujiaokaShop({ users: 1, keys: 1, orders: 1 });
  });
  afterAll(() => src?.drop());
  const env = { CARDSHOP_DATABASE: 'sqlite::memory:', CARDSHOP_SECRET: 'import-test-secret-'.padEnd(48, 'x') };

  it('names the option at fault, on one line, with a non-zero exit', () => {
    const cases: Array<[string[], RegExp]> = [
      [['import', 'dujiaoka'], /--from: the old shop's database is needed, like mysql:\/\//],
      [['import', 'magento', '--from', 'mysql://root@127.0.0.1/x'], /SOURCE: the source must be one of dujiaoka, acg-faka/],
      [['import', 'dujiaoka', '--from', 'postgres://root@127.0.0.1/x'], /--from: the old shop's database is needed/],
      [['import', 'acg-faka', '--from', 'mysql://root@127.0.0.1/x', '--prefix', 'a;b'], /--prefix: a table prefix has letters, digits and underscores only/],
      [['import', 'dujiaoka', '--from', 'mysql://root@127.0.0.1/x', '--batch', '0'], /--batch: invalid value/],
    ];
    for (const [a, message] of cases) {
      const r = cardshop(a, env);
      expect(r.code, a.join(' ')).not.toBe(0);
      expect(r.stderr.trim().split('\n'), a.join(' ')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
  });

  it('speaks Chinese by default', () => {
    const r = cardshop(['import', 'dujiaoka'], { ...env, CARDSHOP_LOCALE: '', LANG: '' });
    expect(r.stderr).toMatch(/--from：需要旧店数据库地址/);
  });

  it('refuses a database that is not the named shop, and never writes to the old one', async () => {
    const r = cardshop(['import', 'acg-faka', '--from', src.url], env);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/the old database has no table acg_user_group/);
    // The connection the import opens is read-only.
    const { openSource } = await import('../core/src/import/index.js');
    const db = openSource(src.url);
    try {
      await expect(db('goods_group').insert({ gp_name: 'x' })).rejects.toThrow(/READ ONLY/i);
    } finally {
      await db.destroy();
    }
  });
});
