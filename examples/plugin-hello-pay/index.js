// A complete payment gateway plugin in one file, plain JavaScript, depending on nothing but
// @cardshop/core and zod. "Hello Pay" signs its notifies with HMAC-SHA256 of the raw body.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { definePlugin } from '@cardshop/core';
import { z } from 'zod';

const sign = (secret, body) => createHmac('sha256', secret).update(body).digest('hex');

export default definePlugin({
  name: 'hello-pay',
  version: '1.0.0',
  core: '>=0.1.0 <1.0.0',
  settings: z.object({ secret: z.string().min(16), payUrl: z.url().default('https://pay.hello.test/') }),
  setup(ctx) {
    const ok = { body: 'OK' };
    const fail = { status: 400, body: 'FAIL' };
    ctx.paymentGateway({
      id: 'hello',
      label: { 'zh-CN': 'Hello 支付', en: 'Hello Pay' },
      async createPayment({ orderNo, amount, notifyUrl }) {
        const url = new URL(ctx.settings.payUrl);
        url.search = new URLSearchParams({ order: orderNo, amount: String(amount), notify: notifyUrl }).toString();
        return { kind: 'redirect', url: url.toString() };
      },
      async verifyNotify({ rawBody, headers, body }) {
        const given = Buffer.from(String(headers['x-hello-signature'] ?? ''));
        const expected = Buffer.from(sign(ctx.settings.secret, rawBody));
        if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { action: 'invalid', reason: 'bad signature', reply: fail };
        if (body.status !== 'paid') return { action: 'ignored', orderNo: body.order, reply: ok, failReply: fail };
        return { action: 'paid', orderNo: body.order, amount: body.amount, tradeNo: body.trade, reply: ok, failReply: fail };
      },
      async query() {
        return { status: 'unknown' };
      },
      async refund() {
        return { status: 'failed', reason: 'Hello Pay refunds by hand' };
      },
    });
  },
});

export { sign };
