import { createHmac } from 'node:crypto';
import path from 'node:path';
import { startTestShop, TEST_DIALECTS } from '@cardshop/core/testing';
import { describe, expect, it } from 'vitest';
import { cardSku } from './fixtures.js';

describe.each(TEST_DIALECTS)('a plugin built outside the core (%s)', (dialect) => {
  it('loads from its own package by name and takes a payment', async () => {
    const secret = 'hello-pay-secret-123';
    // The example's folder is the shop's root, so its package name resolves through node_modules.
    const root = path.resolve('examples/plugin-hello-pay');
    const t = await startTestShop({ dialect, config: { root, plugins: [{ package: '@cardshop/example-plugin-hello-pay', settings: { secret } }] } });
    try {
      expect(t.shop.plugins.plugins.map((p) => p.name)).toEqual(['hello-pay']);
      const { code, keys } = await cardSku(t.shop, { keys: 1, price: 4200 });
      const placed = await t.client().post('/api/store/checkout', { sku: code, contact: 'x@example.com', payment: 'hello' });
      expect(placed.status).toBe(201);
      const pay = new URL(placed.body.payment.url);
      expect(pay.searchParams.get('notify')).toBe(`${t.url}/pay/hello/notify`);

      const body = JSON.stringify({ order: placed.body.order.no, amount: 4200, trade: 'H-1', status: 'paid' });
      const signature = createHmac('sha256', secret).update(body).digest('hex');
      const notify = await t.client().post('/pay/hello/notify', body, { 'content-type': 'application/json', 'x-hello-signature': signature });
      expect(notify.text).toBe('OK');
      const order = await t.client().get(`/api/store/orders/${placed.body.order.no}?token=${encodeURIComponent(placed.body.token)}`);
      expect(order.body.order.keys[0].card).toBe(keys[0]);
    } finally {
      await t.close();
    }
  });
});
