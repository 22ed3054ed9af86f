import { CORE_VERSION, definePlugin, type KycVerifyInput } from '@cardshop/core';
import { dummyPayments, startTestShop, TEST_DIALECTS, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ID = '11010519491231002X';

/**
 * A KYC provider that verifies exactly one person (张三 / ID), refuses IDs that do not start with a
 * digit without asking anyone, and gates top-ups of ¥100 and more on a verified status, as a KYC
 * plugin would.
 */
function testKyc() {
  const calls: KycVerifyInput[] = [];
  const plugin = definePlugin({
    name: 'test-kyc',
    version: '1.0.0',
    core: `^${CORE_VERSION}`,
    setup(ctx) {
      ctx.kycProvider({
        id: 'test-kyc',
        label: { 'zh-CN': '测试', en: 'Test' },
        check: ({ idNumber }) => (/^\d/.test(idNumber) ? undefined : { idNumber: 'checksum' }),
        async verify(input) {
          calls.push(input);
          if (input.name === 'Down') return { status: 'unavailable', detail: 'out of credit' };
          return input.name === '张三' && input.idNumber === ID ? { status: 'verified', reference: `ref-${calls.length}` } : { status: 'rejected', reason: 'mismatch' };
        },
      });
      ctx.veto('before.topup', async ({ buyer, amount }) => {
        if (amount < 10_000 || (await ctx.kyc.status(buyer.id)).status === 'verified') return undefined;
        return { 'zh-CN': '请先完成实名认证', en: 'Verify your identity first' };
      });
    },
  });
  return { plugin, calls };
}

describe.each(TEST_DIALECTS)('real-name verification in the core (%s)', (dialect) => {
  let t: TestShop;
  const kyc = testKyc();

  beforeAll(async () => {
    t = await startTestShop({ dialect, config: { plugins: [dummyPayments(), kyc.plugin()] } });
  });
  afterAll(() => t?.close());

  const login = async () => {
    const u = await t.createUser();
    return { user: u, client: await t.client().login(u.email, u.password) };
  };
  const row = (userId: number) => t.shop.db.knex('user_kyc').where('user_id', userId).first();

  it('refuses bad input naming the field, writing nothing and asking no provider', async () => {
    const { user, client } = await login();
    const before = kyc.calls.length;
    const bad = await client.post('/api/store/kyc', { name: '张三', idNumber: 'X1234' }, { 'accept-language': 'en' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.fields).toEqual({ idNumber: 'The check digit of this ID number is wrong; please check it' });
    const empty = await client.post('/api/store/kyc', { name: ' ', idNumber: '' });
    expect(Object.keys(empty.body.error.fields).sort()).toEqual(['idNumber', 'name']);
    expect(await row(user.id)).toBeUndefined();
    expect(kyc.calls.length).toBe(before);
    expect((await t.client().post('/api/store/kyc', { name: '张三', idNumber: ID })).status).toBe(401);
  });

  it('records a rejection, then a verification, masked, with the ID number sealed', async () => {
    const { user, client } = await login();
    expect((await client.get('/api/store/kyc')).body).toEqual({
      offered: true,
      kyc: { userId: user.id, status: 'none', name: null, idNumber: null, phone: null, provider: null, reason: null, verifiedAt: null },
    });
    const rejected = await client.post('/api/store/kyc', { name: '李四', idNumber: ID.toLowerCase(), phone: '138 0000 1234' });
    expect(rejected.status).toBe(200);
    expect(rejected.body.kyc).toMatchObject({ status: 'rejected', reason: 'mismatch', name: '*四', idNumber: '1*************002X', phone: '138****1234' });
    expect(kyc.calls.at(-1)).toMatchObject({ userId: user.id, name: '李四', idNumber: ID, phone: '13800001234' });

    const verified = await client.post('/api/store/kyc', { name: '张三', idNumber: ID });
    expect(verified.body.kyc).toMatchObject({ status: 'verified', reason: null, name: '*三', phone: null, provider: 'test-kyc' });
    expect(verified.body.kyc.verifiedAt).toBeGreaterThan(0);
    expect(verified.body.kyc).not.toHaveProperty('fingerprint');

    const stored = await row(user.id);
    expect(JSON.stringify(stored)).not.toContain(ID.slice(1, 14));
    expect(stored.id_fingerprint).toMatch(/^[0-9a-f]{32}$/);
    expect((await client.post('/api/store/kyc', { name: '张三', idNumber: ID })).body.error.code).toBe('kyc_verified');
  });

  it('counts attempts against a daily limit, also when they race', async () => {
    const { user, client } = await login();
    const before = kyc.calls.length;
    const answers = await Promise.all(Array.from({ length: 12 }, () => client.post('/api/store/kyc', { name: '王五', idNumber: ID })));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(5);
    expect(answers.filter((a) => a.status === 429).map((a) => a.body.error.code)).toEqual(Array(7).fill('kyc_attempts'));
    expect(kyc.calls.length - before).toBe(5);
    expect((await row(user.id)).attempts).toBe(5);
  });

  it('says so when the provider cannot answer, recording no outcome', async () => {
    const { user, client } = await login();
    const r = await client.post('/api/store/kyc', { name: 'Down', idNumber: ID }, { 'accept-language': 'en' });
    expect(r.status).toBe(503);
    expect(r.body.error).toEqual({ code: 'kyc_unavailable', message: 'The identity verification service is unavailable; try again later' });
    expect((await row(user.id)).status).toBe('none');
  });

  it('gates a large top-up on the status through a plugin veto, in the buyer\'s language', async () => {
    const { client } = await login();
    expect((await client.post('/api/store/wallet/topup', { amount: 5_000, payment: 'dummy' })).status).toBe(201);
    const refused = await client.post('/api/store/wallet/topup', { amount: 10_000, payment: 'dummy' }, { 'accept-language': 'en' });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toEqual({ code: 'vetoed', message: 'Refused: Verify your identity first' });
    expect((await client.post('/api/store/wallet/topup', { amount: 10_000, payment: 'dummy' })).body.error.message).toBe('该操作被拒绝：请先完成实名认证');
    await client.post('/api/store/kyc', { name: '张三', idNumber: ID });
    expect((await client.post('/api/store/wallet/topup', { amount: 10_000, payment: 'dummy' })).status).toBe(201);
  });

  it('reveals the ID number to an admin only, writing an audit row each time', async () => {
    const { user, client } = await login();
    await client.post('/api/store/kyc', { name: '张三', idNumber: ID });
    expect((await client.post(`/api/admin/users/${user.id}/kyc/reveal`, { reason: 'curious' })).status).toBe(403);

    const a = await t.createUser({ role: 'admin' });
    const admin = await t.client().login(a.email, a.password);
    expect((await admin.get(`/api/admin/users/${user.id}/kyc`)).body.kyc).toMatchObject({ status: 'verified', idNumber: '1*************002X' });
    expect((await admin.post(`/api/admin/users/${user.id}/kyc/reveal`, {})).status).toBe(400);
    const audits = () => t.shop.db.knex('audit_log').where({ action: 'kyc.reveal', target_id: String(user.id) });
    expect(await audits()).toHaveLength(0);

    const revealed = await admin.post(`/api/admin/users/${user.id}/kyc/reveal`, { reason: 'police request #42' });
    expect(revealed.status).toBe(200);
    expect(revealed.body).toEqual({ idNumber: ID });
    expect(revealed.headers.get('cache-control')).toBe('no-store');
    const [entry] = await audits();
    expect(entry).toMatchObject({ actor_id: a.id, target_type: 'user' });
    expect(JSON.parse(entry.after)).toEqual({ idNumber: '1*************002X', reason: 'police request #42' });
    expect(entry.after).not.toContain(ID);
    expect((await admin.post(`/api/admin/users/${a.id}/kyc/reveal`, { reason: 'x' })).status).toBe(404);
  });

  it('has a page to submit and see the status', async () => {
    const { client } = await login();
    const page = await client.get('/account/kyc');
    expect(page.status).toBe(200);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
    const bad = await client.post('/account/kyc', new URLSearchParams({ _csrf: csrf, name: '张三', idNumber: 'ABC' }));
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('证件号码校验位不正确');
    expect(bad.text).not.toContain('value="ABC"');
    const ok = await client.post('/account/kyc', new URLSearchParams({ _csrf: csrf, name: '张三', idNumber: ID }));
    expect(ok.status).toBe(303);
    const done = await client.get('/account/kyc');
    expect(done.text).toContain('你已完成实名认证');
    expect(done.text).toContain('1*************002X');
    expect(done.text).not.toContain(ID);
  });
});

describe('a shop without a KYC plugin', () => {
  it('says verification is not offered', async () => {
    const t = await startTestShop();
    try {
      const u = await t.createUser();
      const client = await t.client().login(u.email, u.password);
      expect((await client.get('/api/store/kyc')).body.offered).toBe(false);
      expect((await client.post('/api/store/kyc', { name: '张三', idNumber: ID })).body.error.code).toBe('kyc_not_offered');
      expect((await client.get('/account/kyc')).text).toContain('本店暂未开通实名认证');
    } finally {
      await t.close();
    }
  });
});
