import kycCn from '@cardshop/plugin-kyc-cn';
import { startFakeKyc, type FakeKyc } from '../plugins/kyc-cn/src/testing/fake-kyc.js';
import { dummyPayments, startTestShop, TEST_DIALECTS, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ZHANG = { name: '张三', idNumber: '11010519491231002X' };
const SECRET = 'kyc-cn-test-secret-0123456789';

describe.each(TEST_DIALECTS)('the kyc-cn plugin in a shop (%s)', (dialect) => {
  let fake: FakeKyc;
  let t: TestShop;
  beforeAll(async () => {
    fake = await startFakeKyc({ people: [ZHANG], auth: 'hmac-sha256', appSecret: SECRET });
    const plugin = kycCn({ apiUrl: fake.url, auth: 'hmac-sha256', appId: 'shop-1', appSecret: SECRET, method: 'form', requireAboveTopup: 100_000 });
    t = await startTestShop({ dialect, config: { plugins: [dummyPayments(), plugin] } });
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  const login = async () => {
    const u = await t.createUser();
    return { user: u, client: await t.client().login(u.email, u.password) };
  };

  it('checks the ID number locally first, then asks the API', async () => {
    const { client } = await login();
    const calls = fake.requests.length;
    const bad = await client.post('/api/store/kyc', { name: '张三', idNumber: '110105194912310021' }, { 'accept-language': 'en' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.fields).toEqual({ idNumber: 'The check digit of this ID number is wrong; please check it' });
    const unborn = await client.post('/api/store/kyc', { name: '张三', idNumber: '11010520991231002X' });
    expect(unborn.body.error.fields.idNumber).toBe('证件号码中的出生日期无效');
    expect(fake.requests.length).toBe(calls);

    const mismatch = await client.post('/api/store/kyc', { name: '李四', idNumber: ZHANG.idNumber });
    expect(mismatch.body.kyc).toMatchObject({ status: 'rejected', reason: 'mismatch', provider: 'kyc-cn' });
    const ok = await client.post('/api/store/kyc', { ...ZHANG, idNumber: '110105 19491231 002x' });
    expect(ok.body.kyc).toMatchObject({ status: 'verified', idNumber: '1*************002X' });
    expect(fake.requests.at(-1)!.params).toMatchObject({ appid: 'shop-1', name: '张三', idcard: ZHANG.idNumber });
  });

  it('holds back agents, sub-shops, withdrawals and large top-ups until the user is verified', async () => {
    const { user, client } = await login();
    const refused = await client.post('/api/store/agent/join', {}, { 'accept-language': 'en' });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toEqual({ code: 'vetoed', message: 'Refused: Verify your identity first (My account → Identity verification)' });
    const withdraw = t.shop.hooks.check('before.withdraw', { user, amount: 1_000 });
    await expect(withdraw).rejects.toMatchObject({ code: 'vetoed', status: 403 });
    await expect(t.shop.hooks.check('before.site.open', { user })).rejects.toMatchObject({ code: 'vetoed' });
    expect((await client.post('/api/store/wallet/topup', { amount: 99_999, payment: 'dummy' })).status).toBe(201);
    const topup = await client.post('/api/store/wallet/topup', { amount: 100_000, payment: 'dummy' });
    expect(topup.body.error.message).toBe('该操作被拒绝：单笔充值 ¥1,000.00 及以上需先完成实名认证');

    await client.post('/api/store/kyc', ZHANG);
    expect((await client.post('/api/store/agent/join', {})).status).toBeLessThan(300);
    await t.shop.hooks.check('before.withdraw', { user, amount: 1_000 });
    await t.shop.hooks.check('before.site.open', { user });
    expect((await client.post('/api/store/wallet/topup', { amount: 100_000, payment: 'dummy' })).status).toBe(201);
  });

  it('counts a provider outage against nobody', async () => {
    const { user, client } = await login();
    fake.outOfCredit = true;
    try {
      const r = await client.post('/api/store/kyc', ZHANG);
      expect(r.status).toBe(503);
      expect((await t.shop.db.knex('user_kyc').where('user_id', user.id).first()).status).toBe('none');
    } finally {
      fake.outOfCredit = false;
    }
    expect((await client.post('/api/store/kyc', ZHANG)).body.kyc.status).toBe('verified');
  });
});
