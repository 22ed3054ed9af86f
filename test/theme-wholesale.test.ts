import path from 'node:path';
import { adjustWallet, seedDemoCatalog } from '@cardshop/core';
import { startTestShop, TEST_DIALECTS } from '@cardshop/core/testing';
import { describe, expect, it } from 'vitest';

describe.each(TEST_DIALECTS)('the wholesale theme (%s)', (dialect) => {
  it('lists every SKU in one table and sells through the same forms', async () => {
    const t = await startTestShop({ dialect, config: { theme: path.resolve('themes/wholesale') } });
    try {
      await seedDemoCatalog(t.shop);
      const c = t.client();
      const home = await c.get('/');
      expect(home.status).toBe(200);
      expect(home.text).toContain('<table');
      for (const code of ['STEAM-50', 'STEAM-100', 'NETEASE-30', 'OFFICE-PRO', 'MOBILE-50', 'VIP-MONTH']) expect(home.text).toContain(code);
      expect(home.text).not.toContain('card-img'); // the default theme's product cards are not here

      const csrf = await c.csrf('/register');
      await c.post('/register', new URLSearchParams({ _csrf: csrf, email: 'bulk@example.com', password: 'password123' }));
      const me = await c.get('/api/store/me');
      await adjustWallet(t.shop, { userId: me.body.user.id, amount: 100_000, reason: 'test' });
      expect((await c.get('/checkout?sku=STEAM-50&quantity=3')).status).toBe(200);
      const paid = await c.post('/checkout', new URLSearchParams({ _csrf: csrf, sku: 'STEAM-50', quantity: '3', payment: 'wallet' }));
      expect(paid.status).toBe(303);
      const order = await c.get(paid.headers.get('location')!);
      expect(new Set(order.text.match(/STEAM-50-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}/g)).size).toBe(3);
    } finally {
      await t.close();
    }
  });
});
