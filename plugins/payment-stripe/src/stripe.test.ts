import { createHmac } from 'node:crypto';
import type { NotifyRequest, PaymentGateway } from '@cardshop/core';
import Stripe from 'stripe';
import { recordingLogger, setupPlugin } from '@cardshop/core/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import stripePlugin, { checkoutIdempotencyKey, type StripeSettings, type StripeSettingsInput } from './index.js';
import { startFakeStripe, type FakeStripe } from './testing/fake-stripe.js';

const SECRET_KEY = 'sk_test_cardshop_fake';
const WEBHOOK_SECRET = 'whsec_test_cardshop_0123456789abcdef';
/** The official SDK, used as the other side: it signs webhooks the way Stripe does. */
const signer = new Stripe('sk_test_signer_only');

let fake: FakeStripe;
const { log, logged } = recordingLogger();

/** Runs the plugin's setup against a minimal context, the way the shop's plugin host does. */
async function configure(input: Partial<StripeSettingsInput> = {}): Promise<{ gateways: PaymentGateway[]; settings: StripeSettings }> {
  const input_ = {
    secretKey: SECRET_KEY,
    webhookSecret: WEBHOOK_SECRET,
    apiHost: '127.0.0.1',
    apiPort: fake.port,
    apiProtocol: 'http' as const,
    ...input,
  };
  return setupPlugin(stripePlugin, input_, log);
}

async function gateway(input: Partial<StripeSettingsInput> = {}): Promise<PaymentGateway> {
  const { gateways } = await configure(input);
  expect(gateways).toHaveLength(1);
  return gateways[0]!;
}

function event(type: string, object: Record<string, unknown>, id = `evt_${type.replace(/\W/g, '_')}`): string {
  return JSON.stringify({
    id,
    object: 'event',
    api_version: Stripe.API_VERSION,
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    data: { object },
  });
}

function session(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'cs_test_a1',
    object: 'checkout.session',
    mode: 'payment',
    status: 'complete',
    payment_status: 'paid',
    amount_total: 1234,
    currency: 'cny',
    client_reference_id: 'O20261202001',
    metadata: { order_no: 'O20261202001' },
    payment_intent: 'pi_test_a1',
    livemode: false,
    ...over,
  };
}

function charge(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'ch_test_a1',
    object: 'charge',
    amount: 1234,
    amount_refunded: 1234,
    refunded: true,
    currency: 'cny',
    payment_intent: 'pi_test_a1',
    metadata: { order_no: 'O20261202001' },
    ...over,
  };
}

function signed(payload: string, opts: { secret?: string; timestamp?: number } = {}): NotifyRequest {
  const header = signer.webhooks.generateTestHeaderString({
    payload,
    secret: opts.secret ?? WEBHOOK_SECRET,
    ...(opts.timestamp !== undefined ? { timestamp: opts.timestamp } : {}),
  });
  return notify(payload, header);
}

function notify(payload: string, signature?: string, method = 'POST'): NotifyRequest {
  return {
    method,
    headers: { 'content-type': 'application/json', ...(signature !== undefined ? { 'stripe-signature': signature } : {}) },
    query: {},
    rawBody: payload,
    body: JSON.parse(payload) as Record<string, unknown>,
  };
}

const createInput = {
  orderNo: 'O20261202001',
  amount: 1234,
  currency: 'CNY',
  subject: 'Steam 钱包充值卡 - ¥100 面值 ×1',
  notifyUrl: 'https://shop.example/pay/stripe/notify',
  returnUrl: 'https://shop.example/pay/stripe/return?no=O20261202001',
};

beforeAll(async () => {
  fake = await startFakeStripe({ apiKey: SECRET_KEY });
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.reset();
  logged.length = 0;
});

