import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setupPlugin } from '@cardshop/core/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Logger, NotifyRequest, NotifyResult, PaymentGateway } from '@cardshop/core';
import epay from './index.js';
import { startFakeEpay, type FakeEpay, type NotifyEncoding } from './testing/fake-epay.js';

const KEY = 'k3yOfTheFakeMerchant_0123456789AB';
const PID = '1001';

let fake: FakeEpay;
const logs: string[] = [];
const log: Logger = {
  error: (m, e) => logs.push(`error ${m} ${e === undefined ? '' : String(e)}`),
  warn: (m, e) => logs.push(`warn ${m} ${e === undefined ? '' : String(e)}`),
  info: (m, e) => logs.push(`info ${m} ${e === undefined ? '' : String(e)}`),
  debug: (m, e) => logs.push(`debug ${m} ${e === undefined ? '' : String(e)}`),
};

/** Runs the plugin's setup with a minimal fake context and returns the gateways it offered. */
async function gatewaysOf(settings: Record<string, unknown>): Promise<PaymentGateway[]> {
  const { gateways } = await setupPlugin(epay, { apiUrl: fake.url, pid: PID, key: KEY, ...settings }, log);
  return gateways;
}

async function gatewayOf(settings: Record<string, unknown> = {}): Promise<PaymentGateway> {
  const [g] = await gatewaysOf(settings);
  return g!;
}

/** A stand-in for the shop's /pay/<id>/notify route: builds a NotifyRequest as the core would. */
let shop: Server;
let shopUrl: string;
let notifyGateway: PaymentGateway;
const received: NotifyResult[] = [];

