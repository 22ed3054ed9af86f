import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { stockOf, verifyLedger } from '@cardshop/core';
import alipay from '@cardshop/plugin-payment-alipay';
import epay from '@cardshop/plugin-payment-epay';
import stripePlugin from '@cardshop/plugin-payment-stripe';
import wechatpay from '@cardshop/plugin-payment-wechatpay';
import { startTestShop, TEST_DIALECTS } from '@cardshop/core/testing';
import { describe, expect, it } from 'vitest';
import { startFakeAlipay } from '../plugins/payment-alipay/src/testing/fake-alipay.js';
import { startFakeEpay } from '../plugins/payment-epay/src/testing/fake-epay.js';
import { startFakeStripe } from '../plugins/payment-stripe/src/testing/fake-stripe.js';
import { startFakeWechatpay } from '../plugins/payment-wechatpay/src/testing/fake-wechatpay.js';
import { cardSku } from './fixtures.js';

// Stripe's own SDK signs the webhooks, as Stripe would.
type StripeSdk = new (key: string) => { webhooks: { generateTestHeaderString(o: { payload: string; secret: string }): string } };
const Stripe = createRequire(path.resolve('plugins/payment-stripe/package.json'))('stripe') as StripeSdk;

const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = (k: KeyObject, type: 'pkcs8' | 'spki') => String(k.export({ type, format: 'pem' } as never));

/** Reads an order as its guest sees it, through the token the checkout gave. */
async function guestView(t: { client(): { get(p: string): Promise<{ body: any }> } }, placed: { body: { order: { no: string }; token: string } }) {
  return (await t.client().get(`/api/store/orders/${placed.body.order.no}?token=${encodeURIComponent(placed.body.token)}`)).body.order;
}