describe('settings and setup', () => {
  it('registers one gateway with defaults: id stripe, currency cny, a label in both languages', async () => {
    const { gateways, settings } = await configure();
    expect(settings.currency).toBe('cny');
    expect(settings.id).toBe('stripe');
    expect(gateways[0]!.id).toBe('stripe');
    expect(gateways[0]!.label['zh-CN']).toMatch(/Stripe/);
    expect(gateways[0]!.label.en).toMatch(/Stripe/);
    expect(stripePlugin.definition.name).toBe('stripe');
    expect(stripePlugin.definition.core).toBe('>=0.1.0 <1.0.0');
  });

  it('takes its own id, label and currency (case-insensitive)', async () => {
    const { gateways, settings } = await configure({ id: 'stripe-eu', label: 'Card', currency: 'EUR' });
    expect(gateways[0]!.id).toBe('stripe-eu');
    expect(gateways[0]!.label).toEqual({ 'zh-CN': 'Card', en: 'Card' });
    expect(settings.currency).toBe('eur');
  });

  it('refuses zero-decimal currencies, publishable keys, bad secrets and bad ids', () => {
    const schema = stripePlugin.definition.settings!;
    const base = { secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET };
    const jpy = schema.safeParse({ ...base, currency: 'jpy' });
    expect(jpy.success).toBe(false);
    expect(jpy.error!.issues[0]!.message).toMatch(/zero-decimal/);
    expect(schema.safeParse({ ...base, currency: 'kwd' }).success).toBe(false);
    expect(schema.safeParse({ ...base, secretKey: 'pk_test_abc' }).success).toBe(false);
    expect(schema.safeParse({ ...base, webhookSecret: 'abc' }).success).toBe(false);
    expect(schema.safeParse({ ...base, id: 'wallet' }).success).toBe(false);
    expect(schema.safeParse({ ...base, id: 'Stripe' }).success).toBe(false);
    expect(schema.safeParse({ secretKey: SECRET_KEY }).success).toBe(false);
    expect(schema.safeParse({ ...base, currency: 'usd' }).success).toBe(true);
  });
});

describe('createPayment', () => {
  it('creates a Checkout Session with the order in it and redirects to its URL', async () => {
    const gw = await gateway();
    const action = await gw.createPayment(createInput);
    expect(action).toEqual({ kind: 'redirect', url: 'https://checkout.stripe.com/c/pay/cs_test_1' });

    expect(fake.requests).toHaveLength(1);
    const req = fake.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/v1/checkout/sessions');
    expect(req.headers.authorization).toBe(`Bearer ${SECRET_KEY}`);
    expect(req.headers['content-type']).toMatch(/application\/x-www-form-urlencoded/);
    expect(req.idempotencyKey).toBe(checkoutIdempotencyKey('stripe', 'O20261202001'));
    expect(req.form).toEqual({
      mode: 'payment',
      'line_items[0][quantity]': '1',
      'line_items[0][price_data][currency]': 'cny',
      'line_items[0][price_data][unit_amount]': '1234',
      'line_items[0][price_data][product_data][name]': 'Steam 钱包充值卡 - ¥100 面值 ×1',
      client_reference_id: 'O20261202001',
      'metadata[order_no]': 'O20261202001',
      'payment_intent_data[metadata][order_no]': 'O20261202001',
      success_url: createInput.returnUrl,
      cancel_url: createInput.returnUrl,
    });
  });

  it('sends the same idempotency key when asked twice for one order, so Stripe makes one session', async () => {
    const gw = await gateway();
    const [a, b] = await Promise.all([gw.createPayment(createInput), gw.createPayment(createInput)]);
    const c = await gw.createPayment(createInput);
    expect(fake.requests.map((r) => r.idempotencyKey)).toEqual(Array(3).fill('cardshop:stripe:checkout:O20261202001'));
    expect(fake.sessions).toHaveLength(1);
    expect(a).toEqual(b);
    expect(c).toEqual(a);

    await gw.createPayment({ ...createInput, orderNo: 'O20261202002', returnUrl: 'https://shop.example/pay/stripe/return?no=O20261202002' });
    expect(fake.requests.at(-1)!.idempotencyKey).toBe('cardshop:stripe:checkout:O20261202002');
    expect(fake.sessions).toHaveLength(2);
  });

  it('charges whole minor units in the configured currency and refuses a mismatch or a fractional amount', async () => {
    const gw = await gateway({ currency: 'usd' });
    await gw.createPayment({ ...createInput, amount: 50, currency: 'USD' });
    expect(fake.requests[0]!.form['line_items[0][price_data][currency]']).toBe('usd');
    expect(fake.requests[0]!.form['line_items[0][price_data][unit_amount]']).toBe('50');

    await expect(gw.createPayment({ ...createInput, currency: 'CNY' })).rejects.toThrow(/set up for USD/);
    await expect(gw.createPayment({ ...createInput, currency: 'JPY' })).rejects.toThrow(/zero-decimal/);
    await expect(gw.createPayment({ ...createInput, currency: 'USD', amount: 12.5 })).rejects.toThrow(RangeError);
    await expect(gw.createPayment({ ...createInput, currency: 'USD', amount: 0 })).rejects.toThrow(RangeError);
    expect(fake.requests).toHaveLength(1);
  });

  it('passes Stripe errors on', async () => {
    const gw = await gateway({ secretKey: 'sk_test_wrong' });
    await expect(gw.createPayment(createInput)).rejects.toThrow(/Invalid API Key/);
  });
});

