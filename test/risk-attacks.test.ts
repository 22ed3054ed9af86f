import risk from '@cardshop/plugin-risk';
import { dummyPayments, startTestShop, TEST_DIALECTS, TestClient, type TestShop } from '@cardshop/core/testing';
import { verifyLedger } from '@cardshop/core';
import { describe, expect, it } from 'vitest';
import { cardSku } from './fixtures.js';

/**
 * Scripted attacks mixed into normal traffic, against the risk plugin's default rules, over HTTP
 * (IPs through X-Forwarded-For behind a trusted proxy; a browser's device id from its cookie).
 * All of it happens within seconds, so every velocity window holds all of it: the hardest case
 * for normal buyers, who in real life spread the same orders over hours.
 */

type Group = 'normal' | 'attack';
interface Step {
  group: Group;
  pattern: string;
  run(): Promise<{ status: number; body: any }>;
}

/** A small seeded generator, so every run sends the same traffic. */
function random(seed: number) {
  let a = seed;
  const next = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)) };
}

async function traffic(t: TestShop, cheap: string, dear: string): Promise<Step[]> {
  const rnd = random(9);
  const steps: Step[] = [];
  const checkout = (client: TestClient, ip: string, body: Record<string, unknown>) =>
    client.post('/api/store/checkout', body, { 'x-forwarded-for': ip });
  /** A browser: it opened a page, so it has the cookie its device id comes from. */
  const browser = async (user?: { email: string; password: string }) => {
    const c = new TestClient(t.url);
    await c.get('/query');
    return user ? c.login(user.email, user.password) : c;
  };
  const member = async (balance: number, ageDays: number) => {
    const u = await t.createUser({ balance });
    if (ageDays) await t.shop.db.knex('users').where('id', u.id).update({ created_at: Date.now() - ageDays * 86_400_000 });
    return u;
  };
  const add = (group: Group, pattern: string, run: Step['run']) => steps.push({ group, pattern, run });
  const sku = () => (rnd.next() < 0.7 ? cheap : dear);

  // Normal: guests, each on their own connection and browser, one order or two.
  for (let i = 0; i < 150; i++) {
    const c = await browser();
    const ip = `10.1.${i >> 8}.${i & 255}`;
    for (let n = rnd.next() < 0.2 ? 2 : 1; n > 0; n--) {
      const body = { sku: sku(), quantity: rnd.int(1, 3), contact: `guest${i}@mail.test`, payment: 'dummy' };
      add('normal', 'guests', () => checkout(c, ip, body));
    }
  }
  // Normal: established members paying from their balance, at home and on the phone.
  for (let i = 0; i < 50; i++) {
    const c = await browser(await member(500_000, 30));
    for (let n = rnd.int(1, 4); n > 0; n--) {
      const body = { sku: sku(), quantity: rnd.int(1, 5), payment: 'wallet' };
      const ip = rnd.next() < 0.5 ? `10.2.0.${i}` : `10.3.0.${i}`;
      add('normal', 'members', () => checkout(c, ip, body));
    }
  }
  // Normal: accounts opened today, a first order or two.
  for (let i = 0; i < 20; i++) {
    const c = await browser(await member(50_000, 0));
    for (let n = rnd.int(1, 2); n > 0; n--) {
      const body = { sku: sku(), quantity: rnd.int(1, 2), payment: 'wallet' };
      add('normal', 'new members', () => checkout(c, `10.4.0.${i}`, body));
    }
  }
  // Normal: an office behind one address (NAT), and a regular who orders from home and work.
  for (let i = 0; i < 8; i++) {
    const c = await browser();
    const body = { sku: cheap, quantity: 1, contact: `colleague${i}@office.test`, payment: 'dummy' };
    add('normal', 'office NAT', () => checkout(c, '10.9.0.1', body));
  }
  const regular = await browser();
  for (const ip of ['10.5.0.1', '10.6.0.1', '10.5.0.1']) {
    add('normal', 'regular', () => checkout(regular, ip, { sku: cheap, quantity: 1, contact: 'regular@mail.test', payment: 'dummy' }));
  }

  // Attack: card testing, a burst of one-unit orders from one address, a new contact each time.
  const bot = new TestClient(t.url);
  for (let i = 0; i < 120; i++) {
    add('attack', 'card testing (one IP)', () => checkout(bot, '172.16.0.1', { sku: cheap, quantity: 1, contact: `ct${i}@tmp.test`, payment: 'dummy' }));
  }
  // Attack: card testing through rotating proxies from one browser.
  const tester = await browser();
  for (let i = 0; i < 80; i++) {
    add('attack', 'card testing (one device)', () => checkout(tester, `172.17.0.${i}`, { sku: cheap, quantity: 1, contact: `cd${i}@tmp.test`, payment: 'dummy' }));
  }
  // Attack: many small orders from one address, two contacts taking turns.
  for (let i = 0; i < 60; i++) {
    add('attack', 'small orders (one IP)', () => checkout(bot, '172.18.0.1', { sku: cheap, quantity: 1, contact: `reseller${i % 2}@tmp.test`, payment: 'dummy' }));
  }
  // Attack: one contact across many addresses.
  for (let i = 0; i < 40; i++) {
    add('attack', 'one contact, many IPs', () => checkout(bot, `172.19.0.${i}`, { sku: cheap, quantity: 1, contact: 'hoarder@tmp.test', payment: 'dummy' }));
  }
  // Attack: accounts registered in a batch, each trying to buy up the stock.
  for (let i = 0; i < 30; i++) {
    const u = await member(200_000, 0);
    const c = await new TestClient(t.url).login(u.email, u.password);
    for (let n = 0; n < 2; n++) add('attack', 'new accounts draining stock', () => checkout(c, `172.20.0.${i % 3}`, { sku: cheap, quantity: 20, payment: 'wallet' }));
  }
  // Attack: stolen accounts with a balance, cashed out through many small orders.
  for (let a = 0; a < 2; a++) {
    const u = await member(300_000, 90);
    const c = await new TestClient(t.url).login(u.email, u.password);
    for (let i = 0; i < 40; i++) add('attack', 'stolen balance cash-out', () => checkout(c, `172.21.${a}.${i}`, { sku: cheap, quantity: rnd.int(1, 2), payment: 'wallet' }));
  }

  // Mixed: a random interleaving (each actor's own steps stay in order).
  const mixed: Step[] = [];
  const queues = new Map<string, Step[]>();
  for (const s of steps) queues.set(s.pattern, [...(queues.get(s.pattern) ?? []), s]);
  const lanes = [...queues.values()];
  while (lanes.some((l) => l.length)) {
    const open = lanes.filter((l) => l.length);
    mixed.push(open[Math.floor(rnd.next() * open.length)]!.shift()!);
  }
  return mixed;
}

