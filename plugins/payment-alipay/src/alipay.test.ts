import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { inspect } from 'node:util';
import type { NotifyRequest, PaymentGateway } from '@cardshop/core';
import { recordingLogger, setupPlugin } from '@cardshop/core/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import alipayPlugin, { AlipayError, ALIPAY_GATEWAY, beijingTimestamp, type AlipaySettings, type AlipaySettingsInput } from './index.js';
import { toAlipayNo } from './gateway.js';
import { startFakeAlipay, type FakeAlipay } from './testing/fake-alipay.js';

const APP_ID = '2021000123456789';
const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048 });
/** The app's key pair (its public key is what the merchant uploads to Alipay). */
const app = rsa();
/** "Alipay's" key pair: the fake signs with the private key; the shop is configured with the public one. */
const alipayKeys = rsa();
const stranger = rsa();

const pem = (k: KeyObject, type: 'pkcs1' | 'pkcs8' | 'spki') => k.export({ type, format: 'pem' }).toString();
const bare = (text: string) => text.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
const APP_PRIVATE_PKCS1 = pem(app.privateKey, 'pkcs1');
const ALIPAY_PUBLIC = pem(alipayKeys.publicKey, 'spki');

let fake: FakeAlipay;
const { log, logged } = recordingLogger();

/** Runs the plugin's setup against a minimal context, the way the shop's plugin host does. */
async function configure(input: Partial<AlipaySettingsInput> = {}): Promise<{ gateways: PaymentGateway[]; settings: AlipaySettings }> {
  const input_ = {
    appId: APP_ID,
    privateKey: APP_PRIVATE_PKCS1,
    alipayPublicKey: ALIPAY_PUBLIC,
    gateway: fake.gateway,
    timeoutMs: 1000,
    ...input,
  };
  return setupPlugin(alipayPlugin, input_, log);
}

async function gateway(input: Partial<AlipaySettingsInput> = {}): Promise<PaymentGateway> {
  const { gateways } = await configure(input);
  expect(gateways).toHaveLength(1);
  return gateways[0]!;
}

/** The notify as the shop's router hands it over: the raw form body and its parsed fields. */
function formNotify(params: Record<string, string>, method = 'POST'): NotifyRequest {
  const rawBody = new URLSearchParams(params).toString();
  return {
    method,
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    query: {},
    rawBody,
    body: Object.fromEntries(new URLSearchParams(rawBody)),
  };
}

function jsonNotify(params: Record<string, string>): NotifyRequest {
  const rawBody = JSON.stringify(params);
  return { method: 'POST', headers: { 'content-type': 'application/json' }, query: {}, rawBody, body: JSON.parse(rawBody) as Record<string, unknown> };
}

const ORDER = '261202-7KQ4M9XD2P';
/** The same order as Alipay knows it (out_trade_no): what the fake stores, echoes and notifies. */
const ALIPAY_NO = toAlipayNo(ORDER);
const input = {
  orderNo: ORDER,
  amount: 1234,
  currency: 'CNY',
  subject: 'Steam 钱包充值卡 - ¥100 面值 ×1',
  notifyUrl: 'https://shop.example/pay/alipay/notify',
  returnUrl: `https://shop.example/pay/alipay/return?no=${ORDER}`,
};
const SUCCESS = { status: 200, type: 'text/plain', body: 'success' };
const FAILURE = { status: 200, type: 'text/plain', body: 'failure' };

/** A trade the buyer paid, as the shop made it. */
async function paidTrade(gw: PaymentGateway, orderNo = ORDER, amount = 1234): Promise<string> {
  const action = await gw.createPayment({ ...input, orderNo, amount });
  // Page and WAP pay: the buyer's browser opens the link.
  if (action.kind === 'redirect') expect((await fetch(action.url)).status).toBe(200);
  return fake.pay(toAlipayNo(orderNo)).tradeNo;
}

async function rejection(p: Promise<unknown>): Promise<AlipayError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(AlipayError);
  return e as AlipayError;
}

beforeAll(async () => {
  fake = await startFakeAlipay({ appId: APP_ID, appPublicKey: app.publicKey, alipayPrivateKey: alipayKeys.privateKey, sellerId: '2088102177846880' });
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.reset();
  logged.length = 0;
});

