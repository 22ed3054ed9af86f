import { confirmOrder, expireUnpaid, stockOf, sweepPending, verifyLedger } from '@cardshop/core';
import { dummyPayments, signDummy, startTestShop, TEST_DIALECTS, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku } from './fixtures.js';

const count = async (t: TestShop, table: string, where: Record<string, unknown> = {}) =>
  Number((await t.shop.db.knex(table).where(where).count({ n: '*' }).first())?.n);

describe.each(TEST_DIALECTS)('paying through a gateway (%s)', (dialect) => {
  let t: TestShop;

  beforeAll(async () => {
    t = await startTestShop({ dialect, config: { plugins: [dummyPayments()] } });
  });
  afterAll(() => t?.close());

  const guestOrder = async (code: string, quantity = 1) => {
    const r = await t.client().post('/api/store/checkout', { sku: code, quantity, contact: 'guest@example.com', payment: 'dummy' });
    expect(r.status).toBe(201);
    return r.body as { order: { no: string; amount: number; status: string }; token: string; payment: { kind: string; url: string } };
  };

  it('lets a guest order, pay by notify, and read the keys with the token', async () => {
    const { code, keys } = await cardSku(t.shop, { keys: 3, price: 1500 });
    const noContact = await t.client().post('/api/store/checkout', { sku: code, payment: 'dummy' });
    expect(noContact.status).toBe(400);
    expect(noContact.body.error.fields).toHaveProperty('contact');

    const placed = await guestOrder(code, 2);
    expect(placed.order).toMatchObject({ status: 'pending_payment', amount: 3000 });
    expect(placed.payment).toEqual({ kind: 'redirect', url: `https://pay.example.test/checkout?no=${placed.order.no}&amount=3000` });
    const row = await t.shop.db.knex('orders').where('no', placed.order.no).first();
    expect(JSON.parse(row.pay_action)).toEqual(placed.payment);
    expect(await stockOf(t.shop, code)).toEqual({ counter: 1, available: 1 }); // the unpaid order holds its two keys

    const paid = await t.notify({ orderNo: placed.order.no, amount: 3000 });
    expect(paid.status).toBe(200);
    expect(paid.text).toBe('ok');
    const view = await t.client().get(`/api/store/orders/${placed.order.no}?token=${encodeURIComponent(placed.token)}`);
    expect(view.body.order).toMatchObject({ status: 'delivered', payment: 'dummy' });
    expect(view.body.order.keys.map((k: { card: string }) => k.card)).toEqual(keys.slice(0, 2));
    expect(await stockOf(t.shop, code)).toEqual({ counter: 1, available: 1 });
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });

  it('records a payment once however many notifies race, and ignores forged ones', async () => {
    const { code } = await cardSku(t.shop, { keys: 5, price: 800 });
    const placed = await guestOrder(code);
    const forged = signDummy({ orderNo: placed.order.no, amount: 800, tradeNo: 'X', status: 'paid' }, 'wrong-secret');
    const refused = await t.client().post('/pay/dummy/notify', forged.body, { 'content-type': 'application/json', 'x-dummy-signature': forged.signature });
    expect(refused.status).toBe(400);
    expect((await t.shop.db.knex('orders').where('no', placed.order.no).first()).status).toBe('pending_payment');

    const cheap = await t.notify({ orderNo: placed.order.no, amount: 1 });
    expect(cheap.text).toBe('fail');
    expect((await t.shop.db.knex('orders').where('no', placed.order.no).first()).status).toBe('pending_payment');
    expect((await t.notify({ orderNo: '261202-NOSUCHORDR', amount: 800 })).text).toBe('fail');

    const results = await Promise.all(Array.from({ length: 200 }, () => t.notify({ orderNo: placed.order.no, amount: 800 })));
    expect(results.every((r) => r.text === 'ok')).toBe(true);
    const order = await t.shop.db.knex('orders').where('no', placed.order.no).first();
    expect(order.status).toBe('delivered');
    expect(await count(t, 'card_keys', { order_id: order.id })).toBe(1);
    expect(await count(t, 'journal_transactions', { order_id: order.id })).toBe(1);
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });

  it('keeps a second payment of the same order (two QR scans) for the buyer, once', async () => {
    const { code } = await cardSku(t.shop, { keys: 2, price: 450 });
    const placed = await guestOrder(code);
    const owed = async () => Number((await t.shop.db.knex('accounts').where('code', 'platform:refunds_due').first('balance')).balance);
    const before = await owed();
    await t.notify({ orderNo: placed.order.no, amount: 450, tradeNo: 'FIRST' });
    for (let i = 0; i < 3; i++) expect((await t.notify({ orderNo: placed.order.no, amount: 450, tradeNo: 'SECOND' })).text).toBe('ok');
    const order = await t.shop.db.knex('orders').where('no', placed.order.no).first();
    expect(order).toMatchObject({ status: 'delivered', trade_no: 'FIRST' });
    expect(Boolean(order.refund_due)).toBe(true);
    expect(await count(t, 'card_keys', { order_id: order.id })).toBe(1);
    expect((await owed()) - before).toBe(450);
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });

  it('keeps a late payment for the buyer instead of losing it', async () => {
    const { code } = await cardSku(t.shop, { keys: 5, price: 700 });
    const guest = await guestOrder(code);
    const u = await t.createUser();
    const member = await t.client().login(u.email, u.password);
    const mine = (await member.post('/api/store/checkout', { sku: code, payment: 'dummy' })).body;
    await t.shop.db.knex('orders').whereIn('no', [guest.order.no, mine.order.no]).update({ expires_at: Date.now() - 1 });
    expect(await expireUnpaid(t.shop)).toBeGreaterThanOrEqual(2);

    expect((await t.notify({ orderNo: guest.order.no, amount: 700 })).text).toBe('ok');
    expect((await t.notify({ orderNo: mine.order.no, amount: 700 })).text).toBe('ok');
    expect((await t.notify({ orderNo: mine.order.no, amount: 700 })).text).toBe('ok'); // again: no second credit

    const g = await t.shop.db.knex('orders').where('no', guest.order.no).first();
    expect(g).toMatchObject({ status: 'expired' });
    expect(Boolean(g.refund_due)).toBe(true);
    expect((await member.get('/api/store/me')).body.wallet.balance).toBe(700);
    const owed = await t.shop.db.knex('accounts').where('code', 'platform:refunds_due').first('balance');
    expect(Number(owed.balance)).toBeGreaterThanOrEqual(700);
    expect(await stockOf(t.shop, code)).toEqual({ counter: 5, available: 5 });
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });

  it('holds the keys of an unpaid order until it expires, and never delivers a payment that came too late', async () => {
    const { code } = await cardSku(t.shop, { keys: 1, price: 500 });
    const first = await guestOrder(code);
    const refused = await t.client().post('/api/store/checkout', { sku: code, contact: 'other@example.com', payment: 'dummy' });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('out_of_stock');

    await t.shop.db.knex('orders').where('no', first.order.no).update({ expires_at: Date.now() - 1 });
    await expireUnpaid(t.shop);
    const second = await guestOrder(code);
    await t.notify({ orderNo: second.order.no, amount: 500 });
    await t.notify({ orderNo: first.order.no, amount: 500 }); // paid after it expired: confirmed by query, kept for the buyer
    const a = await t.shop.db.knex('orders').where('no', first.order.no).first();
    const b = await t.shop.db.knex('orders').where('no', second.order.no).first();
    expect(b.status).toBe('delivered');
    expect(a.status).toBe('expired');
    expect(Boolean(a.refund_due)).toBe(true);
    expect(await count(t, 'card_keys', { order_id: a.id })).toBe(0);
    expect(await stockOf(t.shop, code)).toEqual({ counter: 0, available: 0 });
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });

  it('finds a payment whose notify was lost, by query: on return and in the minute job', async () => {
    const { code } = await cardSku(t.shop, { keys: 3, price: 600 });
    const browser = t.client();
    const onReturn = (await browser.post('/api/store/checkout', { sku: code, contact: 'lost@example.com', payment: 'dummy' })).body;
    const bySweep = await guestOrder(code);
    const unpaid = await guestOrder(code);
    for (const o of [onReturn, bySweep]) await t.client().post('/plugins/dummy-pay/paid', { orderNo: o.order.no, amount: 600 });

    const back = await browser.get(`/pay/dummy/return?no=${onReturn.order.no}`);
    expect(back.status).toBe(302);
    expect((await browser.get(`/api/store/orders/${onReturn.order.no}`)).body.order.status).toBe('delivered');

    // an hour later: the job confirms what was paid and expires what was not
    await t.shop.db.knex('orders').whereIn('no', [bySweep.order.no, unpaid.order.no]).update({ created_at: Date.now() - 3_600_000, expires_at: Date.now() - 1 });
    const swept = await sweepPending(t.shop, t.shop.plugins.gateways);
    expect(swept.confirmed).toBeGreaterThanOrEqual(1);
    const statuses = await t.shop.db.knex('orders').whereIn('no', [bySweep.order.no, unpaid.order.no]).orderBy('id').pluck('status');
    expect(statuses).toEqual(['delivered', 'expired']);
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });

  it('refuses unknown payment methods and answers 404 for unknown gateways', async () => {
    const { code } = await cardSku(t.shop, { keys: 1 });
    const r = await t.client().post('/api/store/checkout', { sku: code, contact: 'a@b.cd', payment: 'bitcoin' });
    expect(r.status).toBe(400);
    expect(r.body.error.fields).toHaveProperty('payment');
    expect((await t.client().post('/pay/nope/notify', 'x', { 'content-type': 'text/plain' })).status).toBe(404);
  });

  it('brings a guest back from the payment page to the order, and shows QR codes', async () => {
    const { code } = await cardSku(t.shop, { keys: 2, price: 990 });
    const browser = t.client();
    const csrf = await browser.csrf('/login');
    const form = new URLSearchParams({ _csrf: csrf, sku: code, quantity: '1', contact: '13800138000', payment: 'dummy' });
    const placed = await browser.post('/checkout', form);
    expect(placed.status).toBe(303);
    const gatewayUrl = new URL(placed.headers.get('location')!);
    expect(gatewayUrl.host).toBe('pay.example.test');
    const no = gatewayUrl.searchParams.get('no')!;

    const back = await browser.get(`/pay/dummy/return?no=${no}`);
    expect(back.headers.get('location')).toBe(`/order/${no}`);
    expect((await browser.get(`/order/${no}`)).status).toBe(200); // the browser remembers its order
    expect((await t.client().get(`/order/${no}`)).status).toBe(404); // nobody else does
    await t.notify({ orderNo: no, amount: 990 });
    expect((await browser.get(`/order/${no}`)).text).toMatch(new RegExp(`${code}-KEY-000000`));

    const qrShop = await startTestShop({ dialect, config: { plugins: [dummyPayments({ action: 'qr' })] } });
    try {
      const { code: qrCode } = await cardSku(qrShop.shop, { keys: 1 });
      const c = qrShop.client();
      const token = await c.csrf('/login');
      const r = await c.post('/checkout', new URLSearchParams({ _csrf: token, sku: qrCode, contact: 'qr@example.com', payment: 'dummy' }));
      const page = await c.get(r.headers.get('location')!);
      expect(page.text).toContain('data:image/png;base64,');
    } finally {
      await qrShop.close();
    }
  });

  it('cancels the order when the gateway is down', async () => {
    const down = await startTestShop({ dialect, config: { plugins: [dummyPayments({ down: true })] } });
    try {
      const { code } = await cardSku(down.shop, { keys: 1 });
      const r = await down.client().post('/api/store/checkout', { sku: code, contact: 'a@b.cd', payment: 'dummy' });
      expect(r.status).toBe(502);
      expect(r.body.error.code).toBe('gateway_unavailable');
      expect(await down.shop.db.knex('orders').pluck('status')).toEqual(['cancelled']);
    } finally {
      await down.close();
    }
  });
});

