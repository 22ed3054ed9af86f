import { setupPlugin } from '@cardshop/core/testing';
import type { KycProvider } from '@cardshop/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kycCn, { type KycCnSettingsInput } from './index.js';
import { startFakeKyc, type FakeKyc } from './testing/fake-kyc.js';

const ZHANG = { name: '张三', idNumber: '11010519491231002X', phone: '13800138000' };
const APPCODE = 'fake-appcode-0123456789';
const SECRET = 'fake-secret-abcdefghijklmnop';

async function providerOf(settings: KycCnSettingsInput): Promise<KycProvider> {
  const { kycProviders } = await setupPlugin(kycCn, settings);
  expect(kycProviders).toHaveLength(1);
  return kycProviders[0]!;
}

const ask = (p: KycProvider, person: { name: string; idNumber: string; phone?: string }) => p.verify({ requestId: 'kyc-1-1', userId: 1, ...person });

describe('the kyc-cn provider against a fake verification API', () => {
  let appcode: FakeKyc;
  let md5: FakeKyc;
  let hmac: FakeKyc;
  beforeAll(async () => {
    appcode = await startFakeKyc({ people: [ZHANG], appCode: APPCODE });
    md5 = await startFakeKyc({ people: [ZHANG], auth: 'md5', appSecret: SECRET });
    hmac = await startFakeKyc({ people: [ZHANG], auth: 'hmac-sha256', appSecret: SECRET });
  });
  afterAll(async () => {
    await Promise.all([appcode, md5, hmac].map((f) => f?.close()));
  });

  it('verifies, rejects a mismatch and a number with no record, with an AppCode header', async () => {
    const p = await providerOf({ apiUrl: appcode.url, appCode: APPCODE });
    expect(await ask(p, ZHANG)).toEqual({ status: 'verified', reference: 'kyc-1-1' });
    expect(await ask(p, { ...ZHANG, name: '李四' })).toMatchObject({ status: 'rejected', reason: 'mismatch', detail: '成功' });
    expect(await ask(p, { name: '张三', idNumber: '110105194912310029' })).toMatchObject({ status: 'rejected', reason: 'no_record' });
    const sent = appcode.requests.at(-1)!;
    expect(sent.method).toBe('GET');
    expect(sent.params).toEqual({ name: '张三', idcard: '110105194912310029' });
  });

  it.each(['get', 'form', 'json'] as const)('signs with MD5 and with HMAC-SHA256, sent as %s', async (method) => {
    for (const [fake, auth] of [[md5, 'md5'], [hmac, 'hmac-sha256']] as const) {
      const p = await providerOf({ apiUrl: fake.url, auth, appId: 'app-7', appSecret: SECRET, method });
      expect(await ask(p, ZHANG)).toMatchObject({ status: 'verified' });
      expect(await ask(p, { ...ZHANG, phone: '13900000000' })).toMatchObject({ status: 'rejected', reason: 'mismatch' });
      const sent = fake.requests.at(-1)!;
      expect(sent.method).toBe(method === 'get' ? 'GET' : 'POST');
      expect(sent.params).toMatchObject({ appid: 'app-7', name: '张三', idcard: ZHANG.idNumber, mobile: '13900000000' });
      expect(sent.params.timestamp).toMatch(/^\d{10}$/);
      expect(sent.params.nonce).toMatch(/^[0-9a-f]{24}$/);
    }
  });

  it('is unavailable, never a rejection, when the API cannot answer properly', async () => {
    const wrongSecret = await providerOf({ apiUrl: md5.url, auth: 'md5', appSecret: 'not-the-secret' });
    expect(await ask(wrongSecret, ZHANG)).toEqual({ status: 'unavailable', detail: '签名错误' });
    const wrongCode = await providerOf({ apiUrl: appcode.url, appCode: 'wrong' });
    expect(await ask(wrongCode, ZHANG)).toEqual({ status: 'unavailable', detail: expect.stringContaining('HTTP 403') });

    const p = await providerOf({ apiUrl: appcode.url, appCode: APPCODE, timeoutMs: 1000 });
    appcode.outOfCredit = true;
    expect(await ask(p, ZHANG)).toEqual({ status: 'unavailable', detail: '余额不足' });
    appcode.outOfCredit = false;
    appcode.failWith = 502;
    expect(await ask(p, ZHANG)).toMatchObject({ status: 'unavailable', detail: expect.stringContaining('HTTP 502') });
    appcode.failWith = null;
    appcode.delayMs = 1500;
    expect(await ask(p, ZHANG)).toMatchObject({ status: 'unavailable', detail: expect.stringContaining('no answer within 1000 ms') });
    appcode.delayMs = 0;
    const closed = await providerOf({ apiUrl: 'http://127.0.0.1:9/idcard', appCode: APPCODE });
    expect(await ask(closed, ZHANG)).toMatchObject({ status: 'unavailable', detail: expect.stringContaining('cannot reach it') });
  });

  it('reads other answer formats from settings', async () => {
    // An API answering { status: "01" } for a match and "02" for a mismatch.
    const p = await providerOf({ apiUrl: appcode.url, appCode: APPCODE, resultPath: 'result.description', verifiedValues: ['一致'], mismatchValues: ['不一致'], noRecordValues: [] });
    expect(await ask(p, ZHANG)).toMatchObject({ status: 'verified' });
    expect(await ask(p, { ...ZHANG, name: '李四' })).toMatchObject({ status: 'rejected', reason: 'mismatch' });
    expect(await ask(p, { name: '张三', idNumber: '110105194912310029' })).toMatchObject({ status: 'unavailable' });
  });

  it('checks locally before any call', async () => {
    const p = await providerOf({ apiUrl: appcode.url, appCode: APPCODE, requirePhone: true });
    expect(p.check!({ name: '张三', idNumber: '110105194912310021' })).toEqual({ idNumber: 'checksum', phone: 'format' });
    expect(p.check!({ name: '张三', idNumber: ZHANG.idNumber, phone: '12345' })).toEqual({ phone: 'format' });
    expect(p.check!(ZHANG)).toEqual({});
    const optional = await providerOf({ apiUrl: appcode.url, appCode: APPCODE });
    expect(optional.check!({ name: '张三', idNumber: ZHANG.idNumber })).toEqual({});
  });

  it('refuses settings that cannot work, naming the key', async () => {
    await expect(setupPlugin(kycCn, { apiUrl: appcode.url })).rejects.toThrow(/appCode[\s\S]*required with auth/);
    await expect(setupPlugin(kycCn, { apiUrl: appcode.url, auth: 'md5' })).rejects.toThrow(/appSecret/);
    await expect(setupPlugin(kycCn, { apiUrl: 'ftp://x', appCode: APPCODE })).rejects.toThrow(/apiUrl/);
  });
});
