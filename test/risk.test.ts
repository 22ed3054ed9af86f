import kycCn from '@cardshop/plugin-kyc-cn';
import risk from '@cardshop/plugin-risk';
import { dummyPayments, startTestShop, TEST_DIALECTS, TestClient, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeKyc, type FakeKyc } from '../plugins/kyc-cn/src/testing/fake-kyc.js';
import { cardSku } from './fixtures.js';

const ZHANG = { name: '张三', idNumber: '11010519491231002X' };

describe.each(TEST_DIALECTS)('the risk plugin in a shop (%s)', (dialect) => {
  let fake: FakeKyc;
  let t: TestShop;
  let sku: string;
  beforeAll(async () => {
    fake = await startFakeKyc({ people: [ZHANG], appCode: 'code' });
    const plugins = [
      dummyPayments(),
      kycCn({ apiUrl: fake.url, appCode: 'code' }),
      // The review score has its own test below: here the rules alone decide.
      risk({ ipMode: 'dry-run', ipMaxOrders: 3, maxTopupAmount: 50_000, blockIdNumbers: [ZHANG.idNumber.toLowerCase()], blockContacts: ['Banned@Example.com'], reviewMode: 'off' }),
    ];
    t = await startTestShop({ dialect, config: { trustProxy: true, plugins } });
    sku = (await cardSku(t.shop, { keys: 50, price: 500 })).code;
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  const decisions = (where: Record<string, unknown> = {}) => t.shop.db.knex('risk_decisions').where(where).orderBy('id');
  const guest = (ip: string, contact: string) =>
    new TestClient(t.url).post('/api/store/checkout', { sku, contact, payment: 'dummy' }, { 'x-forwarded-for': ip, 'accept-language': 'en' });

  it('records what a dry-run rule would refuse, and lets it through', async () => {
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => guest('192.0.2.10', `g${i}@example.com`)));
    expect(answers.map((a) => a.status)).toEqual(Array(6).fill(201));
    const rows = await decisions({ ip: '192.0.2.10' });
    expect(rows.map((r) => [r.outcome, r.flagged])).toEqual([...Array(3).fill(['allow', null]), ...Array(3).fill(['allow', 'ip'])]);
  });

  it('blocks a blacklisted contact and a top-up over the limit, telling the buyer why in their language', async () => {
    const banned = await guest('192.0.2.20', 'banned@example.com');
    expect(banned.status).toBe(403);
    expect(banned.body.error.message).toBe('Refused: This cannot be accepted; please contact support');
    const u = await t.createUser();
    const buyer = await t.client().login(u.email, u.password);
    const topup = await buyer.post('/api/store/wallet/topup', { amount: 50_001, payment: 'dummy' }, { 'x-forwarded-for': '192.0.2.21' });
    expect(topup.body.error).toEqual({ code: 'vetoed', message: '该操作被拒绝：单笔金额或数量超出本店限制' });
    expect((await buyer.post('/api/store/wallet/topup', { amount: 50_000, payment: 'dummy' })).status).toBe(201);
    const [refused, allowed] = await decisions({ user_id: u.id, kind: 'topup' });
    expect(refused).toMatchObject({ outcome: 'block', rule: 'limits', amount: 50_001, ip: '192.0.2.21' });
    expect(allowed).toMatchObject({ outcome: 'allow', rule: null, amount: 50_000 });
  });

  it('matches a blacklisted ID number against the verified identity; the admin form never shows it', async () => {
    const u = await t.createUser({ balance: 10_000 });
    const buyer = await t.client().login(u.email, u.password);
    expect((await buyer.post('/api/store/checkout', { sku, payment: 'wallet' })).status).toBe(201);
    await buyer.post('/api/store/kyc', ZHANG);
    const refused = await buyer.post('/api/store/checkout', { sku, payment: 'wallet' });
    expect(refused.status).toBe(403);
    expect((await decisions({ user_id: u.id })).at(-1)).toMatchObject({ outcome: 'block', rule: 'blacklist' });
    const a = await t.createUser({ role: 'admin' });
    const admin = await t.client().login(a.email, a.password);
    const form = await admin.get('/admin/plugins');
    expect(form.text).toContain('name="ipMode"');
    expect(form.text).not.toContain(ZHANG.idNumber);
  });

  it('lists decisions for admins only', async () => {
    expect((await t.client().get('/plugins/risk/decisions')).status).toBe(401);
    const u = await t.createUser();
    expect((await (await t.client().login(u.email, u.password)).get('/plugins/risk/decisions')).status).toBe(403);
    const a = await t.createUser({ role: 'admin' });
    const admin = await t.client().login(a.email, a.password);
    const blocked = (await admin.get('/plugins/risk/decisions?outcome=block')).body.decisions;
    expect(blocked.length).toBeGreaterThanOrEqual(3);
    expect(blocked.every((d: { outcome: string; rule: string }) => d.outcome === 'block' && d.rule)).toBe(true);
    const flagged = (await admin.get('/plugins/risk/decisions?rule=ip')).body.decisions;
    expect(flagged.map((d: { flagged: string[] }) => d.flagged)).toEqual(Array(3).fill(['ip']));
  });
});

