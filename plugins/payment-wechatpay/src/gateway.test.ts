import { generateKeyPairSync, randomBytes, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NotifyRequest, NotifyResult, PaymentGateway } from '@cardshop/core';
import { recordingLogger, setupPlugin } from '@cardshop/core/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import wechatpayPlugin, { WechatpayError, type WechatpaySettings, type WechatpaySettingsInput } from './index.js';
import { startFakeWechatpay, type FakeWechatpay, type Notification } from './testing/fake-wechatpay.js';

// Every key of the test is made here: the merchant's API key pair and WeChat Pay's key pair.
const merchant = generateKeyPairSync('rsa', { modulusLength: 2048 });
const platform = generateKeyPairSync('rsa', { modulusLength: 2048 });
const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = (k: KeyObject, type: 'pkcs8' | 'spki') => String(k.export({ type, format: 'pem' } as never));

const MCHID = '1900009191';
const APPID = 'wxd678efh567hg6787';
const MERCHANT_SERIAL = '1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C';
const KEY_ID = 'PUB_KEY_ID_0119000091912024120200112233000001';
const APIV3 = randomBytes(16).toString('hex'); // 32 characters

let fake: FakeWechatpay;
let receiver: Server;
let notifyUrl: string;
/** The gateway the receiver hands callbacks to, and what it answered. */
let current: PaymentGateway | undefined;
const received: NotifyResult[] = [];

const { log, logged } = recordingLogger();

/** Runs the plugin's setup against a minimal context, the way the shop's plugin host does. */
async function configure(input: Partial<WechatpaySettingsInput> = {}): Promise<{ gateways: PaymentGateway[]; settings: WechatpaySettings }> {
  const input_ = {
    mchid: MCHID,
    appid: APPID,
    merchantSerialNo: MERCHANT_SERIAL,
    merchantPrivateKey: pem(merchant.privateKey, 'pkcs8'),
    apiV3Key: APIV3,
    platformPublicKey: pem(platform.publicKey, 'spki'),
    platformPublicKeyId: KEY_ID,
    baseUrl: fake.url,
    timeoutMs: 2000,
    ...input,
  };
  return setupPlugin(wechatpayPlugin, input_, log);
}

async function gateway(input: Partial<WechatpaySettingsInput> = {}): Promise<PaymentGateway> {
  const { gateways } = await configure(input);
  expect(gateways).toHaveLength(1);
  current = gateways[0]!;
  return current;
}

/** A callback as the shop's /pay/<id>/notify route hands it to the gateway. */
function asRequest(n: Notification, over: Partial<NotifyRequest> = {}): NotifyRequest {
  return { method: 'POST', headers: { ...n.headers }, query: {}, rawBody: n.body, body: JSON.parse(n.body) as Record<string, unknown>, ...over };
}

function input(orderNo = 'O20261202001', amount = 1234) {
  return {
    orderNo,
    amount,
    currency: 'CNY',
    subject: 'Steam 钱包充值卡 - ¥100 面值 ×1',
    notifyUrl,
    returnUrl: `http://127.0.0.1/pay/wechatpay/return?no=${orderNo}`,
  };
}

async function paidOrder(gw: PaymentGateway, orderNo = 'O20261202001', amount = 1234) {
  await gw.createPayment(input(orderNo, amount));
  return fake.pay(orderNo);
}

