import { authenticate, balanceOf, getOrder, listOrders, verifyLedger } from '@cardshop/core';
import { startTestShop, TEST_DIALECTS, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cents } from '../core/src/import/source.js';
import { cardshop, killedAt, reportLine } from './fixtures/import/cli.js';
import { ACG_ADMIN, acgFakaShop, FULL, REPEATED_KEYS, SCARCE, SMALL, type SourceShop } from './fixtures/import/shops.js';

// The realistic size on SQLite (the default shop), a smaller one on MySQL: the suite stays quick.
describe.each(TEST_DIALECTS)('cardshop import acg-faka into %s', (dialect) => {
  const size = dialect === 'sqlite' ? FULL : SMALL;
  let src: SourceShop;
  let ts: TestShop;
  let env: Record<string, string>;
  const args = () => ['import', 'acg-faka', '--from', src.url];
  const value = async (sql: string) => Object.values(((await src.db.knex.raw(sql)) as any)[0][0])[0];
  const one = async (sql: string) => Number(await value(sql));
  const userId = async (email: string) => Number((await ts.shop.db.knex('users').where('email', email).first('id'))?.id);

  beforeAll(async () => {
    [src, ts] = await Promise.all([acgFakaShop(size), startTestShop({ dialect })]);
    env = { CARDSHOP_DATABASE: ts.shop.config.database, CARDSHOP_SECRET: ts.shop.config.secret! };
    // Someone here already has member 9's e-mail.
    await ts.createUser({ email: 'm9@example.com' });
  });
  afterAll(async () => {
    await ts?.close();
    await src?.drop();
  });

  it('dry runs by default and writes nothing', async () => {
    const r = cardshop(args(), env);
    expect(r.code, r.stderr).toBe(0);
    expect(reportLine(r.stdout, 'user')).toEqual([size.users, size.users, 0, 0]);
    expect(reportLine(r.stdout, 'commodity')).toEqual([46, 45, 0, 1]);
    expect(r.stdout).toContain("commodity: a merchant's own category, product or coupon");
    expect(r.stdout).toContain('pay: paying from the balance (the wallet is built in here)');
    expect(r.stdout).toMatch(/支付宝: enable @cardshop\/plugin-payment-epay/);
    expect(Number((await ts.shop.db.knex('import_map').count({ n: '*' }).first())?.n)).toBe(0);
    expect(await ts.shop.db.knex('users').where('email', 'm1@example.com').first()).toBeUndefined();
  });

  it('--apply killed half way and run again finishes with nothing twice; counts and balances match', async () => {
    const killed = await killedAt([...args(), '--apply'], env, 30);
    expect(killed.signal).toBe('SIGKILL');
    const resumed = cardshop([...args(), '--apply'], env);
    expect(resumed.code, resumed.stderr).toBe(0);
    const again = cardshop([...args(), '--apply'], env);
    expect(again.code, again.stderr).toBe(0);
    for (const table of ['user_group', 'category', 'commodity', 'user', 'manage', 'business', 'card', 'coupon', 'order']) expect(reportLine(again.stdout, table)[1], table).toBe(0);

    const knex = ts.shop.db.knex;
    const count = async (table: string, q: (b: any) => any = (b) => b) => Number((await q(knex(table)).count({ n: '*' }).first())?.n);
    expect(await count('import_map', (b) => b.where({ source: 'acg-faka', table: 'user' }).whereNotNull('new_id'))).toBe(size.users);
    expect(await count('agent_levels', (b) => b.where('code', 'like', 'acg-faka-%'))).toBe(6);
    expect(await count('sites', (b) => b.where('code', 'like', 'acg-%'))).toBe(5);
    const unsold = await one(`SELECT COUNT(*) FROM (SELECT DISTINCT commodity_id, secret FROM acg_card WHERE status <> 1 AND commodity_id <> 46) k`);
    expect(unsold).toBe((await one('SELECT COUNT(*) FROM acg_card WHERE status <> 1 AND commodity_id <> 46')) - REPEATED_KEYS);
    expect(await count('card_keys', (b) => b.where('status', 'available'))).toBe(unsold);
    expect(await count('orders')).toBe(size.orders);

    // Every member's balance and coins, to the cent, as opening entries the ledger accepts.
    const total = cents(await value('SELECT SUM(balance) + SUM(coin) FROM acg_user'));
    const wallets = await knex('accounts').where('code', 'like', 'wallet:%').sum({ n: 'balance' }).first();
    expect(Number(wallets?.n)).toBe(total);
    expect(await balanceOf(ts.shop, await userId('m7@example.com'))).toBe(cents(await value('SELECT balance + coin FROM acg_user WHERE id = 1006')));
    const ledger = await verifyLedger(ts.shop);
    expect(ledger.ok, JSON.stringify(ledger.drift.slice(0, 3))).toBe(true);
    expect(cardshop(['ledger', 'verify'], env).stdout).toContain('ledger OK');
  });

  it("gives a member whose e-mail is taken here a stand-in address and its own money, never the other's account", async () => {
    const standIn = await userId('acg-faka-user-1008@import.invalid');
    expect(standIn).toBeGreaterThan(0);
    expect(await balanceOf(ts.shop, standIn)).toBe(cents(await value('SELECT balance + coin FROM acg_user WHERE id = 1008')));
    expect(await balanceOf(ts.shop, await userId('m9@example.com'))).toBe(0);
    expect((await authenticate(ts.shop, 'acg-faka-user-1008@import.invalid', 'pw-9', { ip: '127.0.0.5' })).id).toBe(standIn);
  });

  it('keeps levels, their prices, uplines, sub-shops and disabled members', async () => {
    const knex = ts.shop.db.knex;
    const m21 = await knex('users').where('email', 'm21@example.com').first();
    expect(m21.upline_id).toBe(await userId('m2@example.com')); // pid 1001 is member 2
    // member 21 has topped up 21: level 一贫如洗 (from 0); member 351, 351: 富可敌国 (from 300)
    expect((await knex('agent_levels').where('id', m21.level_id).first()).name).toBe('一贫如洗');
    const m351 = await knex('users').where('email', 'm351@example.com').first('level_id');
    expect((await knex('agent_levels').where('id', m351.level_id).first()).name).toBe('富可敌国');
    const sku = await knex('skus').where('code', 'ACG-2').first('id', 'price', 'cost');
    expect(sku).toMatchObject({ price: 1190, cost: 500 });
    const overrides = await knex('price_overrides as p').join('agent_levels as l', 'l.id', 'p.level_id').where({ 'p.scope': 'sku', 'p.scope_id': sku.id }).orderBy('l.rank').select('l.code', 'p.rule_value');
    // Level 3 has its own price on commodity 2 (level_price); the others pay the member price.
    expect(overrides.map((o: any) => [o.code, Number(o.rule_value)])).toEqual([
      ['acg-faka-1', 1050],
      ['acg-faka-2', 1050],
      ['acg-faka-3', 888],
      ['acg-faka-4', 1050],
      ['acg-faka-5', 1050],
      ['acg-faka-6', 1050],
    ]);
    const site = await knex('sites').where('code', 'acg-1').first();
    expect(site).toMatchObject({ host: 's1.acg.example', name: '分站 1', owner_id: await userId('m2@example.com') });
    expect((await knex('users').where('id', site.owner_id).first('role')).role).toBe('agent');
    expect((await knex('users').where('email', 'm97@example.com').first('disabled')).disabled).toBeTruthy();
  });

  it('members sign in with their old passwords once, then ours; their orders show what was delivered', async () => {
    const ip = { ip: '127.0.0.4' };
    await expect(authenticate(ts.shop, 'm5@example.com', 'pw-6', ip)).rejects.toThrow();
    const m5 = await authenticate(ts.shop, 'm5@example.com', 'pw-5', ip);
    expect((await ts.shop.db.knex('users').where('id', m5.id).first('password_hash')).password_hash).toMatch(/^scrypt\$/);
    expect((await authenticate(ts.shop, 'm5@example.com', 'pw-5', ip)).id).toBe(m5.id);
    // Member 10 has no e-mail: it signs in by its username.
    expect((await authenticate(ts.shop, 'member10@acg-faka.local', 'pw-10', ip)).email).toBe('member10@acg-faka.local');
    expect((await authenticate(ts.shop, ACG_ADMIN.email, ACG_ADMIN.password, ip)).role).toBe('admin');

    // Order 6 (owner 1000 + 6: member 7) was delivered "SOLD-6".
    const m7 = await authenticate(ts.shop, 'm7@example.com', 'pw-7', ip);
    const mine = await listOrders(ts.shop, m7.id, { limit: 100 });
    expect(mine.map((o) => o.no)).toContain('ACG0000000000000006');
    const order = await getOrder(ts.shop, 'ACG0000000000000006', { user: m7 });
    expect(order).toMatchObject({ status: 'delivered', delivery: 'SOLD-6', amount: 1090, quantity: 1, title: '商品 7' });
  });

  it('an imported key sells once, to an imported member paying from the imported balance', async () => {
    const buyer = 'm541@example.com'; // 200.17 in the old shop
    const client = await ts.client().login(buyer, 'pw-541');
    const before = await balanceOf(ts.shop, await userId(buyer));
    const sold: string[] = [];
    for (let i = 0; i < SCARCE; i++) {
      const r = await client.post('/api/store/checkout', { sku: 'ACG-42', payment: 'wallet' });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      sold.push(...r.body.order.keys.map((k: { card: string }) => k.card));
    }
    expect(sold.sort()).toEqual(Array.from({ length: SCARCE }, (_, i) => `SCARCE-${i + 1}`));
    expect((await client.post('/api/store/checkout', { sku: 'ACG-42', payment: 'wallet' })).status).not.toBe(201);
    expect(await balanceOf(ts.shop, await userId(buyer))).toBeLessThan(before);
    expect((await verifyLedger(ts.shop)).ok).toBe(true);
  });
});