beforeAll(async () => {
  fake = await startFakeEpay({ pid: PID, key: KEY });
  shop = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://shop.test');
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const type = req.headers['content-type'] ?? '';
      let body: Record<string, unknown> = {};
      try {
        if (type.includes('json')) body = JSON.parse(rawBody) as Record<string, unknown>;
        else if (type.includes('form')) body = Object.fromEntries(new URLSearchParams(rawBody));
      } catch {
        body = {};
      }
      const headers: Record<string, string | undefined> = {};
      for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      const request: NotifyRequest = { method: req.method ?? 'GET', headers, query: Object.fromEntries(url.searchParams), rawBody, body };
      notifyGateway.verifyNotify(request).then((result) => {
        received.push(result);
        res.writeHead(result.reply.status ?? 200, { 'content-type': result.reply.type ?? 'text/plain' });
        res.end(result.reply.body);
      });
    });
  });
  await new Promise<void>((r) => shop.listen(0, '127.0.0.1', r));
  shopUrl = `http://127.0.0.1:${(shop.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await fake.close();
  await new Promise((r) => shop.close(r));
});

afterEach(() => {
  fake.delayMs = 0;
  fake.html = false;
  // The merchant key must never reach a log line.
  expect(logs.join('\n')).not.toContain(KEY);
});

let n = 0;
function order(amount = 1234, extra: Partial<Parameters<PaymentGateway['createPayment']>[0]> = {}) {
  const orderNo = `CS${Date.now()}${++n}`;
  return {
    orderNo,
    amount,
    currency: 'CNY',
    subject: 'Steam 钱包充值卡 - ¥100 面值 ×1',
    notifyUrl: `${shopUrl}/pay/epay/notify`,
    returnUrl: `${shopUrl}/pay/epay/return?no=${orderNo}`,
    ...extra,
  };
}

/** Creates an order at the fake through submit.php, as the buyer's browser would. */
async function placed(g: PaymentGateway, amount = 1234) {
  const input = order(amount);
  const action = await g.createPayment(input);
  if (action.kind !== 'redirect') throw new Error('expected a redirect');
  const page = await (await fetch(action.url)).text();
  expect(page).not.toContain('错误');
  return input;
}

function reqFrom(params: Record<string, string>, as: NotifyEncoding): NotifyRequest {
  if (as === 'get') return { method: 'GET', headers: {}, query: params, rawBody: '', body: {} };
  if (as === 'form') {
    const rawBody = new URLSearchParams(params).toString();
    return { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, query: {}, rawBody, body: { ...params } };
  }
  return { method: 'POST', headers: { 'content-type': 'application/json' }, query: {}, rawBody: JSON.stringify(params), body: { ...params } };
}

describe('plugin', () => {
  it('registers one gateway "epay" by default, through ctx.paymentGateway', async () => {
    const gws = await gatewaysOf({});
    expect(gws.map((g) => g.id)).toEqual(['epay']);
    expect(gws[0]!.label).toEqual({ 'zh-CN': '易支付', en: 'Epay' });
    expect(epay.definition).toMatchObject({ name: 'epay', version: '0.1.0', core: '>=0.1.0 <1.0.0' });
  });

  it('registers one gateway per type with perType', async () => {
    const gws = await gatewaysOf({ perType: true, types: ['alipay', 'wxpay', 'qqpay'], id: 'pay' });
    expect(gws.map((g) => g.id)).toEqual(['pay-alipay', 'pay-wxpay', 'pay-qqpay']);
    expect(gws[1]!.label).toEqual({ 'zh-CN': '微信支付（易支付）', en: 'WeChat Pay (Epay)' });
  });
});

describe('createPayment, redirect mode (submit.php)', () => {
  it('builds a signed submit.php URL the epay site accepts', async () => {
    const g = await gatewayOf({ types: ['alipay'], sitename: '我的小店' });
    const input = order(1234);
    const action = await g.createPayment(input);
    expect(action.kind).toBe('redirect');
    const url = new URL((action as { url: string }).url);
    expect(`${url.origin}${url.pathname}`).toBe(`${fake.url}/submit.php`);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      pid: PID,
      type: 'alipay',
      out_trade_no: input.orderNo,
      notify_url: input.notifyUrl,
      return_url: input.returnUrl,
      name: input.subject,
      money: '12.34',
      sitename: '我的小店',
      sign_type: 'MD5',
    });
    const page = await (await fetch(url)).text();
    expect(page).toContain('收银台');
    expect(fake.orders.get(input.orderNo)).toMatchObject({ money: '12.34', type: 'alipay', via: 'submit', status: 0 });
  });

  it('works with a trailing slash or submit.php in apiUrl', async () => {
    for (const apiUrl of [`${fake.url}/`, `${fake.url}/submit.php`]) {
      const g = await gatewayOf({ apiUrl, types: ['wxpay'] });
      await placed(g, 1);
    }
  });

  it('leaves type out with several types on one gateway (the epay cashier asks the buyer)', async () => {
    const g = await gatewayOf({ types: ['alipay', 'wxpay'] });
    const input = await placed(g, 500);
    expect(fake.orders.get(input.orderNo)!.type).toBe('');
  });

  it('formats fen exactly and refuses other currencies and bad amounts', async () => {
    const g = await gatewayOf({ types: ['alipay'] });
    for (const [fen, yuan] of [[1, '0.01'], [10, '0.10'], [100, '1.00'], [123456789, '1234567.89']] as const) {
      const a = await g.createPayment(order(fen));
      expect(new URL((a as { url: string }).url).searchParams.get('money')).toBe(yuan);
    }
    await expect(g.createPayment(order(100, { currency: 'USD' }))).rejects.toThrow(/epay gateway "epay": .*CNY/);
    await expect(g.createPayment(order(0))).rejects.toThrow(/positive/);
    await expect(g.createPayment(order(1.5))).rejects.toThrow(/positive/);
  });

  it('shortens and cleans a long subject', async () => {
    const g = await gatewayOf({ types: ['alipay'] });
    const a = await g.createPayment(order(100, { subject: `a\n\tb ${'长'.repeat(100)}` }));
    const name = new URL((a as { url: string }).url).searchParams.get('name')!;
    expect([...name]).toHaveLength(64);
    expect(name.startsWith('a b 长')).toBe(true);
  });
});

describe('createPayment, api mode (mapi.php)', () => {
  it('returns the payurl as a redirect (alipay)', async () => {
    const g = await gatewayOf({ mode: 'api', types: ['alipay'] });
    const input = order(990, { clientIp: '203.0.113.9', device: 'mobile' });
    const action = await g.createPayment(input);
    const o = fake.orders.get(input.orderNo)!;
    expect(action).toEqual({ kind: 'redirect', url: `${fake.url}/pay/${o.trade_no}` });
    expect(o).toMatchObject({ via: 'mapi', money: '9.90', clientip: '203.0.113.9', device: 'mobile' });
    expect(fake.requests.at(-1)).toMatchObject({ method: 'POST', path: '/mapi.php' });
  });

  it('returns the qrcode as a QR (wxpay) and the urlscheme as a redirect (qqpay)', async () => {
    const [, wx, qq] = await gatewaysOf({ mode: 'api', perType: true, types: ['alipay', 'wxpay', 'qqpay'] });
    const a = order(100, { device: 'desktop' });
    expect(await wx!.createPayment(a)).toEqual({ kind: 'qr', content: `weixin://wxpay/bizpayurl?pr=${fake.orders.get(a.orderNo)!.trade_no}` });
    expect(fake.orders.get(a.orderNo)!.device).toBe('pc');
    const b = order(100);
    const action = await qq!.createPayment(b);
    expect(action).toMatchObject({ kind: 'redirect', url: expect.stringMatching(/^mqqapi:\/\//) });
  });

  it("names the gateway and epay's message when mapi.php refuses, without the key", async () => {
    const g = await gatewayOf({ mode: 'api', types: ['alipay'], key: 'not-the-right-key' });
    const err = await g.createPayment(order()).catch((e: Error) => e);
    expect(String(err)).toMatch(/epay gateway "epay": mapi.php refused order .*签名校验失败/);
    expect(String(err)).not.toContain('not-the-right-key');
  });
});