beforeAll(async () => {
  fake = await startFakeWechatpay({
    mchid: MCHID,
    appid: APPID,
    merchantSerialNo: MERCHANT_SERIAL,
    merchantPublicKey: merchant.publicKey,
    platformPrivateKey: platform.privateKey,
    platformPublicKeyId: KEY_ID,
    apiV3Key: APIV3,
  });
  // Stands in for the shop's /pay/<id>/notify route: raw body, lower-cased headers, the gateway's reply.
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const rawBody = Buffer.concat(chunks).toString('utf8');
        const result = await current!.verifyNotify({
          method: req.method ?? 'POST',
          headers: req.headers as Record<string, string | undefined>,
          query: {},
          rawBody,
          body: JSON.parse(rawBody) as Record<string, unknown>,
        });
        received.push(result);
        res.writeHead(result.reply.status ?? 200, { 'content-type': result.reply.type ?? 'text/plain' });
        res.end(result.reply.body);
      })();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  notifyUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/pay/wechatpay/notify`;
});

afterAll(async () => {
  await fake.close();
  receiver.closeAllConnections();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});

beforeEach(() => {
  fake.reset();
  logged.length = 0;
  received.length = 0;
  current = undefined;
});

describe('settings and setup', () => {
  it('registers one gateway: plugin wechatpay, gateway id wechatpay, a label in both languages', async () => {
    const { gateways, settings } = await configure();
    expect(wechatpayPlugin.definition.name).toBe('wechatpay');
    expect(wechatpayPlugin.definition.core).toBe('>=0.1.0 <1.0.0');
    expect(gateways.map((g) => g.id)).toEqual(['wechatpay']);
    expect(gateways[0]!.label).toEqual({ 'zh-CN': '微信支付', en: 'WeChat Pay' });
    expect(settings.baseUrl).toBe(fake.url);
    expect(logged.some((l) => l.level === 'info' && l.msg.includes(KEY_ID))).toBe(true);
    expect(JSON.stringify(logged)).not.toContain(APIV3);

    const other = await gateway({ id: 'wxpay-2', label: '微信扫码' });
    expect(other.id).toBe('wxpay-2');
    expect(other.label).toEqual({ 'zh-CN': '微信扫码', en: '微信扫码' });
  });
});

describe('createPayment (Native)', () => {
  it('asks for a code_url with a request the fake WeChat Pay verifies, and returns it as a QR code', async () => {
    const gw = await gateway();
    const action = await gw.createPayment(input());
    const order = fake.orders.get('O20261202001')!;
    expect(action).toEqual({ kind: 'qr', content: order.code_url });
    expect(order.code_url).toMatch(/^weixin:\/\/wxpay\/bizpayurl\?pr=/);

    expect(fake.requests).toHaveLength(1);
    const req = fake.requests[0]!;
    expect(req.authError).toBeUndefined();
    expect(`${req.method} ${req.url}`).toBe('POST /v3/pay/transactions/native');
    expect(req.json).toEqual({
      appid: APPID,
      mchid: MCHID,
      description: 'Steam 钱包充值卡 - ¥100 面值 ×1',
      out_trade_no: 'O20261202001',
      notify_url: notifyUrl,
      amount: { total: 1234, currency: 'CNY' },
    });
    expect(req.auth).toMatchObject({ mchid: MCHID, serial_no: MERCHANT_SERIAL });
    expect(req.auth!.nonce_str).toMatch(/^[0-9A-F]{32}$/);
    expect(Math.abs(Number(req.auth!.timestamp) - Date.now() / 1000)).toBeLessThan(10);
    expect(req.headers.accept).toBe('application/json');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['user-agent']).toMatch(/^cardshop-plugin-wechatpay\/0\.1\.0/);
    expect(req.headers['wechatpay-serial']).toBe(KEY_ID);
    // The same check by hand, with the merchant public key: the body signed is the body sent.
    const message = `POST\n/v3/pay/transactions/native\n${req.auth!.timestamp}\n${req.auth!.nonce_str}\n${req.rawBody}\n`;
    expect(nodeVerify('sha256', Buffer.from(message), merchant.publicKey, Buffer.from(req.auth!.signature!, 'base64'))).toBe(true);
  });

  it('cuts a long subject to the 127-byte description and sends time_expire when set', async () => {
    const gw = await gateway({ payExpireMinutes: 15 });
    await gw.createPayment({ ...input(), subject: `${'王者荣耀点券'.repeat(30)}\n` });
    const body = fake.requests[0]!.json!;
    expect(Buffer.byteLength(body.description as string, 'utf8')).toBeLessThanOrEqual(127);
    expect(body.description).toMatch(/^王者荣耀点券.*…$/);
    const expire = Date.parse(String(body.time_expire));
    expect(body.time_expire).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$/);
    expect(Math.abs(expire - (Date.now() + 15 * 60_000))).toBeLessThan(5000);
  });

  it('gets the same code_url when asked twice for one order', async () => {
    const gw = await gateway();
    const a = await gw.createPayment(input());
    const b = await gw.createPayment(input());
    expect(b).toEqual(a);
    expect(fake.orders.size).toBe(1);
  });

  it('refuses what WeChat Pay would refuse before sending anything', async () => {
    const gw = await gateway();
    await expect(gw.createPayment({ ...input(), currency: 'USD' })).rejects.toThrow(/CNY only/);
    await expect(gw.createPayment({ ...input(), amount: 12.5 })).rejects.toThrow(RangeError);
    await expect(gw.createPayment({ ...input(), amount: 0 })).rejects.toThrow(RangeError);
    await expect(gw.createPayment(input('O1'))).rejects.toThrow(/6 to 32/);
    await expect(gw.createPayment(input('O2026/12/02'))).rejects.toThrow(/cannot be an out_trade_no/);
    await expect(gw.createPayment({ ...input(), notifyUrl: `https://shop.example/${'x'.repeat(260)}` })).rejects.toThrow(/255/);
    expect(fake.requests).toHaveLength(0);
  });

  it('passes verified WeChat Pay errors on with their code', async () => {
    const gw = await gateway();
    await paidOrder(gw);
    const e = await gw.createPayment(input()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(WechatpayError);
    expect(e).toMatchObject({ kind: 'api', status: 400, code: 'ORDER_PAID' });
    expect((e as Error).message).toMatch(/wechatpay gateway "wechatpay": Native payment of order O20261202001: WeChat Pay answered HTTP 400: ORDER_PAID 该订单已支付 \(Request-ID /);
  });

  it('says what to check when WeChat Pay refuses the request signature (wrong merchant key or serial)', async () => {
    const wrongKey = await gateway({ merchantPrivateKey: pem(stranger.privateKey, 'pkcs8') });
    const e = await wrongKey.createPayment(input()).catch((x: unknown) => x);
    expect(e).toMatchObject({ kind: 'http', status: 401, code: 'SIGN_ERROR' });
    expect((e as Error).message).toMatch(/check mchid, merchantSerialNo and merchantPrivateKey/);
    expect(fake.requests[0]!.authError).toMatch(/signature does not verify/);

    const wrongSerial = await gateway({ merchantSerialNo: 'ABCDEF0123456789' });
    await expect(wrongSerial.createPayment(input())).rejects.toMatchObject({ kind: 'http', status: 401 });
    expect(fake.requests[1]!.authError).toMatch(/serial_no/);
    expect(fake.orders.size).toBe(0);
  });

  it('does not believe an answer whose signature fails, in any of the ways it can', async () => {
    const gw = await gateway();
    const cases = [
      ['signature', /bad signature/],
      ['serial', /signed with key PUB_KEY_ID_0000/],
      ['stale', /s old/],
      ['body', /bad signature/],
      ['unsigned', /missing Wechatpay-Timestamp, Wechatpay-Nonce, Wechatpay-Signature, Wechatpay-Serial headers/],
      ['probe', /signature probe/],
    ] as const;
    for (const [kind, why] of cases) {
      fake.tamperNext(kind);
      const e = await gw.createPayment(input()).catch((x: unknown) => x);
      expect(e, kind).toBeInstanceOf(WechatpayError);
      expect(e, kind).toMatchObject({ kind: 'signature' });
      expect((e as Error).message, kind).toMatch(why);
    }
    // The next, untampered answer is believed.
    expect(await gw.createPayment(input())).toMatchObject({ kind: 'qr' });
  });

  it('gives up after timeoutMs and says so', async () => {
    const gw = await gateway({ timeoutMs: 300 });
    fake.delayMs = 2000;
    const started = Date.now();
    const e = await gw.createPayment(input()).catch((x: unknown) => x);
    expect(e).toMatchObject({ kind: 'timeout' });
    expect((e as Error).message).toMatch(/no answer from http:\/\/127\.0\.0\.1:\d+\/v3\/pay\/transactions\/native within 300 ms/);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('says when WeChat Pay cannot be reached', async () => {
    const gw = await gateway({ baseUrl: 'http://127.0.0.1:9' });
    await expect(gw.createPayment(input())).rejects.toMatchObject({ kind: 'network' });
  });
});

describe('verifyNotify: signatures and decryption', () => {
  it('takes a paid callback POSTed by WeChat Pay and answers it so that WeChat Pay stops', async () => {
    const gw = await gateway();
    const order = await paidOrder(gw);
    const delivered = await fake.deliver(order.notify_url, fake.notification('TRANSACTION.SUCCESS', fake.transactionResource(order.out_trade_no)));
    expect(delivered).toEqual({ status: 200, body: '{"code":"SUCCESS","message":"成功"}', acknowledged: true });
    expect(received).toEqual([
      {
        action: 'paid',
        orderNo: 'O20261202001',
        amount: 1234,
        tradeNo: order.transaction_id,
        reply: { status: 200, type: 'application/json', body: '{"code":"SUCCESS","message":"成功"}' },
        failReply: { status: 500, type: 'application/json', body: '{"code":"FAIL","message":"失败"}' },
      },
    ]);
  });

  it('refuses a callback signed by another key, answering 500 FAIL so that WeChat Pay retries', async () => {
    const gw = await gateway();
    const order = await paidOrder(gw);
    const forged = fake.notification('TRANSACTION.SUCCESS', fake.transactionResource(order.out_trade_no), { signWith: stranger.privateKey });
    const delivered = await fake.deliver(order.notify_url, forged);
    expect(delivered).toEqual({ status: 500, body: '{"code":"FAIL","message":"签名验证失败"}', acknowledged: false });
    expect(received[0]).toMatchObject({ action: 'invalid' });
    expect((received[0] as { reason: string }).reason).toMatch(/bad signature/);
  });

  it('refuses a stale or future timestamp, and takes one within five minutes', async () => {
    const gw = await gateway();
    const order = await paidOrder(gw);
    const resource = fake.transactionResource(order.out_trade_no);
    const t = Math.floor(Date.now() / 1000);
    for (const timestamp of [t - 301 - 2, t - 3600, t + 400]) {
      const result = await gw.verifyNotify(asRequest(fake.notification('TRANSACTION.SUCCESS', resource, { timestamp })));
      expect(result.action, String(t - timestamp)).toBe('invalid');
      expect(result.reply.status).toBe(500);
      expect((result as { reason: string }).reason).toMatch(/s old|in the future/);
    }
    expect((await gw.verifyNotify(asRequest(fake.notification('TRANSACTION.SUCCESS', resource, { timestamp: t - 240 })))).action).toBe('paid');
  });

  it('refuses a callback signed under another serial (key id), even with a good signature', async () => {
    const gw = await gateway();
    const order = await paidOrder(gw);
    const n = fake.notification('TRANSACTION.SUCCESS', fake.transactionResource(order.out_trade_no), { serial: '5157F09EFDC096DE15EBE81A47057A7232F1B8E1' });
    const result = await gw.verifyNotify(asRequest(n));
    expect(result.action).toBe('invalid');
    expect((result as { reason: string }).reason).toMatch(/signed with key 5157F09EFDC096DE15EBE81A47057A7232F1B8E1, but this gateway is set up with PUB_KEY_ID_/);
  });

  it('refuses a tampered resource (ciphertext, tag, nonce, associated_data) or one for another APIv3 key', async () => {
    const gw = await gateway();
    const order = await paidOrder(gw);
    const resource = fake.transactionResource(order.out_trade_no);
    for (const tamper of ['ciphertext', 'tag', 'nonce', 'associated_data'] as const) {
      // Signed after tampering, as a compromised key store would: the decryption still catches it.
      const delivered = await fake.deliver(order.notify_url, fake.notification('TRANSACTION.SUCCESS', resource, { tamper }));
      expect(delivered, tamper).toMatchObject({ status: 500, acknowledged: false });
      expect(delivered.body).toBe('{"code":"FAIL","message":"解密失败"}');
    }
    const otherKey = await gw.verifyNotify(asRequest(fake.notification('TRANSACTION.SUCCESS', resource, { apiV3Key: 'A'.repeat(32) })));
    expect(otherKey.action).toBe('invalid');
    expect((otherKey as { reason: string }).reason).toMatch(/did not decrypt.*apiV3Key/);
    expect(received.every((r) => r.action === 'invalid')).toBe(true);

    // The body changed after signing: the signature catches it first.
    const n = fake.notification('TRANSACTION.SUCCESS', resource);
    const changed = await gw.verifyNotify(asRequest(n, { rawBody: n.body.replace('支付成功', '支付成功 ') }));
    expect(changed.action).toBe('invalid');
    expect((changed as { reason: string }).reason).toMatch(/bad signature/);
  });

  it('refuses a GET, missing headers, and a signed body that is no notification', async () => {
    const gw = await gateway();
    const order = await paidOrder(gw);
    const n = fake.notification('TRANSACTION.SUCCESS', fake.transactionResource(order.out_trade_no));
    expect(await gw.verifyNotify(asRequest(n, { method: 'GET' }))).toMatchObject({ action: 'invalid', reply: { status: 500 } });
    const { 'wechatpay-signature': _drop, ...noSignature } = n.headers;
    const missing = await gw.verifyNotify(asRequest(n, { headers: noSignature }));
    expect((missing as { reason: string }).reason).toMatch(/missing Wechatpay-Signature/);
    // Signed, but not a notification: built by hand with WeChat Pay's key.
    const { sign } = await import('node:crypto');
    const t = String(Math.floor(Date.now() / 1000));
    for (const body of ['[]', '{"event_type":"TRANSACTION.SUCCESS"}', 'not json', '{"event_type":"X","resource_type":"plain","resource":{}}']) {
      const signature = sign('sha256', Buffer.from(`${t}\nn0nce\n${body}\n`), platform.privateKey).toString('base64');
      const r = await gw.verifyNotify({ method: 'POST', headers: { 'wechatpay-timestamp': t, 'wechatpay-nonce': 'n0nce', 'wechatpay-signature': signature, 'wechatpay-serial': KEY_ID }, query: {}, rawBody: body, body: {} });
      expect(r.action, body).toBe('invalid');
    }
    // Signed and decrypted, but the resource is not JSON.
    const odd = await gw.verifyNotify(asRequest(fake.notification('TRANSACTION.SUCCESS', {}, { plaintext: 'not json' })));
    expect(odd).toMatchObject({ action: 'invalid', reason: expect.stringMatching(/not a JSON object/) });
  });
});

describe('verifyNotify: events', () => {
  it('maps trade states and refund results', async () => {
    const gw = await gateway();
    const order = await paidOrder(gw);
    const tx = (over: Record<string, unknown>) => fake.transactionResource(order.out_trade_no, over);
    const rf = (over: Record<string, unknown>) => ({
      mchid: MCHID,
      out_trade_no: order.out_trade_no,
      transaction_id: order.transaction_id,
      out_refund_no: 'R20261202001',
      refund_id: '50300000000000000000000000001',
      refund_status: 'SUCCESS',
      amount: { total: 1234, refund: 1234, payer_total: 1234, payer_refund: 1234 },
      ...over,
    });
    const cases: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
      ['TRANSACTION.SUCCESS', tx({}), { action: 'paid', orderNo: 'O20261202001', amount: 1234, tradeNo: order.transaction_id }],
      ['TRANSACTION.SUCCESS', tx({ trade_state: 'CLOSED', transaction_id: undefined }), { action: 'failed', orderNo: 'O20261202001' }],
      ['TRANSACTION.SUCCESS', tx({ trade_state: 'PAYERROR' }), { action: 'failed', orderNo: 'O20261202001', tradeNo: order.transaction_id }],
      ['TRANSACTION.SUCCESS', tx({ trade_state: 'REVOKED', transaction_id: undefined }), { action: 'failed', orderNo: 'O20261202001' }],
      ['TRANSACTION.SUCCESS', tx({ trade_state: 'NOTPAY' }), { action: 'ignored', orderNo: 'O20261202001' }],
      ['TRANSACTION.SUCCESS', tx({ trade_state: 'USERPAYING' }), { action: 'ignored', orderNo: 'O20261202001' }],
      ['REFUND.SUCCESS', rf({}), { action: 'refunded', orderNo: 'O20261202001', tradeNo: order.transaction_id }],
      // A partial refund leaves the order paid.
      ['REFUND.SUCCESS', rf({ amount: { total: 1234, refund: 200, payer_total: 1234, payer_refund: 200 } }), { action: 'ignored', orderNo: 'O20261202001' }],
      ['REFUND.ABNORMAL', rf({ refund_status: 'ABNORMAL' }), { action: 'ignored', orderNo: 'O20261202001' }],
      ['REFUND.CLOSED', rf({ refund_status: 'CLOSED' }), { action: 'ignored', orderNo: 'O20261202001' }],
      ['SOMETHING.NEW', { out_trade_no: 'O20261202001' }, { action: 'ignored', orderNo: 'O20261202001' }],
      // Same key, but the transaction says it is another AppID's: acknowledged, not applied.
      ['TRANSACTION.SUCCESS', tx({ appid: 'wx0000000000000000' }), { action: 'ignored', orderNo: 'O20261202001' }],
    ];
    for (const [eventType, resource, expected] of cases) {
      const result = await gw.verifyNotify(asRequest(fake.notification(eventType, resource)));
      expect(result, `${eventType} ${JSON.stringify(resource).slice(0, 120)}`).toEqual({
        ...expected,
        reply: { status: 200, type: 'application/json', body: '{"code":"SUCCESS","message":"成功"}' },
        failReply: { status: 500, type: 'application/json', body: '{"code":"FAIL","message":"失败"}' },
      });
    }
    expect(logged.some((l) => l.level === 'warn' && /ABNORMAL/.test(l.msg))).toBe(true);
    expect(logged.some((l) => l.level === 'info' && /partial refund R20261202001/.test(l.msg))).toBe(true);
  });

  it('reports the amount WeChat Pay says was paid, so the shop can refuse a wrong one; refuses malformed amounts', async () => {
    const gw = await gateway();
    const order = await paidOrder(gw);
    // WeChat Pay says 1 fen was paid for an order of 1234: passed on as 1, never as the order's amount.
    const wrong = await gw.verifyNotify(asRequest(fake.notification('TRANSACTION.SUCCESS', fake.transactionResource(order.out_trade_no, { amount: { total: 1, payer_total: 1, currency: 'CNY' } }))));
    expect(wrong).toMatchObject({ action: 'paid', orderNo: 'O20261202001', amount: 1 });
    for (const amount of [{ total: '12.34' }, { total: 12.5 }, { total: -1 }, { total: 0 }, null]) {
      const r = await gw.verifyNotify(asRequest(fake.notification('TRANSACTION.SUCCESS', fake.transactionResource(order.out_trade_no, { amount }))));
      expect(r.action, JSON.stringify(amount)).toBe('invalid');
    }
    const usd = await gw.verifyNotify(asRequest(fake.notification('TRANSACTION.SUCCESS', fake.transactionResource(order.out_trade_no, { amount: { total: 1234, currency: 'USD' } }))));
    expect(usd).toMatchObject({ action: 'ignored', orderNo: 'O20261202001' });
    expect(logged.some((l) => l.level === 'error' && /USD/.test(l.msg))).toBe(true);
    const noTx = await gw.verifyNotify(asRequest(fake.notification('TRANSACTION.SUCCESS', fake.transactionResource(order.out_trade_no, { transaction_id: undefined }))));
    expect(noTx.action).toBe('invalid');
  });

  it('refuses a callback about another merchant', async () => {
    const gw = await gateway();
    const order = await paidOrder(gw);
    const r = await gw.verifyNotify(asRequest(fake.notification('TRANSACTION.SUCCESS', fake.transactionResource(order.out_trade_no, { mchid: '1900000109' }))));
    expect(r.action).toBe('invalid');
    expect((r as { reason: string }).reason).toMatch(/merchant 1900000109/);
  });

  it('gives the same result for the same callback delivered again, and acknowledges both', async () => {
    const gw = await gateway();
    const order = await paidOrder(gw);
    const n = fake.notification('TRANSACTION.SUCCESS', fake.transactionResource(order.out_trade_no), { id: 'EV-2018022511223320873' });
    const first = await fake.deliver(order.notify_url, n);
    const again = await fake.deliver(order.notify_url, n);
    expect(again).toEqual(first);
    expect(first.acknowledged).toBe(true);
    expect(received).toHaveLength(2);
    expect(received[1]).toEqual(received[0]);
    expect(received[0]).toMatchObject({ action: 'paid', amount: 1234 });
  });
});

describe('query', () => {
  it('follows an order from unpaid to paid to closed, verifying every answer', async () => {
    const gw = await gateway();
    await gw.createPayment(input('O20261202002', 500));
    expect(await gw.query({ orderNo: 'O20261202002' })).toEqual({ status: 'pending', amount: 500 });
    const req = fake.requests[1]!;
    expect(`${req.method} ${req.url}`).toBe(`GET /v3/pay/transactions/out-trade-no/O20261202002?mchid=${MCHID}`);
    expect(req.authError).toBeUndefined();
    expect(req.rawBody).toBe('');
    expect(req.headers['content-type']).toBeUndefined();

    const paid = fake.pay('O20261202002');
    expect(await gw.query({ orderNo: 'O20261202002' })).toEqual({ status: 'paid', amount: 500, tradeNo: paid.transaction_id });

    await gw.createPayment(input('O20261202003', 700));
    fake.closeOrder('O20261202003');
    expect(await gw.query({ orderNo: 'O20261202003' })).toEqual({ status: 'failed', amount: 700 });
  });

  it('answers unknown for an order WeChat Pay does not have, or one it cannot have', async () => {
    const gw = await gateway();
    expect(await gw.query({ orderNo: 'O20269999999' })).toEqual({ status: 'unknown' });
    expect(fake.requests.map((r) => r.url)).toEqual([`/v3/pay/transactions/out-trade-no/O20269999999?mchid=${MCHID}`]);
    expect(await gw.query({ orderNo: 'x/y' })).toEqual({ status: 'unknown' });
    expect(fake.requests).toHaveLength(1);
  });

  it('throws on an answer it cannot believe and on server errors, so the caller asks again later', async () => {
    const gw = await gateway();
    await gw.createPayment(input());
    fake.tamperNext('body');
    await expect(gw.query({ orderNo: 'O20261202001' })).rejects.toMatchObject({ kind: 'signature' });
    fake.failNext('/v3/pay/transactions/out-trade-no/', 500, 'SYSTEM_ERROR', '系统错误');
    await expect(gw.query({ orderNo: 'O20261202001' })).rejects.toMatchObject({ kind: 'api', status: 500, code: 'SYSTEM_ERROR' });
    expect(await gw.query({ orderNo: 'O20261202001' })).toMatchObject({ status: 'pending' });
  });
});

describe('refund', () => {
  const refundInput = { orderNo: 'O20261202001', amount: 1234, refundNo: 'R20261202001', reason: '买家申请退款' };

  it('refunds a paid order: reads its total, then posts the refund with the refund number', async () => {
    const gw = await gateway();
    const order = await paidOrder(gw);
    const result = await gw.refund({ ...refundInput, tradeNo: order.transaction_id! });
    const made = fake.refunds.get('R20261202001')!;
    expect(result).toEqual({ status: 'refunded', refundId: made.refund_id });
    const [query, post] = fake.requests.slice(1);
    expect(`${query!.method} ${query!.url}`).toBe(`GET /v3/pay/transactions/out-trade-no/O20261202001?mchid=${MCHID}`);
    expect(`${post!.method} ${post!.url}`).toBe('POST /v3/refund/domestic/refunds');
    expect(post!.authError).toBeUndefined();
    expect(post!.json).toEqual({
      transaction_id: order.transaction_id,
      out_refund_no: 'R20261202001',
      reason: '买家申请退款',
      notify_url: notifyUrl,
      amount: { refund: 1234, total: 1234, currency: 'CNY' },
    });
    expect(fake.orders.get('O20261202001')!.trade_state).toBe('REFUND');
    // Paid, then refunded: not something to mark an order paid by.
    expect(await gw.query({ orderNo: 'O20261202001' })).toMatchObject({ status: 'unknown', tradeNo: order.transaction_id });
  });

  it('refunds once when asked twice with the same refund number', async () => {
    const gw = await gateway();
    await paidOrder(gw);
    const a = await gw.refund(refundInput);
    const b = await gw.refund(refundInput);
    expect(b).toEqual(a);
    expect(fake.refunds.size).toBe(1);
  });

  it('refunds in parts, refuses more than is left, and maps PROCESSING, ABNORMAL and CLOSED', async () => {
    const gw = await gateway();
    await paidOrder(gw);
    expect(await gw.refund({ ...refundInput, amount: 1000, refundNo: 'R1' })).toMatchObject({ status: 'refunded' });
    const over = await gw.refund({ ...refundInput, amount: 1000, refundNo: 'R2' });
    expect(over).toMatchObject({ status: 'failed' });
    expect(over.reason).toMatch(/INVALID_REQUEST 申请退款金额超过订单可退金额/);
    fake.refundStatus = 'PROCESSING';
    expect(await gw.refund({ ...refundInput, amount: 100, refundNo: 'R3' })).toMatchObject({ status: 'pending', refundId: fake.refunds.get('R3')!.refund_id });
    fake.refundStatus = 'ABNORMAL';
    const abnormal = await gw.refund({ ...refundInput, amount: 100, refundNo: 'R4' });
    expect(abnormal).toMatchObject({ status: 'pending' });
    expect(abnormal.reason).toMatch(/ABNORMAL.*merchant platform/);
    fake.refundStatus = 'CLOSED';
    expect(await gw.refund({ ...refundInput, amount: 10, refundNo: 'R5' })).toMatchObject({ status: 'failed', reason: expect.stringMatching(/CLOSED/) });
  });

  it('refuses without posting a refund: unpaid or unknown order, wrong trade number, too much, bad numbers', async () => {
    const gw = await gateway();
    await gw.createPayment(input('O20261202004', 300));
    expect(await gw.refund({ ...refundInput, orderNo: 'O20261202004', amount: 300 })).toEqual({ status: 'failed', reason: 'order O20261202004 is NOTPAY at WeChat Pay, not paid' });
    expect(await gw.refund({ ...refundInput, orderNo: 'O20269999999' })).toEqual({ status: 'failed', reason: 'WeChat Pay has no order O20269999999' });
    fake.pay('O20261202004');
    expect(await gw.refund({ ...refundInput, orderNo: 'O20261202004', amount: 301 })).toMatchObject({ status: 'failed', reason: expect.stringMatching(/more than the 300 fen paid/) });
    expect(await gw.refund({ ...refundInput, orderNo: 'O20261202004', amount: 300, tradeNo: '4200000000000000000000000999' })).toMatchObject({ status: 'failed', reason: expect.stringMatching(/not 4200000000000000000000000999/) });
    const before = fake.requests.length;
    expect(await gw.refund({ ...refundInput, orderNo: 'O20261202004', amount: 300, refundNo: 'R 1' })).toMatchObject({ status: 'failed' });
    expect(await gw.refund({ ...refundInput, orderNo: 'O20261202004', amount: 2.5 })).toMatchObject({ status: 'failed' });
    expect(fake.requests).toHaveLength(before);
    expect(fake.requests.some((r) => r.url === '/v3/refund/domestic/refunds')).toBe(false);
  });

  it('reports a verified refusal as failed, and throws on server errors so the same refund number can be asked again', async () => {
    const gw = await gateway();
    await paidOrder(gw);
    fake.failNext('/v3/refund/', 403, 'NOT_ENOUGH', '基本账户余额不足，请充值后重新发起');
    const poor = await gw.refund(refundInput);
    expect(poor).toMatchObject({ status: 'failed', reason: expect.stringMatching(/NOT_ENOUGH 基本账户余额不足/) });
    fake.failNext('/v3/refund/', 500, 'SYSTEM_ERROR', '系统超时');
    await expect(gw.refund(refundInput)).rejects.toMatchObject({ kind: 'api', code: 'SYSTEM_ERROR' });
    fake.failNext('/v3/refund/', 429, 'FREQUENCY_LIMITED', '频率超限');
    await expect(gw.refund(refundInput)).rejects.toMatchObject({ kind: 'api', code: 'FREQUENCY_LIMITED' });
    expect(await gw.refund(refundInput)).toMatchObject({ status: 'refunded' });
    expect(fake.refunds.size).toBe(1);
  });

  it('throws on a timeout; asking again with the same refund number refunds once', async () => {
    // Generous against a loaded CI machine: only the delayed refund answer may run out of time.
    const gw = await gateway({ timeoutMs: 1000 });
    await paidOrder(gw);
    // WeChat Pay makes the refund, but its answer comes too late.
    fake.delayFor('/v3/refund/', 2500);
    const e = await gw.refund(refundInput).catch((x: unknown) => x);
    expect(e).toMatchObject({ kind: 'timeout' });
    expect((e as Error).message).toMatch(/refund R20261202001 of order O20261202001: no answer .* within 1000 ms/);
    expect(fake.refunds.size).toBe(1);
    fake.delayFor('/v3/refund/', 0);
    const again = await gw.refund(refundInput);
    expect(again).toEqual({ status: 'refunded', refundId: fake.refunds.get('R20261202001')!.refund_id });
    expect(fake.refunds.size).toBe(1);
  });

  it('sends refund results to the shop, where the callback reads as refunded', async () => {
    const gw = await gateway();
    await paidOrder(gw);
    await gw.refund(refundInput);
    const made = fake.refunds.get('R20261202001')!;
    expect(made.notify_url).toBe(notifyUrl);
    const delivered = await fake.deliver(made.notify_url!, fake.notification('REFUND.SUCCESS', fake.refundResource('R20261202001')));
    expect(delivered.acknowledged).toBe(true);
    expect(received[0]).toMatchObject({ action: 'refunded', orderNo: 'O20261202001', tradeNo: made.transaction_id });
  });

  it('uses refundNotifyUrl when set', async () => {
    const gw = await gateway({ refundNotifyUrl: 'https://shop.example/pay/wechatpay/notify' });
    await paidOrder(gw);
    await gw.refund(refundInput);
    expect(fake.refunds.get('R20261202001')!.notify_url).toBe('https://shop.example/pay/wechatpay/notify');
  });
});