describe('verifyNotify: signatures', () => {
  const payload = event('checkout.session.completed', session());

  it('accepts an event signed by the SDK', async () => {
    const gw = await gateway();
    const result = await gw.verifyNotify(signed(payload));
    expect(result).toEqual({
      action: 'paid',
      orderNo: 'O20261202001',
      amount: 1234,
      tradeNo: 'pi_test_a1',
      reply: { status: 200, type: 'application/json', body: '{"received":true}' },
      failReply: { status: 500, type: 'application/json', body: '{"received":false}' },
    });
  });

  it('accepts a v1 signature computed by hand, and the SDK computes the same one', async () => {
    const gw = await gateway();
    const t = Math.floor(Date.now() / 1000);
    const v1 = createHmac('sha256', WEBHOOK_SECRET).update(`${t}.${payload}`, 'utf8').digest('hex');
    const header = `t=${t},v1=${v1}`;
    expect(signer.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET, timestamp: t })).toBe(header);
    expect((await gw.verifyNotify(notify(payload, header))).action).toBe('paid');
    // Stripe sends several v1 signatures while a secret is being rolled; one that matches is enough.
    expect((await gw.verifyNotify(notify(payload, `t=${t},v1=${'0'.repeat(64)},v1=${v1},v0=abc`))).action).toBe('paid');
  });

  it('rejects a tampered payload, a wrong secret, a stale timestamp and a missing or garbled header with 400', async () => {
    const gw = await gateway();
    const good = signed(payload);
    const tampered = payload.replace('"amount_total":1234', '"amount_total":1');
    expect(tampered).not.toBe(payload);
    const t = Math.floor(Date.now() / 1000);
    const cases: NotifyRequest[] = [
      { ...good, rawBody: tampered, body: JSON.parse(tampered) as Record<string, unknown> },
      signed(payload, { secret: 'whsec_not_the_right_one' }),
      signed(payload, { timestamp: t - 301 - 5 }),
      signed(payload, { timestamp: t - 3600 }),
      notify(payload),
      notify(payload, ''),
      notify(payload, 'garbage'),
      notify(payload, `t=${t},v1=${createHmac('sha256', WEBHOOK_SECRET).update(payload).digest('hex')}`),
      { ...good, method: 'GET' },
    ];
    for (const req of cases) {
      const result = await gw.verifyNotify(req);
      expect(result.action, JSON.stringify(req.headers)).toBe('invalid');
      expect(result.reply.status).toBe(400);
    }
    // Within the 300 s tolerance it still verifies.
    expect((await gw.verifyNotify(signed(payload, { timestamp: t - 240 }))).action).toBe('paid');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('verifyNotify: events', () => {
  const OK = { status: 200, type: 'application/json', body: '{"received":true}' };

  it('maps each event type', async () => {
    const gw = await gateway();
    const cases: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
      ['checkout.session.completed', session(), { action: 'paid', orderNo: 'O20261202001', amount: 1234, tradeNo: 'pi_test_a1' }],
      // A bank debit: completed but not yet paid; wait for async_payment_succeeded.
      ['checkout.session.completed', session({ payment_status: 'unpaid' }), { action: 'ignored', orderNo: 'O20261202001' }],
      ['checkout.session.async_payment_succeeded', session({ amount_total: 999 }), { action: 'paid', orderNo: 'O20261202001', amount: 999, tradeNo: 'pi_test_a1' }],
      ['checkout.session.async_payment_failed', session({ payment_status: 'unpaid' }), { action: 'failed', orderNo: 'O20261202001', tradeNo: 'pi_test_a1' }],
      ['checkout.session.expired', session({ status: 'expired', payment_status: 'unpaid', payment_intent: null }), { action: 'failed', orderNo: 'O20261202001' }],
      ['charge.refunded', charge(), { action: 'refunded', orderNo: 'O20261202001', tradeNo: 'pi_test_a1' }],
      // Partly refunded: the order is not refunded.
      ['charge.refunded', charge({ refunded: false, amount_refunded: 200 }), { action: 'ignored', orderNo: 'O20261202001' }],
      ['payment_intent.succeeded', { id: 'pi_test_a1', object: 'payment_intent', metadata: { order_no: 'O20261202001' } }, { action: 'ignored' }],
      ['customer.created', { id: 'cus_1', object: 'customer' }, { action: 'ignored' }],
      // Sessions this shop did not create (another app on the same account).
      ['checkout.session.completed', session({ metadata: {}, client_reference_id: null }), { action: 'ignored' }],
      ['checkout.session.completed', session({ mode: 'subscription' }), { action: 'ignored', orderNo: 'O20261202001' }],
      // Expanded payment_intent object.
      ['checkout.session.completed', session({ payment_intent: { id: 'pi_test_x', object: 'payment_intent' } }), { action: 'paid', orderNo: 'O20261202001', amount: 1234, tradeNo: 'pi_test_x' }],
      // Only client_reference_id.
      ['checkout.session.completed', session({ metadata: {} }), { action: 'paid', orderNo: 'O20261202001', amount: 1234, tradeNo: 'pi_test_a1' }],
    ];
    for (const [type, object, expected] of cases) {
      const result = await gw.verifyNotify(signed(event(type, object)));
      expect(result, `${type} ${JSON.stringify(object)}`).toMatchObject(expected);
      expect(result.reply).toEqual(OK);
      if (result.action !== 'invalid') expect(result.failReply.status).toBe(500);
      if (!('tradeNo' in expected)) expect(result).not.toHaveProperty('tradeNo');
    }
    expect(fake.requests).toHaveLength(0);
  });

  it('does not report a payment in another currency as paid', async () => {
    const gw = await gateway();
    const result = await gw.verifyNotify(signed(event('checkout.session.completed', session({ currency: 'usd' }))));
    expect(result).toMatchObject({ action: 'ignored', orderNo: 'O20261202001' });
    expect(logged.some((l) => l.level === 'error' && /usd/.test(l.msg))).toBe(true);
  });

  it('finds the order of a refunded charge without metadata through its PaymentIntent', async () => {
    const gw = await gateway();
    fake.addPaymentIntent({ id: 'pi_test_meta', amount: 1234, metadata: { order_no: 'O20261202009' } });
    const result = await gw.verifyNotify(signed(event('charge.refunded', charge({ metadata: {}, payment_intent: 'pi_test_meta' }))));
    expect(result).toMatchObject({ action: 'refunded', orderNo: 'O20261202009', tradeNo: 'pi_test_meta' });
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/payment_intents/pi_test_meta']);

    // A charge of something else on the account.
    fake.addPaymentIntent({ id: 'pi_test_other', amount: 1, metadata: {} });
    expect(await gw.verifyNotify(signed(event('charge.refunded', charge({ metadata: {}, payment_intent: 'pi_test_other' }))))).toMatchObject({ action: 'ignored' });

    // The lookup fails: nothing is changed, and Stripe is told to send it again.
    const failed = await gw.verifyNotify(signed(event('charge.refunded', charge({ metadata: {}, payment_intent: 'pi_test_missing' }))));
    expect(failed.action).toBe('invalid');
    expect(failed.reply.status).toBe(500);
  });

  it('gives the same result for the same event delivered twice', async () => {
    const gw = await gateway();
    for (const [type, object] of [
      ['checkout.session.completed', session()],
      ['checkout.session.expired', session({ payment_status: 'unpaid' })],
      ['charge.refunded', charge()],
    ] as const) {
      const payload = event(type, object, 'evt_dup');
      const first = await gw.verifyNotify(signed(payload));
      const again = await gw.verifyNotify(signed(payload));
      expect(again).toEqual(first);
    }
  });
});

describe('query', () => {
  it('finds the PaymentIntent by order number with a metadata search', async () => {
    const gw = await gateway();
    fake.addPaymentIntent({ id: 'pi_test_paid', amount: 1234, metadata: { order_no: 'O1' } });
    expect(await gw.query({ orderNo: 'O1' })).toEqual({ status: 'paid', amount: 1234, tradeNo: 'pi_test_paid' });
    const req = fake.requests[0]!;
    expect(`${req.method} ${req.path}`).toBe('GET /v1/payment_intents/search');
    expect(req.query['query']).toBe("metadata['order_no']:'O1'");
    expect(req.headers.authorization).toBe(`Bearer ${SECRET_KEY}`);
  });

  it('maps pending, failed and unknown', async () => {
    const gw = await gateway();
    fake.addPaymentIntent({ id: 'pi_test_open', amount: 500, status: 'requires_payment_method', metadata: { order_no: 'O2' } });
    fake.addPaymentIntent({ id: 'pi_test_proc', amount: 500, status: 'processing', metadata: { order_no: 'O3' } });
    fake.addPaymentIntent({ id: 'pi_test_cancel', amount: 700, status: 'canceled', metadata: { order_no: 'O4' } });
    fake.addPaymentIntent({ id: 'pi_test_cancel2', amount: 700, status: 'canceled', metadata: { order_no: 'O5' } });
    fake.addPaymentIntent({ id: 'pi_test_ok5', amount: 700, metadata: { order_no: 'O5' } });
    expect(await gw.query({ orderNo: 'O2' })).toEqual({ status: 'pending', amount: 500, tradeNo: 'pi_test_open' });
    expect(await gw.query({ orderNo: 'O3' })).toEqual({ status: 'pending', amount: 500, tradeNo: 'pi_test_proc' });
    expect(await gw.query({ orderNo: 'O4' })).toEqual({ status: 'failed', amount: 700, tradeNo: 'pi_test_cancel' });
    expect(await gw.query({ orderNo: 'O5' })).toEqual({ status: 'paid', amount: 700, tradeNo: 'pi_test_ok5' });
    expect(await gw.query({ orderNo: 'O6' })).toEqual({ status: 'unknown' });
  });

  it('quotes the order number in the search query', async () => {
    const gw = await gateway();
    fake.addPaymentIntent({ id: 'pi_test_q', amount: 1, metadata: { order_no: "O'7\\x" } });
    expect(await gw.query({ orderNo: "O'7\\x" })).toMatchObject({ status: 'paid', tradeNo: 'pi_test_q' });
    expect(fake.requests[0]!.query['query']).toBe("metadata['order_no']:'O\\'7\\\\x'");
  });

  it('does not call a payment in another currency paid', async () => {
    const gw = await gateway();
    fake.addPaymentIntent({ id: 'pi_test_usd', amount: 100, currency: 'usd', metadata: { order_no: 'O8' } });
    expect(await gw.query({ orderNo: 'O8' })).toEqual({ status: 'unknown', tradeNo: 'pi_test_usd' });
  });
});

describe('refund', () => {
  const input = { orderNo: 'O1', tradeNo: 'pi_test_r', amount: 1234, refundNo: 'R20261202001', reason: '买家申请退款' };

  it('refunds the PaymentIntent with the refund number as idempotency key', async () => {
    const gw = await gateway();
    fake.addPaymentIntent({ id: 'pi_test_r', amount: 1234, metadata: { order_no: 'O1' } });
    const result = await gw.refund(input);
    expect(result).toEqual({ status: 'refunded', refundId: 're_test_1' });
    const req = fake.requests[0]!;
    expect(`${req.method} ${req.path}`).toBe('POST /v1/refunds');
    expect(req.idempotencyKey).toBe('R20261202001');
    expect(req.form).toEqual({
      payment_intent: 'pi_test_r',
      amount: '1234',
      'metadata[order_no]': 'O1',
      'metadata[refund_no]': 'R20261202001',
      'metadata[reason]': '买家申请退款',
    });
  });

  it('refunds once when asked twice with the same refund number', async () => {
    const gw = await gateway();
    fake.addPaymentIntent({ id: 'pi_test_r', amount: 1234, metadata: { order_no: 'O1' } });
    const a = await gw.refund(input);
    const b = await gw.refund(input);
    expect(b).toEqual(a);
    expect(fake.refunds).toHaveLength(1);
    expect(fake.requests.map((r) => r.idempotencyKey)).toEqual(['R20261202001', 'R20261202001']);
  });

  it('refunds part of a payment, and refuses more than is left', async () => {
    const gw = await gateway();
    fake.addPaymentIntent({ id: 'pi_test_r', amount: 1234, metadata: { order_no: 'O1' } });
    expect(await gw.refund({ ...input, amount: 1000, refundNo: 'R1' })).toMatchObject({ status: 'refunded' });
    const over = await gw.refund({ ...input, amount: 1000, refundNo: 'R2' });
    expect(over).toMatchObject({ status: 'failed' });
    expect(over.reason).toMatch(/greater than/);
    expect(await gw.refund({ ...input, amount: 234, refundNo: 'R3' })).toMatchObject({ status: 'refunded' });
    // Already fully refunded (say, from the Dashboard): the money is back, so it counts as refunded.
    expect(await gw.refund({ ...input, amount: 1, refundNo: 'R4' })).toMatchObject({ status: 'refunded' });
  });

  it('finds the payment by order number when no trade number is known', async () => {
    const gw = await gateway();
    fake.addPaymentIntent({ id: 'pi_test_found', amount: 300, metadata: { order_no: 'O9' } });
    const result = await gw.refund({ orderNo: 'O9', amount: 300, refundNo: 'R9', reason: 'x' });
    expect(result).toMatchObject({ status: 'refunded' });
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/payment_intents/search', 'POST /v1/refunds']);
    expect(fake.requests[1]!.form['payment_intent']).toBe('pi_test_found');
    expect(await gw.refund({ orderNo: 'O404', amount: 300, refundNo: 'R10', reason: 'x' })).toMatchObject({ status: 'failed' });
  });

  it('maps pending and failed refunds', async () => {
    const gw = await gateway();
    fake.addPaymentIntent({ id: 'pi_test_r', amount: 1234, metadata: { order_no: 'O1' } });
    fake.refundStatus = 'pending';
    expect(await gw.refund({ ...input, amount: 100, refundNo: 'Rp' })).toEqual({ status: 'pending', refundId: 're_test_1' });
    fake.refundStatus = 'failed';
    expect(await gw.refund({ ...input, amount: 100, refundNo: 'Rf' })).toMatchObject({ status: 'failed', reason: 'expired_or_canceled_card' });
    expect(await gw.refund({ ...input, amount: 10.5, refundNo: 'Rx' })).toMatchObject({ status: 'failed' });
  });

  it('retries a 5xx with the same idempotency key, so the refund happens once', async () => {
    const gw = await gateway();
    fake.addPaymentIntent({ id: 'pi_test_r', amount: 1234, metadata: { order_no: 'O1' } });
    fake.failNext('/v1/refunds', 500);
    expect(await gw.refund(input)).toMatchObject({ status: 'refunded' });
    expect(fake.requests.map((r) => r.idempotencyKey)).toEqual(['R20261202001', 'R20261202001']);
    expect(fake.refunds).toHaveLength(1);
  });

  it('throws when Stripe cannot be reached, so the refund can be asked again', async () => {
    const gw = await gateway();
    fake.failNext('/v1/refunds', 503, 3);
    await expect(gw.refund(input)).rejects.toThrow();
    expect(fake.refunds).toHaveLength(0);
  });
});