describe('verifyNotify', () => {
  const expectPaid = (r: NotifyResult, orderNo: string, amount: number, tradeNo: string) => {
    expect(r).toEqual({
      action: 'paid',
      orderNo,
      amount,
      tradeNo,
      reply: { status: 200, type: 'text/plain', body: 'success' },
      failReply: { status: 200, type: 'text/plain', body: 'fail' },
    });
  };

  for (const as of ['get', 'form', 'json'] as const) {
    it(`accepts a real ${as} notify over HTTP and answers "success" as text/plain`, async () => {
      const g = await gatewayOf({ types: ['alipay'] });
      notifyGateway = g;
      const input = await placed(g, 1234);
      const params = fake.pay(input.orderNo);
      received.length = 0;
      const answer = await fake.sendNotify(params, as);
      expect(answer).toMatchObject({ status: 200, body: 'success' });
      expect(answer.type).toMatch(/^text\/plain/);
      expectPaid(received[0]!, input.orderNo, 1234, fake.orders.get(input.orderNo)!.trade_no);
    });
  }

  it('answers "fail" over HTTP to a forged notify', async () => {
    const g = await gatewayOf({ types: ['alipay'] });
    notifyGateway = g;
    const input = await placed(g, 1234);
    const params = { ...fake.pay(input.orderNo), money: '0.01' };
    received.length = 0;
    for (const as of ['get', 'form', 'json'] as const) {
      expect(await fake.sendNotify(params, as)).toMatchObject({ status: 200, body: 'fail' });
    }
    expect(received.map((r) => r.action)).toEqual(['invalid', 'invalid', 'invalid']);
  });

  it('gives the same result for a duplicate notify', async () => {
    const g = await gatewayOf({ types: ['alipay'] });
    const input = await placed(g, 2000);
    const params = fake.pay(input.orderNo);
    const first = await g.verifyNotify(reqFrom(params, 'get'));
    const second = await g.verifyNotify(reqFrom(params, 'get'));
    const third = await g.verifyNotify(reqFrom(params, 'form'));
    expect(first.action).toBe('paid');
    expect(second).toEqual(first);
    expect(third).toEqual(first);
  });

  it.each([
    ['0.1', 10],
    ['12.34', 1234],
    ['100', 10000],
  ])('maps money %s to %i fen', async (money, fen) => {
    const g = await gatewayOf({ types: ['alipay'] });
    const input = await placed(g, fen);
    const r = await g.verifyNotify(reqFrom(fake.pay(input.orderNo, { money }), 'get'));
    expect(r).toMatchObject({ action: 'paid', amount: fen });
  });

  it.each(['1e3', '1.234', '-1.00', '0.00', 'abc'])('rejects a correctly signed notify with money %j as invalid', async (money) => {
    const g = await gatewayOf({ types: ['alipay'] });
    const input = await placed(g);
    const r = await g.verifyNotify(reqFrom(fake.pay(input.orderNo, { money }), 'get'));
    expect(r).toMatchObject({ action: 'invalid', reason: expect.stringMatching(/malformed money/), reply: { body: 'fail' } });
  });

  it('keeps JSON numbers as written: 12.30 verifies as "12.30", 1e3 stays invalid', async () => {
    const g = await gatewayOf({ types: ['alipay'] });
    const input = await placed(g, 1230);
    const params = fake.pay(input.orderNo, { money: '12.30' });
    const { money, ...rest } = params;
    const rawBody = JSON.stringify({ ...rest, pid: Number(PID) }).replace(/\}$/, `,"money":${money}}`);
    const r = await g.verifyNotify({ method: 'POST', headers: { 'content-type': 'application/json' }, query: {}, rawBody, body: JSON.parse(rawBody) as Record<string, unknown> });
    expect(r).toMatchObject({ action: 'paid', amount: 1230 });

    const p2 = fake.notifyParams(input.orderNo, { money: '1e3' });
    const { money: m2, ...rest2 } = p2;
    const raw2 = JSON.stringify(rest2).replace(/\}$/, `,"money":${m2}}`);
    expect(await g.verifyNotify({ method: 'POST', headers: { 'content-type': 'application/json' }, query: {}, rawBody: raw2, body: {} })).toMatchObject({
      action: 'invalid',
      reason: expect.stringMatching(/malformed money/),
    });
  });

  it('reads a JSON body sent with a form content type, and a parsed body without rawBody', async () => {
    const g = await gatewayOf({ types: ['alipay'] });
    const input = await placed(g, 100);
    const params = fake.pay(input.orderNo);
    const wrongType = { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, query: {}, rawBody: JSON.stringify(params), body: {} };
    expect(await g.verifyNotify(wrongType)).toMatchObject({ action: 'paid', amount: 100 });
    const parsedOnly = { method: 'POST', headers: { 'content-type': 'application/json' }, query: {}, rawBody: '', body: { ...params } };
    expect(await g.verifyNotify(parsedOnly)).toMatchObject({ action: 'paid', amount: 100 });
  });

  describe('refuses', () => {
    const invalidWith = async (reason: RegExp, make: (orderNo: string) => NotifyRequest) => {
      const g = await gatewayOf({ types: ['alipay'] });
      const input = await placed(g);
      const r = await g.verifyNotify(make(input.orderNo));
      expect(r).toEqual({ action: 'invalid', reason: expect.stringMatching(reason), reply: { status: 200, type: 'text/plain', body: 'fail' } });
      expect((r as { reason: string }).reason).not.toContain(KEY);
    };

    it('a tampered amount', () => invalidWith(/bad signature/, (no) => reqFrom({ ...fake.pay(no), money: '0.01' }, 'get')));
    it('a tampered order number', () => invalidWith(/bad signature/, (no) => reqFrom({ ...fake.pay(no), out_trade_no: 'OTHER' }, 'form')));
    it('a notify signed with another key', () => invalidWith(/bad signature.*merchant key/, (no) => reqFrom(fake.notifyParams(no, {}, 'another-merchant-key'), 'json')));
    it('a notify for another pid (validly signed)', () => invalidWith(/pid 1002/, (no) => reqFrom(fake.notifyParams(no, { pid: '1002' }), 'get')));
    it('a notify without sign', () =>
      invalidWith(/missing sign/, (no) => {
        const { sign: _sign, ...rest } = fake.pay(no);
        return reqFrom(rest, 'get');
      }));
    it('an empty sign', () => invalidWith(/missing sign/, (no) => reqFrom({ ...fake.pay(no), sign: '' }, 'form')));
    it('an RSA (V2) notify', () => invalidWith(/sign_type RSA/, (no) => reqFrom({ ...fake.pay(no), sign_type: 'RSA' }, 'get')));
    it('a repeated field in a form', () =>
      invalidWith(/repeated/, (no) => {
        const p = fake.pay(no);
        const rawBody = `${new URLSearchParams(p).toString()}&money=0.01`;
        return { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, query: {}, rawBody, body: {} };
      }));
    it('an empty request', () => invalidWith(/missing sign/, () => ({ method: 'POST', headers: {}, query: {}, rawBody: '', body: {} })));
  });

  it('ignores a validly signed notify whose trade_status is not TRADE_SUCCESS, acknowledging it', async () => {
    const g = await gatewayOf({ types: ['alipay'] });
    const input = await placed(g);
    const r = await g.verifyNotify(reqFrom(fake.notifyParams(input.orderNo, { trade_status: 'WAIT_BUYER_PAY' }), 'get'));
    expect(r).toEqual({ action: 'ignored', orderNo: input.orderNo, reply: { status: 200, type: 'text/plain', body: 'success' }, failReply: { status: 200, type: 'text/plain', body: 'fail' } });
  });
});