describe.each(TEST_DIALECTS)('a guest pays through a real gateway plugin (%s)', (dialect) => {
  it('epay: the fake epay site pays and notifies; the shop delivers once', async () => {
    const site = await startFakeEpay({ pid: '1001', key: 'merchant-key-123' });
    const t = await startTestShop({
      dialect,
      config: { plugins: [epay({ apiUrl: `${site.url}/`, pid: '1001', key: 'merchant-key-123', mode: 'api', types: ['alipay'] })] },
    });
    try {
      const { code, keys } = await cardSku(t.shop, { keys: 2, price: 1234 });
      const placed = await t.client().post('/api/store/checkout', { sku: code, contact: '13800138000', payment: 'epay' });
      expect(placed.status).toBe(201);
      const no: string = placed.body.order.no;
      expect(site.orders.get(no)).toMatchObject({ money: '12.34', notify_url: `${t.url}/pay/epay/notify` });

      // the epay site calls back: GET with its signed query, as epay does
      const answer = await site.sendNotify(site.pay(no), 'get');
      expect(answer.body).toBe('success');
      expect((await site.sendNotify(site.notifyParams(no), 'form')).body).toBe('success'); // a retry changes nothing
      const order = await guestView(t, placed);
      expect(order).toMatchObject({ status: 'delivered' });
      expect(order.keys.map((k: { card: string }) => k.card)).toEqual([keys[0]]);

      // a notify signed with another key is refused and changes nothing
      const other = await t.client().post('/api/store/checkout', { sku: code, contact: 'a@b.cd', payment: 'epay' });
      const forged = await site.sendNotify(site.notifyParams(other.body.order.no, { trade_status: 'TRADE_SUCCESS' }, 'wrong-key'), 'get');
      expect(forged.body).toBe('fail');
      expect((await t.shop.db.knex('orders').where('no', other.body.order.no).first()).status).toBe('pending_payment');
      expect(await stockOf(t.shop, code)).toEqual({ counter: 0, available: 0 }); // the unpaid order holds the last key
      expect((await verifyLedger(t.shop)).ok).toBe(true);
    } finally {
      await t.close();
      await site.close();
    }
  });

  it('Stripe: a Checkout Session on the fake API, then a webhook signed by the SDK', async () => {
    const secretKey = 'sk_test_cardshop';
    const webhookSecret = 'whsec_cardshop_test';
    const api = await startFakeStripe({ apiKey: secretKey });
    const t = await startTestShop({
      dialect,
      config: { plugins: [stripePlugin({ secretKey, webhookSecret, apiHost: '127.0.0.1', apiPort: api.port, apiProtocol: 'http' })] },
    });
    try {
      const { code, keys } = await cardSku(t.shop, { keys: 1, price: 2599 });
      const placed = await t.client().post('/api/store/checkout', { sku: code, contact: 'buyer@example.com', payment: 'stripe' });
      expect(placed.status).toBe(201);
      expect(placed.body.payment.kind).toBe('redirect');
      const no: string = placed.body.order.no;

      const event = {
        id: 'evt_1',
        object: 'event',
        type: 'checkout.session.completed',
        data: {
          object: {
            id: 'cs_test_1',
            object: 'checkout.session',
            mode: 'payment',
            payment_status: 'paid',
            amount_total: 2599,
            currency: 'cny',
            payment_intent: 'pi_test_1',
            client_reference_id: no,
            metadata: { order_no: no },
          },
        },
      };
      const payload = JSON.stringify(event);
      const header = new Stripe(secretKey).webhooks.generateTestHeaderString({ payload, secret: webhookSecret });
      const hook = await t.client().post('/pay/stripe/notify', payload, { 'content-type': 'application/json', 'stripe-signature': header });
      expect(hook.status).toBe(200);
      const tampered = await t.client().post('/pay/stripe/notify', payload.replace('2599', '1'), { 'content-type': 'application/json', 'stripe-signature': header });
      expect(tampered.status).toBe(400);

      const order = await guestView(t, placed);
      expect(order).toMatchObject({ status: 'delivered' });
      expect(order.keys[0].card).toBe(keys[0]);
      expect((await verifyLedger(t.shop)).ok).toBe(true);
    } finally {
      await t.close();
      await api.close();
    }
  });

  it('Alipay: precreate QR on the fake gateway, then its RSA2-signed form notify', async () => {
    const app = rsa();
    const ali = rsa();
    const fake = await startFakeAlipay({ appId: '2021000000000001', appPublicKey: app.publicKey, alipayPrivateKey: ali.privateKey });
    const t = await startTestShop({
      dialect,
      config: {
        plugins: [alipay({ appId: '2021000000000001', privateKey: pem(app.privateKey, 'pkcs8'), alipayPublicKey: pem(ali.publicKey, 'spki'), gateway: fake.gateway, mode: 'qr' })],
      },
    });
    try {
      const { code, keys } = await cardSku(t.shop, { keys: 1, price: 1888 });
      const placed = await t.client().post('/api/store/checkout', { sku: code, contact: 'a@example.com', payment: 'alipay' });
      expect(placed.status).toBe(201);
      expect(placed.body.payment.kind).toBe('qr');
      const outTradeNo = placed.body.order.no.replace('-', '_');
      fake.pay(outTradeNo);
      const notify = new URLSearchParams(fake.notify(outTradeNo));
      const answer = await t.client().post('/pay/alipay/notify', notify);
      expect(answer.text).toBe('success');
      const order = await guestView(t, placed);
      expect(order).toMatchObject({ status: 'delivered' });
      expect(order.keys[0].card).toBe(keys[0]);
      expect((await verifyLedger(t.shop)).ok).toBe(true);
    } finally {
      await t.close();
      await fake.close();
    }
  });

  it('WeChat Pay: Native QR on the fake API, then its signed, encrypted callback', async () => {
    const merchant = rsa();
    const platform = rsa();
    const apiV3Key = randomBytes(16).toString('hex');
    const ids = { mchid: '1900009191', appid: 'wxd678efh567hg6787', merchantSerialNo: '1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C', platformPublicKeyId: 'PUB_KEY_ID_0119000091912024120200112233000001' };
    const fake = await startFakeWechatpay({ ...ids, merchantPublicKey: merchant.publicKey, platformPrivateKey: platform.privateKey, apiV3Key });
    const t = await startTestShop({
      dialect,
      config: {
        plugins: [
          wechatpay({
            ...ids,
            merchantPrivateKey: pem(merchant.privateKey, 'pkcs8'),
            apiV3Key,
            platformPublicKey: pem(platform.publicKey, 'spki'),
            baseUrl: fake.url,
          }),
        ],
      },
    });
    try {
      const { code, keys } = await cardSku(t.shop, { keys: 1, price: 666 });
      const placed = await t.client().post('/api/store/checkout', { sku: code, contact: 'w@example.com', payment: 'wechatpay' });
      expect(placed.status).toBe(201);
      expect(placed.body.payment.kind).toBe('qr');
      const no: string = placed.body.order.no;
      expect(fake.orders.get(no)?.notify_url).toBe(`${t.url}/pay/wechatpay/notify`);
      fake.pay(no);
      const delivered = await fake.deliver(`${t.url}/pay/wechatpay/notify`, fake.notification('TRANSACTION.SUCCESS', fake.transactionResource(no)));
      expect(delivered.acknowledged).toBe(true);
      const order = await guestView(t, placed);
      expect(order).toMatchObject({ status: 'delivered' });
      expect(order.keys[0].card).toBe(keys[0]);
      expect((await verifyLedger(t.shop)).ok).toBe(true);
    } finally {
      await t.close();
      await fake.close();
    }
  });
});