describe.each(TEST_DIALECTS)('risk control against scripted attacks (%s)', (dialect) => {
  it('blocks or holds for review at least 90% of attack orders and under 1% of normal ones, with the default rules', async () => {
    const t = await startTestShop({ dialect, config: { trustProxy: true, plugins: [dummyPayments(), risk()] } });
    try {
      const cheap = (await cardSku(t.shop, { price: 1_000, keys: 1_500 })).code;
      const dear = (await cardSku(t.shop, { price: 10_000, keys: 400 })).code;
      const steps = await traffic(t, cheap, dear);

      const results: Array<{ step: Step; status: number; code?: string; no?: string }> = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < steps.length) {
            const step = steps[next++]!;
            const r = await step.run();
            results.push({ step, status: r.status, code: r.body?.error?.code, no: r.body?.order?.no });
          }
        }),
      );
      const odd = results.filter((r) => r.status !== 201 && r.code !== 'vetoed');
      expect(odd.map((r) => `${r.step.pattern}: ${r.status} ${r.code}`)).toEqual([]);

      // Held: taken, its delivery waiting for an admin in the review queue.
      const held = new Set(await t.shop.db.knex('orders').whereNotNull('review').pluck('no'));
      const figures = new Map<string, { group: Group; total: number; blocked: number; held: number }>();
      for (const r of results) {
        const f = figures.get(r.step.pattern) ?? { group: r.step.group, total: 0, blocked: 0, held: 0 };
        f.total++;
        if (r.code === 'vetoed') f.blocked++;
        if (r.no && held.has(r.no)) f.held++;
        figures.set(r.step.pattern, f);
      }
      const sum = (group: Group) =>
        [...figures.values()].filter((f) => f.group === group).reduce((a, f) => ({ total: a.total + f.total, blocked: a.blocked + f.blocked, held: a.held + f.held }), { total: 0, blocked: 0, held: 0 });
      const attack = sum('attack');
      const normal = sum('normal');
      const pct = (n: number, total: number) => `${n}/${total} = ${((100 * n) / total).toFixed(1)}%`;
      const line = (f: { total: number; blocked: number; held: number }) => `blocked ${pct(f.blocked, f.total)}, held ${f.held}, either ${pct(f.blocked + f.held, f.total)}`;
      console.log(
        [
          `risk (${dialect}), default rules:`,
          ...[...figures].map(([pattern, f]) => `  ${f.group.padEnd(6)} ${pattern.padEnd(28)} ${line(f)}`),
          `  attack orders: ${line(attack)}`,
          `  normal orders: ${line(normal)}`,
        ].join('\n'),
      );
      expect(attack.total).toBe(440);
      expect(normal.total).toBeGreaterThan(300);
      expect((attack.blocked + attack.held) / attack.total).toBeGreaterThanOrEqual(0.9);
      expect(normal.blocked / normal.total).toBeLessThan(0.01);
      expect(normal.held / normal.total).toBeLessThan(0.01);
      expect(held.size).toBe(attack.held + normal.held);

      // Every attempt is on record with its decision, and every refusal with the rule that made it.
      const rows: Array<{ outcome: string; rule: string | null }> = await t.shop.db.knex('risk_decisions').select('outcome', 'rule');
      expect(rows).toHaveLength(results.length);
      expect(rows.filter((r) => r.outcome === 'block')).toHaveLength(attack.blocked + normal.blocked);
      expect(rows.filter((r) => r.outcome === 'hold')).toHaveLength(held.size);
      expect(rows.filter((r) => r.outcome === 'block' && !r.rule)).toEqual([]);
      expect(rows.filter((r) => r.outcome === 'allow' && r.rule)).toEqual([]);
      expect((await verifyLedger(t.shop)).ok).toBe(true);
    } finally {
      await t.close();
    }
  });
});