describe('query (api.php?act=order)', () => {
  it('reports pending, then paid with the amount and trade number', async () => {
    const g = await gatewayOf({ types: ['alipay'] });
    const input = await placed(g, 4321);
    const tradeNo = fake.orders.get(input.orderNo)!.trade_no;
    expect(await g.query({ orderNo: input.orderNo })).toEqual({ status: 'pending', tradeNo });
    fake.pay(input.orderNo);
    expect(await g.query({ orderNo: input.orderNo })).toEqual({ status: 'paid', amount: 4321, tradeNo });
    expect(fake.requests.at(-1)).toMatchObject({ method: 'GET', path: '/api.php', act: 'order', params: { pid: PID, key: KEY, out_trade_no: input.orderNo } });
  });

  it('reports unknown for an order epay does not know, and for a refunded one', async () => {
    const g = await gatewayOf({ types: ['alipay'] });
    expect(await g.query({ orderNo: 'NEVER-CREATED' })).toEqual({ status: 'unknown' });
    expect(logs.at(-1)).toMatch(/订单号不存在/);
    const input = await placed(g, 100);
    fake.pay(input.orderNo);
    expect(await g.refund({ orderNo: input.orderNo, amount: 100, refundNo: 'R1', reason: 'test' })).toEqual({ status: 'refunded' });
    expect(await g.query({ orderNo: input.orderNo })).toMatchObject({ status: 'unknown' });
  });

  it('logs a wrong key as a warning without the key, and reports unknown', async () => {
    const g = await gatewayOf({ types: ['alipay'], key: 'wrong-key-wrong-key' });
    expect(await g.query({ orderNo: 'X' })).toEqual({ status: 'unknown' });
    expect(logs.at(-1)).toMatch(/KEY校验失败/);
    expect(logs.join('\n')).not.toContain('wrong-key-wrong-key');
  });
});