describe('settings and setup', () => {
  it('registers one gateway with defaults: id alipay, mode auto, the production gateway, 10 s timeout', async () => {
    const settings = alipayPlugin.definition.settings!.parse({ appId: APP_ID, privateKey: APP_PRIVATE_PKCS1, alipayPublicKey: ALIPAY_PUBLIC });
    expect(settings).toMatchObject({ appId: APP_ID, gateway: ALIPAY_GATEWAY, mode: 'auto', id: 'alipay', timeoutMs: 10_000, label: { 'zh-CN': '支付宝', en: 'Alipay' } });
    expect(alipayPlugin.definition.name).toBe('alipay');
    expect(alipayPlugin.definition.core).toBe('>=0.1.0 <1.0.0');

    const { gateways } = await configure({ id: 'alipay-qr', label: '支付宝扫码', mode: 'qr' });
    expect(gateways.map((g) => g.id)).toEqual(['alipay-qr']);
    expect(gateways[0]!.label).toEqual({ 'zh-CN': '支付宝扫码', en: '支付宝扫码' });
    expect(logged.some((l) => l.level === 'info' && l.msg.includes(APP_ID) && l.msg.includes('mode qr'))).toBe(true);
  });

  it('reads the app private key as PKCS#1 or PKCS#8, PEM or bare base64, with literal \\n, and the Alipay key as PEM or base64', () => {
    const schema = alipayPlugin.definition.settings!;
    const variants = [
      APP_PRIVATE_PKCS1,
      pem(app.privateKey, 'pkcs8'),
      bare(APP_PRIVATE_PKCS1),
      bare(pem(app.privateKey, 'pkcs8')),
      APP_PRIVATE_PKCS1.replace(/\n/g, '\\n'),
    ];
    const keys = variants.map((privateKey) => schema.parse({ appId: APP_ID, privateKey, alipayPublicKey: bare(ALIPAY_PUBLIC) }));
    for (const s of keys) {
      expect(s.privateKey.reveal()).toBe(pem(app.privateKey, 'pkcs8'));
      expect(s.alipayPublicKey).toBe(ALIPAY_PUBLIC);
    }
    expect(schema.parse({ appId: Number(APP_ID), privateKey: APP_PRIVATE_PKCS1, alipayPublicKey: pem(alipayKeys.publicKey, 'pkcs1') }).appId).toBe(APP_ID);
  });

  it('refuses swapped, weak, foreign and malformed keys, insecure gateways and bad ids', () => {
    const schema = alipayPlugin.definition.settings!;
    const base = { appId: APP_ID, privateKey: APP_PRIVATE_PKCS1, alipayPublicKey: ALIPAY_PUBLIC };
    const message = (over: Record<string, unknown>) => {
      const r = schema.safeParse({ ...base, ...over });
      expect(r.success, JSON.stringify(Object.keys(over))).toBe(false);
      return r.error!.issues.map((i) => i.message).join('; ');
    };
    // The app's own public key where Alipay's belongs: the most common mistake.
    expect(message({ alipayPublicKey: pem(app.publicKey, 'spki') })).toMatch(/应用公钥/);
    expect(message({ privateKey: ALIPAY_PUBLIC })).toMatch(/public key/);
    expect(message({ alipayPublicKey: APP_PRIVATE_PKCS1 })).toMatch(/private key/);
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(message({ privateKey: pem(weak.privateKey, 'pkcs1') })).toMatch(/1024-bit/);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(message({ privateKey: ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() })).toMatch(/ec key/);
    expect(message({ alipayPublicKey: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----' })).toMatch(/公钥证书模式/);
    expect(message({ privateKey: 'not a key' })).toMatch(/PEM/);
    expect(message({ privateKey: 'QUJD' })).toMatch(/PKCS/);
    expect(message({ gateway: 'http://openapi.alipay.com/gateway.do' })).toMatch(/https/);
    expect(message({ gateway: 'https://user:pw@openapi.alipay.com/gateway.do' })).toMatch(/password/);
    expect(message({ appId: 'app-1' })).toMatch(/APPID/);
    expect(message({ id: 'wallet' })).toMatch(/reserved/);
    expect(message({ id: 'Alipay' })).toMatch(/lowercase/);
    expect(message({ sellerId: '1234' })).toMatch(/2088/);
    expect(message({ mode: 'app' })).toBeTruthy();
    expect(schema.safeParse({ appId: APP_ID }).success).toBe(false);

    expect(schema.parse({ ...base, gateway: 'https://openapi-sandbox.dl.alipaydev.com' }).gateway).toBe('https://openapi-sandbox.dl.alipaydev.com/gateway.do');
  });

  it('never shows the private key when the settings are printed or serialised', () => {
    const s = alipayPlugin.definition.settings!.parse({ appId: APP_ID, privateKey: APP_PRIVATE_PKCS1, alipayPublicKey: ALIPAY_PUBLIC });
    const body = bare(pem(app.privateKey, 'pkcs8')).slice(10, 60);
    expect(JSON.stringify(s)).not.toContain(body);
    expect(inspect(s, { depth: 5 })).not.toContain(body);
    expect(String(s.privateKey)).toBe('[secret]');
  });
});

describe('createPayment', () => {
  it('page pay: a signed gateway.do link in yuan, which the fake Alipay accepts as the cashier', async () => {
    const gw = await gateway({ mode: 'page' });
    const action = await gw.createPayment(input);
    expect(action.kind).toBe('redirect');
    const url = new URL((action as { url: string }).url);
    expect(`${url.origin}${url.pathname}`).toBe(fake.gateway);
    expect(fake.requests).toHaveLength(0); // nothing is sent until the buyer opens it

    const page = await fetch(url);
    expect(page.status).toBe(200);
    const req = fake.requests[0]!;
    expect(req.httpMethod).toBe('GET');
    expect(req.signatureValid).toBe(true);
    expect(req.params).toMatchObject({
      method: 'alipay.trade.page.pay',
      app_id: APP_ID,
      charset: 'utf-8',
      sign_type: 'RSA2',
      version: '1.0',
      notify_url: input.notifyUrl,
      return_url: input.returnUrl,
    });
    expect(req.biz).toEqual({ out_trade_no: ALIPAY_NO, total_amount: '12.34', subject: input.subject, product_code: 'FAST_INSTANT_TRADE_PAY' });
    expect(fake.trades.get(ALIPAY_NO)).toMatchObject({ total: 1234, via: 'alipay.trade.page.pay', exists: false });
  });

  it('WAP pay for a mobile buyer in mode auto (and always in mode wap), page pay otherwise', async () => {
    const auto = await gateway();
    const mobile = (await auto.createPayment({ ...input, device: 'mobile' })) as { url: string };
    const desktop = (await auto.createPayment({ ...input, device: 'desktop' })) as { url: string };
    const unknown = (await auto.createPayment(input)) as { url: string };
    expect(new URL(mobile.url).searchParams.get('method')).toBe('alipay.trade.wap.pay');
    expect(new URL(desktop.url).searchParams.get('method')).toBe('alipay.trade.page.pay');
    expect(new URL(unknown.url).searchParams.get('method')).toBe('alipay.trade.page.pay');
    expect(JSON.parse(new URL(mobile.url).searchParams.get('biz_content')!)).toMatchObject({ product_code: 'QUICK_WAP_WAY', quit_url: input.returnUrl, total_amount: '12.34' });

    const wap = await gateway({ mode: 'wap', expireMinutes: 30 });
    const link = (await wap.createPayment({ ...input, device: 'desktop' })) as { url: string };
    expect((await fetch(link.url)).status).toBe(200);
    expect(fake.requests[0]!).toMatchObject({ signatureValid: true, params: { method: 'alipay.trade.wap.pay' } });
    expect(fake.requests[0]!.biz).toMatchObject({ timeout_express: '30m' });
  });

  it('QR mode: precreate returns the qr_code, with a valid request signature; asking again gives the same code', async () => {
    const gw = await gateway({ mode: 'qr' });
    const action = await gw.createPayment(input);
    expect(action).toEqual({ kind: 'qr', content: fake.trades.get(ALIPAY_NO)!.qrCode });
    expect(action).toMatchObject({ content: expect.stringMatching(/^https:\/\/qr\.alipay\.com\//) });
    const req = fake.requests[0]!;
    expect(req).toMatchObject({ httpMethod: 'POST', method: 'alipay.trade.precreate', signatureValid: true });
    expect(req.contentType).toMatch(/x-www-form-urlencoded/);
    expect(req.params['notify_url']).toBe(input.notifyUrl);
    expect(req.params['return_url']).toBeUndefined();
    expect(req.biz).toEqual({ out_trade_no: ALIPAY_NO, total_amount: '12.34', subject: input.subject });
    expect(await gw.createPayment(input)).toEqual(action);
    expect(fake.trades.size).toBe(1);
  });

  it('converts fen to yuan exactly and refuses what Alipay cannot take, before sending anything', async () => {
    const gw = await gateway({ mode: 'qr' });
    const cases: Array<[number, string]> = [[1, '0.01'], [10, '0.10'], [100, '1.00'], [1999999, '19999.99'], [10_000_000_000, '100000000.00'], [29, '0.29'], [57, '0.57']];
    for (const [i, [fen, yuan]] of cases.entries()) {
      await gw.createPayment({ ...input, orderNo: `O${i}`, amount: fen });
      expect(fake.requests.at(-1)!.biz['total_amount']).toBe(yuan);
    }
    const sent = fake.requests.length;
    for (const amount of [0, -1, 12.5, 0.1 + 0.2, 10_000_000_001, Number.NaN]) {
      await expect(gw.createPayment({ ...input, amount })).rejects.toThrow(/fen/);
    }
    await expect(gw.createPayment({ ...input, currency: 'USD' })).rejects.toThrow(/CNY/);
    await expect(gw.createPayment({ ...input, orderNo: 'O 1' })).rejects.toThrow(/out_trade_no/);
    await expect(gw.createPayment({ ...input, orderNo: 'O'.repeat(65) })).rejects.toThrow(/out_trade_no/);
    expect(fake.requests).toHaveLength(sent);
  });

  it('cleans the subject: no control characters or / = &, at most 256 characters', async () => {
    const gw = await gateway({ mode: 'qr' });
    await gw.createPayment({ ...input, subject: 'A/B=C&D\n\tE  ×1' });
    expect(fake.requests[0]!.biz['subject']).toBe('A B C D E ×1');
    await gw.createPayment({ ...input, orderNo: 'O2', subject: '卡'.repeat(300) });
    expect([...(fake.requests[1]!.biz['subject'] as string)]).toHaveLength(256);
    await gw.createPayment({ ...input, orderNo: 'O3', subject: '  ' });
    expect(fake.requests[2]!.biz['subject']).toBe('O3');
  });

  it('sends the timestamp in Beijing time, whatever the server zone', async () => {
    const gw = await gateway({ mode: 'qr' });
    await gw.createPayment(input);
    const ts = fake.requests[0]!.params['timestamp']!;
    expect(ts).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    const asUtc = Date.parse(`${ts.replace(' ', 'T')}+08:00`);
    expect(Math.abs(asUtc - Date.now())).toBeLessThan(60_000);
    expect(beijingTimestamp(Date.UTC(2026, 11, 1, 17, 30, 5))).toBe('2026-12-02 01:30:05');
  });

  it('passes Alipay refusals on, naming the sub_code', async () => {
    const gw = await gateway({ mode: 'qr' });
    await paidTrade(gw);
    const e = await rejection(gw.createPayment(input));
    expect(e.subCode).toBe('ACQ.TRADE_HAS_SUCCESS');
    expect(e.message).toMatch(/ACQ\.TRADE_HAS_SUCCESS 交易已被支付/);
    expect(e.kind).toBe('refused');
  });
});

describe('calls to Alipay: answer signatures, keys, timeouts', () => {
  it('refuses an answer whose signature does not verify, or that has none', async () => {
    const gw = await gateway({ mode: 'qr' });
    fake.tamperAnswers = true;
    expect((await rejection(gw.createPayment(input))).kind).toBe('signature');
    fake.tamperAnswers = false;
    fake.signAnswers = false;
    const unsigned = await rejection(gw.createPayment(input));
    expect(unsigned.kind).toBe('signature');
    expect(unsigned.message).toMatch(/no signature/);

    // Signed, but by a key that is not the configured Alipay public key.
    fake.signAnswers = true;
    const other = await gateway({ mode: 'qr', alipayPublicKey: pem(stranger.publicKey, 'spki') });
    const e = await rejection(other.query({ orderNo: ORDER }));
    expect(e.kind).toBe('signature');
    expect(e.message).toMatch(/alipayPublicKey/);
  });

  it('says what to check when Alipay refuses the app id or the request signature', async () => {
    const wrongApp = await gateway({ mode: 'qr', appId: '2021000999999999' });
    const e1 = await rejection(wrongApp.createPayment(input));
    expect(e1.message).toMatch(/appId \(2021000999999999\)/);

    const wrongKey = await gateway({ mode: 'qr', privateKey: pem(stranger.privateKey, 'pkcs8') });
    const e2 = await rejection(wrongKey.createPayment(input));
    expect(e2.subCode).toBe('isv.invalid-signature');
    expect(fake.requests.at(-1)!.signatureValid).toBe(false);
  });

  it('gives up after timeoutMs when Alipay is slow, and says so', async () => {
    const gw = await gateway({ mode: 'qr', timeoutMs: 1000 });
    fake.delayMs = 1600;
    const started = Date.now();
    const e = await rejection(gw.createPayment(input));
    expect(e.kind).toBe('timeout');
    expect(e.message).toMatch(/within 1000 ms/);
    expect(Date.now() - started).toBeLessThan(1500);
    const q = await rejection(gw.query({ orderNo: ORDER }));
    expect(q.kind).toBe('timeout');
  });

  it('reports an unreachable gateway as a network error', async () => {
    const closed = await startFakeAlipay({ appId: APP_ID, appPublicKey: app.publicKey, alipayPrivateKey: alipayKeys.privateKey });
    const gatewayUrl = closed.gateway;
    await closed.close();
    const gw = await gateway({ mode: 'qr', gateway: gatewayUrl });
    const e = await rejection(gw.query({ orderNo: ORDER }));
    expect(e.kind).toBe('network');
    expect(e.message).toMatch(/cannot reach/);
  });
});

describe('verifyNotify', () => {
  it('maps a signed TRADE_SUCCESS form notify to paid, in fen, with the trade number, and answers success', async () => {
    const gw = await gateway({ mode: 'qr' });
    const tradeNo = await paidTrade(gw);
    const requestsBefore = fake.requests.length;
    const result = await gw.verifyNotify(formNotify(fake.notify(ALIPAY_NO)));
    expect(result).toEqual({ action: 'paid', orderNo: ORDER, amount: 1234, tradeNo, reply: SUCCESS, failReply: FAILURE });
    expect(fake.requests).toHaveLength(requestsBefore); // verified offline, with the Alipay public key
  });

  it('accepts the same notify as JSON, or as an already-parsed body, and with empty fields Alipay did not sign', async () => {
    const gw = await gateway();
    await paidTrade(gw);
    const params = fake.notify(ALIPAY_NO);
    expect((await gw.verifyNotify(jsonNotify(params))).action).toBe('paid');
    expect((await gw.verifyNotify({ ...formNotify(params), rawBody: '' })).action).toBe('paid');
    // Alipay leaves empty values out of what it signs; one sent anyway must not break verification.
    expect((await gw.verifyNotify(formNotify({ ...params, body: '', passback_params: '' }))).action).toBe('paid');
  });

  it('refuses bad signatures: tampered, signed by another key, missing, garbled, or RSA (SHA-1)', async () => {
    const gw = await gateway();
    await paidTrade(gw);
    const good = fake.notify(ALIPAY_NO);
    const { sign: _sign, ...unsigned } = good;
    const cases: Array<Record<string, string>> = [
      { ...good, total_amount: '0.01' },
      { ...good, out_trade_no: 'O_OTHER' },
      { ...good, trade_status: 'TRADE_SUCCESS', extra: 'added' },
      fake.signNotify({ ...unsigned }, stranger.privateKey),
      unsigned,
      { ...good, sign: '' },
      { ...good, sign: 'garbage!!' },
      { ...good, sign: Buffer.alloc(256).toString('base64') },
      { ...good, sign_type: 'RSA' },
    ];
    for (const params of cases) {
      const result = await gw.verifyNotify(formNotify(params));
      expect(result.action, JSON.stringify(params).slice(0, 120)).toBe('invalid');
      expect(result.reply).toEqual(FAILURE);
    }
    expect((await gw.verifyNotify(formNotify(good))).action).toBe('paid');
  });

  it('refuses a correctly signed notify for another app id, or another seller when sellerId is set', async () => {
    const gw = await gateway();
    await paidTrade(gw);
    const otherApp = await gw.verifyNotify(formNotify(fake.notify(ALIPAY_NO, { app_id: '2021000999999999' })));
    expect(otherApp).toMatchObject({ action: 'invalid', reason: expect.stringMatching(/app 2021000999999999/) });
    const noApp = await gw.verifyNotify(formNotify(fake.notify(ALIPAY_NO, { app_id: undefined })));
    expect(noApp.action).toBe('invalid');

    const strict = await gateway({ sellerId: '2088102177846880' });
    expect((await strict.verifyNotify(formNotify(fake.notify(ALIPAY_NO)))).action).toBe('paid');
    expect((await strict.verifyNotify(formNotify(fake.notify(ALIPAY_NO, { seller_id: '2088000000000001' })))).action).toBe('invalid');
  });

  it('refuses an amount that is not an exact yuan string, even when signed', async () => {
    const gw = await gateway();
    await paidTrade(gw);
    for (const total_amount of ['12.345', '1e3', '-12.34', ' 12.34', '12,34', '0.00', '', '12.', '.5', '0x10', '１２.３４']) {
      const result = await gw.verifyNotify(formNotify(fake.notify(ALIPAY_NO, { total_amount })));
      expect(result.action, total_amount).toBe('invalid');
    }
    for (const [total_amount, fen] of [['12', 1200], ['12.3', 1230], ['0.01', 1], ['100000000.00', 10_000_000_000]] as const) {
      expect(await gw.verifyNotify(formNotify(fake.notify(ALIPAY_NO, { total_amount })))).toMatchObject({ action: 'paid', amount: fen });
    }
  });

  it('maps TRADE_CLOSED to failed, or to refunded after a full refund; TRADE_FINISHED to paid; the rest to ignored', async () => {
    const gw = await gateway({ mode: 'qr' });
    await gw.createPayment(input);
    fake.closeTrade(ALIPAY_NO);
    const tradeNo = fake.trades.get(ALIPAY_NO)!.tradeNo;
    expect(await gw.verifyNotify(formNotify(fake.notify(ALIPAY_NO)))).toEqual({ action: 'failed', orderNo: ORDER, tradeNo, reply: SUCCESS, failReply: FAILURE });

    const cases: Array<[Record<string, string | undefined>, Record<string, unknown>]> = [
      [{ trade_status: 'TRADE_FINISHED' }, { action: 'paid', amount: 1234, tradeNo }],
      [{ trade_status: 'TRADE_SUCCESS', refund_fee: '2.00', gmt_refund: '2026-12-02 10:00:00.123', out_biz_no: 'R1' }, { action: 'paid', amount: 1234 }],
      [{ trade_status: 'TRADE_CLOSED', refund_fee: '12.34', gmt_refund: '2026-12-02 10:00:00.123', out_biz_no: 'R1' }, { action: 'refunded', tradeNo }],
      [{ trade_status: 'TRADE_CLOSED', trade_no: undefined }, { action: 'failed' }],
      [{ trade_status: 'WAIT_BUYER_PAY' }, { action: 'ignored', orderNo: ORDER }],
      [{ trade_status: 'SOMETHING_NEW' }, { action: 'ignored', orderNo: ORDER }],
      [{ trade_status: undefined }, { action: 'ignored', orderNo: ORDER }],
      [{ notify_type: 'trade_settle_sync', trade_status: 'TRADE_SUCCESS' }, { action: 'ignored', orderNo: ORDER }],
    ];
    for (const [over, expected] of cases) {
      const result = await gw.verifyNotify(formNotify(fake.notify(ALIPAY_NO, over)));
      expect(result, JSON.stringify(over)).toMatchObject({ orderNo: ORDER, ...expected });
      expect(result.reply).toEqual(SUCCESS);
      if ('trade_no' in over) expect(result).not.toHaveProperty('tradeNo');
    }
  });

  it('gives the same result for the same notify delivered twice', async () => {
    const gw = await gateway({ mode: 'qr' });
    await paidTrade(gw);
    for (const params of [fake.notify(ALIPAY_NO), fake.notify(ALIPAY_NO, { trade_status: 'TRADE_CLOSED' }), fake.notify(ALIPAY_NO, { total_amount: '1e3' })]) {
      const first = await gw.verifyNotify(formNotify(params));
      const again = await gw.verifyNotify(formNotify(params));
      const asJson = await gw.verifyNotify(jsonNotify(params));
      expect(again).toEqual(first);
      expect(asJson).toEqual(first);
    }
  });

  it('refuses what is not a readable Alipay notify', async () => {
    const gw = await gateway();
    await paidTrade(gw);
    const params = fake.notify(ALIPAY_NO);
    const form = formNotify(params);
    const cases: NotifyRequest[] = [
      { ...form, method: 'GET' },
      { ...form, rawBody: `${form.rawBody}&out_trade_no=O2` },
      { ...form, rawBody: '{"a":', headers: { 'content-type': 'application/json' } },
      { ...form, rawBody: '[1,2]', headers: { 'content-type': 'application/json' } },
      { ...form, rawBody: JSON.stringify({ ...params, nested: { a: 1 } }), headers: { 'content-type': 'application/json' } },
      { ...form, rawBody: '', body: {} },
      formNotify(fake.notify(ALIPAY_NO, { out_trade_no: undefined })),
      formNotify(fake.notify(ALIPAY_NO, { trade_no: undefined })),
    ];
    for (const req of cases) {
      const result = await gw.verifyNotify(req);
      expect(result.action, req.rawBody.slice(0, 60)).toBe('invalid');
      expect(result.reply).toEqual(FAILURE);
    }
  });
});

describe('query', () => {
  it('follows a trade: unknown before the scan, pending, paid with the amount in fen, closed', async () => {
    const gw = await gateway({ mode: 'qr' });
    await gw.createPayment(input);
    expect(await gw.query({ orderNo: ORDER })).toEqual({ status: 'unknown' }); // ACQ.TRADE_NOT_EXIST
    const { tradeNo } = fake.scan(ALIPAY_NO);
    expect(await gw.query({ orderNo: ORDER })).toEqual({ status: 'pending', amount: 1234, tradeNo });
    fake.pay(ALIPAY_NO);
    expect(await gw.query({ orderNo: ORDER })).toEqual({ status: 'paid', amount: 1234, tradeNo });
    fake.trades.get(ALIPAY_NO)!.status = 'TRADE_FINISHED';
    expect(await gw.query({ orderNo: ORDER })).toEqual({ status: 'paid', amount: 1234, tradeNo });
    fake.closeTrade(ALIPAY_NO);
    expect(await gw.query({ orderNo: ORDER })).toEqual({ status: 'failed', amount: 1234, tradeNo });
    expect(await gw.query({ orderNo: 'NEVER-MADE' })).toEqual({ status: 'unknown' });

    const queries = fake.requests.filter((r) => r.method === 'alipay.trade.query');
    expect(queries).toHaveLength(6);
    for (const q of queries) expect(q).toMatchObject({ httpMethod: 'POST', signatureValid: true });
    expect(queries[0]!.biz).toEqual({ out_trade_no: ALIPAY_NO });
  });

  it('throws on Alipay errors, so the core keeps the order and asks later', async () => {
    const gw = await gateway({ mode: 'qr' });
    await paidTrade(gw);
    fake.failNext('alipay.trade.query', { code: '20000', msg: 'Service Currently Unavailable', sub_code: 'isp.unknow-error', sub_msg: '系统繁忙' });
    expect((await rejection(gw.query({ orderNo: ORDER }))).subCode).toBe('isp.unknow-error');
    fake.failNext('alipay.trade.query', { code: '40004', msg: 'Business Failed', sub_code: 'ACQ.INVALID_PARAMETER', sub_msg: '参数无效' });
    expect((await rejection(gw.query({ orderNo: ORDER }))).kind).toBe('refused');
    fake.tamperAnswers = true;
    expect((await rejection(gw.query({ orderNo: ORDER }))).kind).toBe('signature');
    fake.tamperAnswers = false;
    expect(await gw.query({ orderNo: ORDER })).toMatchObject({ status: 'paid', amount: 1234 });
  });
});

describe('refund', () => {
  const refund = { orderNo: ORDER, amount: 500, refundNo: 'R261202-0001', reason: '买家申请退款' };

  it('refunds with out_request_no = refund number, in yuan; the same refund number refunds once', async () => {
    const gw = await gateway({ mode: 'qr' });
    const tradeNo = await paidTrade(gw);
    expect(await gw.refund({ ...refund, tradeNo })).toEqual({ status: 'refunded', refundId: refund.refundNo });
    const req = fake.requests.at(-1)!;
    expect(req).toMatchObject({ method: 'alipay.trade.refund', signatureValid: true });
    expect(req.biz).toEqual({ out_trade_no: ALIPAY_NO, trade_no: tradeNo, refund_amount: '5.00', out_request_no: toAlipayNo(refund.refundNo), refund_reason: '买家申请退款' });

    // Again (a retry after a lost answer): Alipay moves no money (fund_change N); the refund query confirms it.
    expect(await gw.refund(refund)).toEqual({ status: 'refunded', refundId: refund.refundNo });
    expect(fake.requests.slice(-2).map((r) => r.method)).toEqual(['alipay.trade.refund', 'alipay.trade.fastpay.refund.query']);
    expect(fake.trades.get(ALIPAY_NO)!.refunds.size).toBe(1);

    // The rest: the trade closes, and its notify reads as refunded.
    expect(await gw.refund({ ...refund, amount: 734, refundNo: 'R261202-0002' })).toMatchObject({ status: 'refunded' });
    expect(fake.trades.get(ALIPAY_NO)!.status).toBe('TRADE_CLOSED');
    expect(await gw.verifyNotify(formNotify(fake.notify(ALIPAY_NO)))).toMatchObject({ action: 'refunded', orderNo: ORDER, tradeNo });
    expect(await gw.query({ orderNo: ORDER })).toMatchObject({ status: 'failed' });
  });

  it('fails what Alipay refuses: more than was paid, an unpaid or unknown trade, a reused refund number', async () => {
    const gw = await gateway({ mode: 'qr' });
    await paidTrade(gw);
    const over = await gw.refund({ ...refund, amount: 1235 });
    expect(over.status).toBe('failed');
    expect(over.reason).toMatch(/ACQ\.REFUND_AMT_NOT_EQUAL_TOTAL/);
    expect(await gw.refund({ ...refund, orderNo: 'NEVER-MADE' })).toMatchObject({ status: 'failed', reason: expect.stringMatching(/ACQ\.TRADE_NOT_EXIST/) });
    await gw.createPayment({ ...input, orderNo: 'UNPAID' });
    fake.scan('UNPAID');
    expect(await gw.refund({ ...refund, orderNo: 'UNPAID' })).toMatchObject({ status: 'failed', reason: expect.stringMatching(/TRADE_STATUS_ERROR/) });

    expect(await gw.refund(refund)).toMatchObject({ status: 'refunded' });
    expect(await gw.refund({ ...refund, amount: 600 })).toMatchObject({ status: 'failed' });
    for (const amount of [0, -5, 1.5, Number.NaN]) expect(await gw.refund({ ...refund, amount })).toMatchObject({ status: 'failed' });
    expect(await gw.refund({ ...refund, refundNo: 'R 1' })).toMatchObject({ status: 'failed' });
  });

  it('is pending while Alipay has not confirmed a refund it accepted before', async () => {
    const gw = await gateway({ mode: 'qr' });
    await paidTrade(gw);
    await gw.refund(refund);
    fake.refundsConfirm = false;
    expect(await gw.refund(refund)).toMatchObject({ status: 'pending', refundId: refund.refundNo });
  });

  it('throws on Alipay system errors and timeouts; asking again with the same refund number refunds once', async () => {
    const gw = await gateway({ mode: 'qr', timeoutMs: 1000 });
    await paidTrade(gw);
    fake.failNext('alipay.trade.refund', { code: '40004', msg: 'Business Failed', sub_code: 'ACQ.SYSTEM_ERROR', sub_msg: '系统错误' });
    expect((await rejection(gw.refund(refund))).subCode).toBe('ACQ.SYSTEM_ERROR');
    expect(fake.trades.get(ALIPAY_NO)!.refunds.size).toBe(0);

    // Slow: the shop gives up, but Alipay does refund.
    fake.delayMs = 1300;
    expect((await rejection(gw.refund(refund))).kind).toBe('timeout');
    // The fake refunds when its delay is over; on a loaded machine that can be well after 1.5 s.
    await vi.waitFor(() => expect(fake.trades.get(ALIPAY_NO)!.refunds.size).toBe(1), { timeout: 10_000, interval: 50 });
    fake.delayMs = 0;
    expect(await gw.refund(refund)).toMatchObject({ status: 'refunded' });
    expect(fake.trades.get(ALIPAY_NO)!.refunds.size).toBe(1);
    expect(fake.trades.get(ALIPAY_NO)!.refunds.get(toAlipayNo(refund.refundNo))!.amount).toBe(500);
  });
});

describe('order numbers: the shop\'s dash, Alipay\'s underscore', () => {
  it('sends 261202_7KQ4M9XD2P for order 261202-7KQ4M9XD2P, reads its notify back as 261202-7KQ4M9XD2P, and refunds with underscores', async () => {
    const gw = await gateway({ mode: 'qr' });
    // Written out, not through toAlipayNo: this is the mapping itself under test.
    expect(await gw.createPayment({ ...input, orderNo: '261202-7KQ4M9XD2P' })).toMatchObject({ kind: 'qr' });
    expect(fake.requests.at(-1)!.biz['out_trade_no']).toBe('261202_7KQ4M9XD2P');
    expect([...fake.trades.keys()]).toEqual(['261202_7KQ4M9XD2P']);

    const { tradeNo } = fake.pay('261202_7KQ4M9XD2P');
    const notify = fake.notify('261202_7KQ4M9XD2P');
    expect(notify['out_trade_no']).toBe('261202_7KQ4M9XD2P');
    expect(await gw.verifyNotify(formNotify(notify))).toEqual({ action: 'paid', orderNo: '261202-7KQ4M9XD2P', amount: 1234, tradeNo, reply: SUCCESS, failReply: FAILURE });

    expect(await gw.query({ orderNo: '261202-7KQ4M9XD2P' })).toEqual({ status: 'paid', amount: 1234, tradeNo });
    expect(fake.requests.at(-1)!.biz).toEqual({ out_trade_no: '261202_7KQ4M9XD2P' });

    const refund = { orderNo: '261202-7KQ4M9XD2P', amount: 500, refundNo: 'R261202-0001', reason: '' };
    expect(await gw.refund(refund)).toEqual({ status: 'refunded', refundId: 'R261202-0001' });
    expect(fake.requests.at(-1)!).toMatchObject({ method: 'alipay.trade.refund', biz: { out_trade_no: '261202_7KQ4M9XD2P', out_request_no: 'R261202_0001' } });
    // A retry goes through the refund query, with the same underscore numbers.
    expect(await gw.refund(refund)).toEqual({ status: 'refunded', refundId: 'R261202-0001' });
    expect(fake.requests.at(-1)!).toMatchObject({ method: 'alipay.trade.fastpay.refund.query', biz: { out_trade_no: '261202_7KQ4M9XD2P', out_request_no: 'R261202_0001' } });
    expect([...fake.trades.get('261202_7KQ4M9XD2P')!.refunds.keys()]).toEqual(['R261202_0001']);

    // No request to Alipay ever carried a dash in a merchant number.
    for (const r of fake.requests) expect(JSON.stringify([r.biz['out_trade_no'], r.biz['out_request_no']])).not.toContain('-');
  });
});