describe.each(TEST_DIALECTS)('the risk review queue (%s)', (dialect) => {
  let t: TestShop;
  let sku: string;
  beforeAll(async () => {
    t = await startTestShop({ dialect, config: { plugins: [dummyPayments(), risk()], delivery: { backoffMs: 0 } } });
    sku = (await cardSku(t.shop, { keys: 20, price: 500 })).code;
  });
  afterAll(() => t?.close());

  /**
   * A script with a member's password (no cookies: no device id) ordering in a burst: the third
   * order passes half the per-account limit, and with no device that scores 80: held.
   */
  async function heldOrders(n: number) {
    const u = await t.createUser({ balance: 100_000 });
    // An account of a month: a new one would score 20 more, and its first order would be held.
    await t.shop.db.knex('users').where('id', u.id).update({ created_at: Date.now() - 30 * 86_400_000 });
    const script = await t.client().login(u.email, u.password);
    const answers = [];
    for (let i = 0; i < n; i++) answers.push(await script.post('/api/store/checkout', { sku, payment: 'wallet' }));
    return { script, answers };
  }
  const adminClient = async () => {
    const a = await t.createUser({ role: 'admin' });
    return t.client().login(a.email, a.password);
  };

  it('takes a scored order but holds its delivery; an admin approves it on the page and it is delivered once', async () => {
    const { script, answers } = await heldOrders(3);
    expect(answers.map((a) => a.body.order.status)).toEqual(['delivered', 'delivered', 'paid']);
    const no = answers[2]!.body.order.no as string;
    expect(answers[2]!.body.order.keys).toEqual([]);
    const [decision] = await t.shop.db.knex('risk_decisions').where('outcome', 'hold').orderBy('id', 'desc');
    expect(decision).toMatchObject({ score: 80, signals: 'no-device,velocity' });

    expect((await t.client().get('/plugins/risk/review')).headers.get('location')).toMatch(/^\/login\?next=/);
    const u = await t.createUser();
    expect((await (await t.client().login(u.email, u.password)).get('/plugins/risk/review')).status).toBe(403);
    const admin = await adminClient();
    const page = await admin.get('/plugins/risk/review');
    expect(page.status).toBe(200);
    expect(page.text).toContain(no);
    expect(page.text).toContain(`risk: risk decision #${decision.id}: score 80 (no-device, velocity)`);

    // Without the page's token the form is refused; with it, the order is approved once.
    expect((await admin.post(`/plugins/risk/review/${no}/approve`, new URLSearchParams({ _csrf: 'forged' }))).status).toBe(403);
    const csrf = await admin.csrf('/plugins/risk/review');
    const approved = await admin.post(`/plugins/risk/review/${no}/approve`, new URLSearchParams({ _csrf: csrf }));
    expect(approved.headers.get('location')).toBe(`/plugins/risk/review?done=approved&ok=1&no=${no}`);
    const again = await admin.post(`/plugins/risk/review/${no}/approve`, new URLSearchParams({ _csrf: csrf }));
    expect(again.headers.get('location')).toBe(`/plugins/risk/review?done=not_held&ok=0&no=${no}`);
    expect((await admin.get(again.headers.get('location')!)).text).toContain(`订单 ${no} 不在审核中`);
    await t.shop.delivery.worker.runDue();
    const order = (await script.get(`/api/store/orders/${no}`)).body.order;
    expect(order.status).toBe('delivered');
    expect(order.keys).toHaveLength(1);
    expect((await admin.get('/plugins/risk/review')).text).not.toContain(no);
  });

  it('rejects through the JSON API with a reason the buyer reads, refunding the order', async () => {
    const { script, answers } = await heldOrders(3);
    const no = answers[2]!.body.order.no as string;
    const admin = await adminClient();
    expect((await admin.get('/plugins/risk/held')).body.orders.map((o: { no: string }) => o.no)).toContain(no);
    expect((await admin.post(`/plugins/risk/held/${no}/reject`, new URLSearchParams({ reason: 'x' }))).status).toBe(415);
    expect((await admin.post(`/plugins/risk/held/${no}/reject`, { reason: '' })).body.error).toEqual({ code: 'validation_failed', fields: { reason: 'field.required' } });
    expect((await admin.post(`/plugins/risk/held/${no}/reject`, { reason: 'failed review' })).status).toBe(200);
    expect((await admin.post(`/plugins/risk/held/${no}/approve`, {})).status).toBe(409);
    await t.shop.delivery.worker.runDue();
    expect((await script.get(`/api/store/orders/${no}`)).body.order).toMatchObject({ status: 'refunded', reason: 'failed review', keys: [] });
    expect((await t.client().post(`/plugins/risk/held/${no}/approve`, {})).status).toBe(401);
  });
});