describe('refund (api.php?act=refund)', () => {
  it('refunds in part and in full, then fails beyond the amount paid', async () => {
    const g = await gatewayOf({ types: ['alipay'] });
    const input = await placed(g, 1000);
    const tradeNo = fake.orders.get(input.orderNo)!.trade_no;
    fake.pay(input.orderNo);
    expect(await g.refund({ orderNo: input.orderNo, tradeNo, amount: 300, refundNo: 'R1', reason: 'partial' })).toEqual({ status: 'refunded' });
    expect(fake.requests.at(-1)).toMatchObject({
      method: 'POST',
      path: '/api.php',
      act: 'refund',
      params: { pid: PID, key: KEY, out_trade_no: input.orderNo, trade_no: tradeNo, money: '3.00' },
    });
    expect(await g.refund({ orderNo: input.orderNo, amount: 700, refundNo: 'R2', reason: 'rest' })).toEqual({ status: 'refunded' });
    expect(fake.orders.get(input.orderNo)!.status).toBe(2);
    expect(await g.refund({ orderNo: input.orderNo, amount: 1, refundNo: 'R3', reason: 'too much' })).toEqual({ status: 'failed', reason: expect.stringMatching(/^epay: /) });
  });

  it('fails for an unpaid order with epay\'s message', async () => {
    const g = await gatewayOf({ types: ['alipay'] });
    const input = await placed(g, 1000);
    expect(await g.refund({ orderNo: input.orderNo, amount: 1000, refundNo: 'R', reason: 'x' })).toEqual({ status: 'failed', reason: 'epay: 只有已支付的订单才能退款' });
  });
});

