import path from 'node:path';
import { receiptCode } from '@cardshop/core';
import { dummyPayments, startTestShop, TEST_DIALECTS, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku } from './fixtures.js';

describe.each(TEST_DIALECTS)('receipts (%s)', (dialect) => {
  let t: TestShop;
  beforeAll(async () => {
    t = await startTestShop({ dialect, config: { shop: { name: '星河卡铺' }, plugins: [dummyPayments()] } });
  });
  afterAll(() => t?.close());

  const delivered = async () => {
    const { code } = await cardSku(t.shop, { price: 1_250, keys: 5 });
    const u = await t.createUser({ balance: 10_000 });
    const buyer = await t.client().login(u.email, u.password);
    const placed = await buyer.post('/api/store/checkout', { sku: code, quantity: 2, payment: 'wallet' });
    expect(placed.body.order.status).toBe('delivered');
    return { buyer, no: placed.body.order.no as string, keys: placed.body.order.keys as Array<{ card: string }> };
  };

  it('gives a delivered order a receipt whose code the shop verifies, and nothing of its goods', async () => {
    const { buyer, no, keys } = await delivered();
    const { receipt } = (await buyer.get(`/api/store/orders/${no}/receipt`)).body;
    expect(receipt).toMatchObject({ shop: { name: '星河卡铺', url: t.url }, no, quantity: 2, unitPrice: 1_250, amount: 2_500, currency: 'CNY', payment: 'wallet', status: 'delivered' });
    expect(receipt.code).toMatch(/^[0-9A-F]{4}(-[0-9A-F]{4}){4}$/);
    expect(receipt.verifyUrl).toBe(`${t.url}/receipt/verify?no=${no}&code=${receipt.code}`);
    expect(JSON.stringify(receipt)).not.toContain(keys[0]!.card);

    const anyone = t.client();
    const ok = await anyone.get(`/api/store/receipts/verify?no=${no}&code=${receipt.code.toLowerCase().replace(/-/g, ' ')}`);
    expect(ok.body).toEqual({ valid: true, receipt });
    // A code for other facts (an edited amount or date), a code of another order, or a made-up one: not valid.
    const forged = receiptCode(t.shop, { no, amount: 25_000, currency: 'CNY', deliveredAt: receipt.deliveredAt });
    for (const code of [forged, receiptCode(t.shop, { no, amount: 2_500, currency: 'CNY', deliveredAt: receipt.deliveredAt + 1 }), '0000-0000-0000-0000-0000', 'short']) {
      expect((await anyone.get(`/api/store/receipts/verify?no=${no}&code=${encodeURIComponent(code)}`)).body).toEqual({ valid: false });
    }
    expect((await anyone.get(`/api/store/receipts/verify?no=NOPE&code=${receipt.code}`)).body).toEqual({ valid: false });

    // Refunded later: the receipt still verifies and says what became of the order.
    const a = await t.createUser({ role: 'admin' });
    const admin = await t.client().login(a.email, a.password);
    expect((await admin.post(`/api/admin/orders/${no}/refund`, { reason: 'customer asked' })).status).toBe(200);
    const after = await anyone.get(`/api/store/receipts/verify?no=${no}&code=${receipt.code}`);
    expect(after.body).toMatchObject({ valid: true, receipt: { code: receipt.code, status: 'refunded' } });
  });

  it('has a printable page, a download and a public verify page', async () => {
    const { buyer, no } = await delivered();
    const order = await buyer.get(`/order/${no}`);
    expect(order.text).toContain(`href="/order/${no}/receipt"`);
    const page = await buyer.get(`/order/${no}/receipt`);
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('no-store');
    const code = /class="receipt-code[^"]*">([0-9A-F-]{24})</.exec(page.text)![1]!;
    expect(page.text).toContain('星河卡铺');
    expect(page.text).toContain('¥25.00');
    expect(page.text).toContain('data:image/png;base64,');
    const file = await buyer.get(`/order/${no}/receipt?download=1`);
    expect(file.headers.get('content-disposition')).toBe(`attachment; filename="receipt-${no}.html"`);

    const verify = await t.client().get(`/receipt/verify?no=${no}&code=${code}`);
    expect(verify.text).toContain('这是 星河卡铺 开具的有效凭证');
    const wrong = await t.client().get(`/receipt/verify?no=${no}&code=AAAA-AAAA-AAAA-AAAA-AAAA&lang=en`);
    expect(wrong.text).toContain('this is not a valid receipt of this shop');
    expect((await t.client().get('/receipt/verify')).text).not.toContain('not a valid receipt');
  });

  it('has none for an order not delivered, and shows none to others', async () => {
    const { code } = await cardSku(t.shop, { keys: 2 });
    const unpaid = await t.client().post('/api/store/checkout', { sku: code, contact: 'g@example.com', payment: 'dummy' });
    const { no } = unpaid.body.order;
    const guest = `/api/store/orders/${no}/receipt?token=${encodeURIComponent(unpaid.body.token)}`;
    expect((await t.client().get(guest)).body.error.code).toBe('receipt_unavailable');
    await t.notify({ orderNo: no, amount: unpaid.body.order.amount });
    expect((await t.client().get(guest)).body.receipt.no).toBe(no);
    expect((await t.client().get(`/api/store/orders/${no}/receipt`)).status).toBe(404);
    const other = await t.createUser();
    expect((await (await t.client().login(other.email, other.password)).get(`/order/${no}/receipt`)).status).toBe(404);
  });

  it('renders with the wholesale theme too', async () => {
    const w = await startTestShop({ dialect, config: { theme: path.resolve('themes/wholesale') } });
    try {
      const { code } = await cardSku(w.shop, { keys: 1 });
      const u = await w.createUser({ balance: 5_000 });
      const buyer = await w.client().login(u.email, u.password);
      const { no } = (await buyer.post('/api/store/checkout', { sku: code, payment: 'wallet' })).body.order;
      const page = await buyer.get(`/order/${no}/receipt`);
      expect(page.status).toBe(200);
      expect(page.text).toMatch(/class="code receipt-code/);
      expect((await buyer.get('/account/kyc')).text).toContain('本店暂未开通实名认证');
    } finally {
      await w.close();
    }
  });
});