describe.each(TEST_DIALECTS)('refunds of gateway orders (%s)', (dialect) => {
  it('refunds through the gateway, settles money owed to guests, and has nothing to refund after a late payment', async () => {
    const t = await startTestShop({ dialect, config: { plugins: [dummyPayments()] } });
    try {
      const { code } = await cardSku(t.shop, { keys: 1, price: 900 });
      const admin = await t.createUser({ role: 'admin' });
      const console_ = await t.client().login(admin.email, admin.password);
      const place = async () => (await t.client().post('/api/store/checkout', { sku: code, contact: 'g@example.com', payment: 'dummy' })).body.order.no as string;

      // an order that expired, then was confirmed by hand after its key was sold: failed, refund due
      const unfilled = await place();
      await t.shop.db.knex('orders').where('no', unfilled).update({ expires_at: Date.now() - 1 });
      await expireUnpaid(t.shop);
      const delivered = await place();
      await t.notify({ orderNo: delivered, amount: 900 });
      await t.client().post('/plugins/dummy-pay/paid', { orderNo: unfilled, amount: 900 });
      await confirmOrder(t.shop, { no: unfilled, tradeNo: `Q-${unfilled}`, note: 'paid at the gateway' }, { id: admin.id });
      expect((await t.shop.db.knex('orders').where('no', unfilled).first()).status).toBe('failed');
      for (const no of [delivered, unfilled]) {
        const r = await console_.post(`/api/admin/orders/${no}/refund`, { reason: 'customer asked' });
        expect(r.status).toBe(200);
        expect(r.body.order).toMatchObject({ status: 'refunded', refundDue: false });
        expect((await console_.post(`/api/admin/orders/${no}/refund`, { reason: 'again' })).status).toBe(409);
      }
      // the gateway got its money back both times; nothing is owed any more
      const balance = async (code: string) => Number((await t.shop.db.knex('accounts').where('code', code).first('balance')).balance);
      expect(await balance('gateway:dummy')).toBe(0);
      expect(await balance('platform:refunds_due')).toBe(0);

      // a member's late payment went to the wallet already: nothing is owed, nothing to refund
      const u = await t.createUser();
      const member = await t.client().login(u.email, u.password);
      const { code: manual } = await cardSku(t.shop, { keys: 1, price: 300 });
      const mine = (await member.post('/api/store/checkout', { sku: manual, payment: 'dummy' })).body.order.no as string;
      await t.shop.db.knex('orders').where('no', mine).update({ expires_at: Date.now() - 1 });
      await expireUnpaid(t.shop);
      await t.notify({ orderNo: mine, amount: 300 });
      expect((await member.get('/api/store/me')).body.wallet.balance).toBe(300);
      expect((await console_.post(`/api/admin/orders/${mine}/refund`, { reason: 'x' })).status).toBe(409);
      expect((await verifyLedger(t.shop)).ok).toBe(true);
    } finally {
      await t.close();
    }
  });
});

