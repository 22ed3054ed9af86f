import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { definePlugin } from '../plugins/define.js';
import { CORE_VERSION } from '../plugins/host.js';
import type { NotifyReply, PaymentGateway, QueryResult } from '../plugins/payment.js';
import { safeEqual } from '../security/keys.js';

/**
 * A payment gateway for tests and for plugin authors: it "collects" nothing, and its notifies are
 * JSON signed with HMAC-SHA256 in an `x-dummy-signature` header, so tests exercise the same
 * verify → markPaid path a real gateway does. `POST /plugins/dummy-pay/paid` marks an order paid at
 * the gateway without a notify, for the query paths.
 */
export const DUMMY_SECRET = 'dummy-gateway-secret';

export function signDummy(payload: object, secret = DUMMY_SECRET): { body: string; signature: string } {
  const body = JSON.stringify(payload);
  return { body, signature: createHmac('sha256', secret).update(body).digest('hex') };
}

const ok: NotifyReply = { body: 'ok' };
const fail: NotifyReply = { status: 400, body: 'fail' };

export const dummyPayments = definePlugin({
  name: 'dummy-pay',
  version: CORE_VERSION,
  core: `>=${CORE_VERSION}`,
  settings: z.object({
    secret: z.string().default(DUMMY_SECRET),
    action: z.enum(['redirect', 'qr', 'form']).default('redirect'),
    /** Make createPayment fail, as a gateway that is down would. */
    down: z.boolean().default(false),
  }),
  setup(ctx) {
    const { secret, action, down } = ctx.settings;
    const orders = new Map<string, QueryResult>();
    // What the gateway's own records say when they disagree with what it notified (see /unpaid).
    const records = new Map<string, QueryResult>();
    const gateway: PaymentGateway = {
      id: 'dummy',
      label: { 'zh-CN': '测试支付', en: 'Test payment' },
      async createPayment(input) {
        if (down) throw new Error('dummy gateway is down');
        orders.set(input.orderNo, { status: 'pending', amount: input.amount });
        const url = `https://pay.example.test/checkout?no=${input.orderNo}&amount=${input.amount}`;
        if (action === 'qr') return { kind: 'qr', content: url };
        if (action === 'form') return { kind: 'form', action: url, method: 'POST', fields: { no: input.orderNo } };
        return { kind: 'redirect', url };
      },
      async verifyNotify(req) {
        const signature = req.headers['x-dummy-signature'] ?? '';
        if (!safeEqual(signature, createHmac('sha256', secret).update(req.rawBody).digest('hex'))) {
          return { action: 'invalid', reason: 'bad signature', reply: fail };
        }
        const n = req.body as { orderNo?: string; amount?: number; tradeNo?: string; status?: string };
        if (!n.orderNo || !n.tradeNo || !Number.isSafeInteger(n.amount)) return { action: 'invalid', reason: 'malformed', reply: fail };
        if (n.status === 'paid') {
          orders.set(n.orderNo, { status: 'paid', amount: n.amount, tradeNo: n.tradeNo });
          return { action: 'paid', orderNo: n.orderNo, amount: n.amount!, tradeNo: n.tradeNo, reply: ok, failReply: fail };
        }
        if (n.status === 'failed') return { action: 'failed', orderNo: n.orderNo, reply: ok, failReply: fail };
        return { action: 'ignored', orderNo: n.orderNo, reply: ok, failReply: fail };
      },
      async query({ orderNo }) {
        return records.get(orderNo) ?? orders.get(orderNo) ?? { status: 'unknown' };
      },
      async refund({ orderNo }) {
        return orders.get(orderNo)?.status === 'paid' ? { status: 'refunded', refundId: `R-${orderNo}` } : { status: 'failed', reason: 'not paid' };
      },
    };
    ctx.paymentGateway(gateway);
    // The buyer pays at the "gateway" and no notify follows (it was lost): only a query can tell.
    ctx.routes((r) =>
      r.post('/paid', (c) => {
        const { orderNo, amount } = c.request.body as { orderNo: string; amount: number };
        orders.set(orderNo, { status: 'paid', amount, tradeNo: `Q-${orderNo}` });
        records.delete(orderNo);
        c.status = 204;
      }),
    );
    // The gateway's records say the order was never paid, whatever it notifies (a replayed or
    // misrouted notify with a valid signature): only a query can tell.
    ctx.routes((r) =>
      r.post('/unpaid', (c) => {
        const { orderNo } = c.request.body as { orderNo: string };
        records.set(orderNo, { status: 'pending' });
        c.status = 204;
      }),
    );
  },
});
