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
      risk({ ipMode: 'dry-run', ipMaxOrders: 3, maxTopupAmount: 50_000, blockIdNumbers: [ZHANG.idNumber.toLowerCase()], blockContacts: ['Banned@Example.com'] }),
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