describe.each(TEST_DIALECTS)('wallet top-ups through a gateway (%s)', (dialect) => {
  it('credits the wallet once the payment arrives, over the API and the account page', async () => {
    const t = await startTestShop({ dialect, config: { plugins: [dummyPayments()] } });
    try {
      const u = await t.createUser();
      const c = await t.client().login(u.email, u.password);
      expect((await t.client().post('/api/store/wallet/topup', { amount: 5000, payment: 'dummy' })).status).toBe(401);
      const bad = await c.post('/api/store/wallet/topup', { amount: 5, payment: 'dummy' });
      expect(bad.status).toBe(400);
      expect(bad.body.error.fields).toHaveProperty('amount');

      const started = await c.post('/api/store/wallet/topup', { amount: 5000, payment: 'dummy' });
      expect(started.status).toBe(201);
      expect(started.body.order).toMatchObject({ status: 'pending_payment', productType: 'topup', amount: 5000 });
      expect((await c.get('/api/store/me')).body.wallet.balance).toBe(0);
      await t.notify({ orderNo: started.body.order.no, amount: 5000 });
      await t.notify({ orderNo: started.body.order.no, amount: 5000 });
      expect((await c.get('/api/store/me')).body.wallet.balance).toBe(5000);

      // the account page's form, in yuan
      const csrf = await c.csrf('/account');
      const page = await c.post('/account/topup', new URLSearchParams({ _csrf: csrf, amount: '12.50', payment: 'dummy' }));
      expect(page.status).toBe(303);
      const no = new URL(page.headers.get('location')!).searchParams.get('no')!;
      await t.notify({ orderNo: no, amount: 1250 });
      expect((await c.get('/api/store/me')).body.wallet.balance).toBe(6250);
      const tooSmall = await c.post('/account/topup', new URLSearchParams({ _csrf: csrf, amount: '0.10', payment: 'dummy' }));
      expect(tooSmall.status).toBe(400);

      // top-up products never show in the shop
      expect((await c.get('/api/store/products')).body.products.some((p: { type: string }) => p.type === 'topup')).toBe(false);
      expect((await verifyLedger(t.shop)).ok).toBe(true);
    } finally {
      await t.close();
    }
  });
});