describe('HTTP trouble', () => {
  it('times out with an error naming the gateway; a refund with no answer is pending', async () => {
    const g = await gatewayOf({ types: ['alipay'], timeoutMs: 1000 });
    const input = await placed(g, 100);
    fake.pay(input.orderNo);
    fake.delayMs = 1500;
    const err = await g.query({ orderNo: input.orderNo }).catch((e: Error) => e);
    expect(String(err)).toMatch(/epay gateway "epay": query \(api.php\?act=order\): no answer from http:\/\/127.0.0.1:\d+\/api.php within 1000 ms/);
    expect(String(err)).not.toContain(KEY);
    const r = await g.refund({ orderNo: input.orderNo, amount: 100, refundNo: 'R', reason: 'x' });
    expect(r).toMatchObject({ status: 'pending', reason: expect.stringMatching(/may or may not/) });
  });

  it('says so when the site answers HTML instead of JSON', async () => {
    const g = await gatewayOf({ mode: 'api', types: ['alipay'] });
    fake.html = true;
    await expect(g.createPayment(order())).rejects.toThrow(/epay gateway "epay": create payment \(mapi.php\): .* did not answer JSON .*系统发生错误.*apiUrl/);
    await expect(g.query({ orderNo: 'X' })).rejects.toThrow(/did not answer JSON/);
  });

  it('says so when the site cannot be reached, without the key', async () => {
    const closed = await startFakeEpay();
    const url = closed.url;
    await closed.close();
    const g = await gatewayOf({ apiUrl: url, types: ['alipay'] });
    const err = await g.query({ orderNo: 'X' }).catch((e: Error) => e);
    expect(String(err)).toMatch(/epay gateway "epay": query \(api.php\?act=order\): cannot reach http:\/\/127.0.0.1:\d+\/api.php \(ECONNREFUSED\); check apiUrl/);
    expect(String(err)).not.toContain(KEY);
  });

  it('explains a redirect (http vs https) without leaking the query', async () => {
    const redirector = createServer((req, res) => {
      res.writeHead(301, { location: `https://pay.example.com${req.url ?? '/'}` });
      res.end();
    });
    await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', r));
    const g = await gatewayOf({ apiUrl: `http://127.0.0.1:${(redirector.address() as AddressInfo).port}`, types: ['alipay'] });
    const err = await g.query({ orderNo: 'X' }).catch((e: Error) => e);
    await new Promise((r) => redirector.close(r));
    expect(String(err)).toMatch(/redirects \(HTTP 301\) to https:\/\/pay.example.com\/api.php; set apiUrl/);
    expect(String(err)).not.toContain(KEY);
  });
});
