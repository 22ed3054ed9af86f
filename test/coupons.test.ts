import path from 'node:path';
import { createApiKey, expireUnpaid, verifyLedger } from '@cardshop/core';
import { dummyPayments, startTestShop, TEST_DIALECTS, type TestClient, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku } from './fixtures.js';

/** Coupons over HTTP: the operator's and an agent's, limits, windows, scopes, and one single-use code under 100 checkouts. */

const PRICE = 1000;
const EN = { 'accept-language': 'en' };

describe.each(TEST_DIALECTS)('coupons (%s)', (dialect) => {
  let t: TestShop;
  let admin: TestClient;

  beforeAll(async () => {
    // Checkouts wait a moment to be committed together, so one batch holds many uses of one code.
    t = await startTestShop({ dialect, config: { plugins: [dummyPayments()], checkout: { batchWaitMs: 20 } } });
    const a = await t.createUser({ role: 'admin' });
    admin = await t.client().login(a.email, a.password);
  });
  afterAll(() => t?.close());

  let n = 0;
  const code = (prefix: string) => `${prefix}${dialect.toUpperCase()}${++n}`;
  const coupon = async (body: Record<string, unknown>) => {
    const r = await admin.post('/api/admin/coupons', { code: code('C'), kind: 'percent', value: 10, ...body });
    expect(r.status, r.text).toBe(201);
    return r.body.coupon as { id: number; code: string; used: number };
  };
  const buyer = async (balance = PRICE * 10) => {
    const u = await t.createUser({ balance });
    return Object.assign(await t.client().login(u.email, u.password), { id: u.id });
  };
  const balance = async (c: TestClient) => (await c.get('/api/store/me')).body.wallet.balance as number;
  const usedOf = async (id: number) => Number((await t.shop.db.knex('coupons').where('id', id).first('used')).used);
  const orderCount = async () => Number((await t.shop.db.knex('orders').count({ n: '*' }).first())!.n);

  it('takes a percent or fixed discount off what the buyer pays, shown before paying and kept on the order', async () => {
    const { code: sku } = await cardSku(t.shop, { keys: 5, price: PRICE });
    const pct = await coupon({ kind: 'percent', value: 15 });
    const me = await buyer();
    const quote = await me.post('/api/store/coupons/quote', { sku, quantity: 2, coupon: pct.code.toLowerCase() });
    expect(quote.status, quote.text).toBe(200);
    expect(quote.body.quote).toEqual({ code: pct.code, subtotal: 2000, discount: 300, amount: 1700, currency: 'CNY' });

    const r = await me.post('/api/store/checkout', { sku, quantity: 2, coupon: ` ${pct.code.toLowerCase()} `, payment: 'wallet' });
    expect(r.status, r.text).toBe(201);
    expect(r.body.order).toMatchObject({ status: 'delivered', unitPrice: PRICE, amount: 1700, coupon: pct.code, discount: 300 });
    expect(await balance(me)).toBe(PRICE * 10 - 1700);
    expect((await me.get(`/api/store/orders/${r.body.order.no}`)).body.order).toMatchObject({ amount: 1700, coupon: pct.code, discount: 300 });

    // Fixed, never more than the order: at least one minor unit is left to pay.
    const fixed = await coupon({ kind: 'fixed', value: 5000 });
    const all = await me.post('/api/store/checkout', { sku, coupon: fixed.code, payment: 'wallet' });
    expect(all.body.order).toMatchObject({ amount: 1, discount: PRICE - 1 });
    expect(await verifyLedger(t.shop)).toMatchObject({ ok: true, drift: [], unbalanced: [], negative: [] });
  });

  it('refuses an unknown, disabled, expired, early, foreign or too small use naming the coupon, and writes nothing', async () => {
    const { code: sku, product } = await cardSku(t.shop, { keys: 5, price: PRICE });
    const other = await cardSku(t.shop, { keys: 1 });
    const skuId = Number((await t.shop.db.knex('skus').where('code', sku).first('id')).id);
    const otherSkuId = Number((await t.shop.db.knex('skus').where('code', other.code).first('id')).id);
    const categoryOf = async (product: number) => Number((await t.shop.db.knex('products').where('id', product).first('category_id')).category_id);
    const otherCategory = await categoryOf(other.product);
    const now = Date.now();
    const disabled = await coupon({});
    expect((await admin.put(`/api/admin/coupons/${disabled.id}/active`, { active: false })).body.coupon.active).toBe(false);
    const cases: Array<[string, string]> = [
      ['NOSUCHCODE', 'There is no such coupon code'],
      ['x', 'There is no such coupon code'],
      [disabled.code, 'This coupon has been disabled'],
      [(await coupon({ endsAt: now - 1000 })).code, 'This coupon has expired'],
      [(await coupon({ startsAt: now + 3_600_000 })).code, 'This coupon is not valid yet'],
      [(await coupon({ scope: 'sku', scopeId: otherSkuId })).code, 'This coupon is not for this item'],
      [(await coupon({ scope: 'category', scopeId: otherCategory })).code, 'This coupon is not for this item'],
      [(await coupon({ minAmount: 1500 })).code, 'This coupon needs an order of at least ¥15.00'],
    ];
    const me = await buyer();
    const orders = await orderCount();
    for (const [c, message] of cases) {
      for (const [path, extra] of [['/api/store/coupons/quote', {}], ['/api/store/checkout', { payment: 'wallet' }]] as const) {
        const r = await me.post(path, { sku, coupon: c, ...extra }, EN);
        expect(r.status, `${c} ${path}`).toBe(422);
        expect(r.body.error).toMatchObject({ code: 'coupon_invalid', fields: { coupon: message } });
      }
    }
    // In the shop's default language too.
    expect((await me.post('/api/store/checkout', { sku, coupon: 'NOSUCHCODE', payment: 'wallet' })).body.error.fields.coupon).toBe('没有这个优惠码');
    expect(await orderCount()).toBe(orders);
    expect(await balance(me)).toBe(PRICE * 10);

    // The same scopes fit their own goods, and the minimum is met by buying two.
    expect((await me.post('/api/store/checkout', { sku, coupon: (await coupon({ scope: 'sku', scopeId: skuId })).code, payment: 'wallet' })).status).toBe(201);
    expect((await me.post('/api/store/checkout', { sku, coupon: (await coupon({ scope: 'category', scopeId: await categoryOf(product) })).code, payment: 'wallet' })).status).toBe(201);
    expect((await me.post('/api/store/checkout', { sku, quantity: 2, coupon: cases[7]![0], payment: 'wallet' })).status).toBe(201);
  });

  it('refuses bad coupons from the console naming the field, and a code twice', async () => {
    for (const [body, field] of [
      [{ code: 'ok-code', kind: 'percent', value: 101 }, 'value'],
      [{ code: 'ok code', kind: 'percent', value: 10 }, 'code'],
      [{ code: 'OKCODE1', kind: 'half', value: 10 }, 'kind'],
      [{ code: 'OKCODE2', kind: 'fixed', value: 1.5 }, 'value'],
      [{ code: 'OKCODE3', kind: 'fixed', value: 100, scope: 'sku' }, 'scopeId'],
      [{ code: 'OKCODE4', kind: 'fixed', value: 100, scope: 'sku', scopeId: 999_999 }, 'scopeId'],
      [{ code: 'OKCODE5', kind: 'fixed', value: 100, startsAt: 2000, endsAt: 1000 }, 'endsAt'],
      [{ code: 'OKCODE6', kind: 'fixed', value: 100, perBuyer: 0 }, 'perBuyer'],
    ] as const) {
      const r = await admin.post('/api/admin/coupons', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.fields).toHaveProperty(field);
    }
    expect(Number((await t.shop.db.knex('coupons').where('code', 'like', 'OKCODE%').count({ n: '*' }).first())!.n)).toBe(0);
    const c = await coupon({});
    const again = await admin.post('/api/admin/coupons', { code: c.code.toLowerCase(), kind: 'fixed', value: 1 });
    expect(again.status).toBe(409);
    expect(again.body.error.fields).toHaveProperty('code');
    expect((await (await buyer()).post('/api/admin/coupons', { code: 'MINEMINE', kind: 'fixed', value: 1 })).status).toBe(403);
  });

  it('creates, generates and turns off coupons from the console page, refusing a bad form with the field named', async () => {
    const page = await admin.get('/admin/coupons');
    expect(page.status).toBe(200);
    const csrf = await admin.csrf('/admin/coupons');
    const form = (fields: Record<string, string>) => new URLSearchParams({ _csrf: csrf, kind: 'fixed', value: '2.50', scope: 'order', ...fields });
    const c = code('CON');
    const made = await admin.post('/admin/coupons', form({ code: c, minAmount: '10.00', maxUses: '5', perBuyer: '1', endsAt: '2099-01-01T00:00' }));
    expect(made.status, made.text).toBe(303);
    const row = (await admin.get('/api/admin/coupons')).body.coupons.find((x: { code: string }) => x.code === c);
    expect(row).toMatchObject({ kind: 'fixed', value: 250, minAmount: 1000, maxUses: 5, perBuyer: 1, endsAt: Date.parse('2099-01-01T00:00:00+08:00'), active: true });

    const bad = await admin.post('/admin/coupons', form({ code: code('CON'), kind: 'percent', value: '120' }), EN);
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('Off: A percent off cannot be more than 100');
    const taken = await admin.post('/admin/coupons', form({ code: c }), EN);
    expect(taken.status).toBe(409);
    expect(taken.text).toContain('Coupon code: This coupon code exists already');

    const batch = await admin.post('/admin/coupons/batch', form({ count: '3', prefix: 'CN', maxUses: '1' }));
    expect(batch.status).toBe(200);
    const codes = /<textarea readonly rows="8" data-codes>([^<]*)<\/textarea>/.exec(batch.text)![1]!.trim().split('\n');
    expect(codes).toHaveLength(3);
    expect(Number((await t.shop.db.knex('coupons').whereIn('code', codes).where({ max_uses: 1, value: 250 }).count({ n: '*' }).first())!.n)).toBe(3);

    const off = await admin.post(`/admin/coupons/${row.id}/active`, new URLSearchParams({ _csrf: csrf, active: '0' }));
    expect(off.status).toBe(303);
    expect((await admin.get('/admin/coupons')).text).toMatch(new RegExp(`data-coupon="${c}"[\\s\\S]*?Turn on|data-coupon="${c}"[\\s\\S]*?启用`));
    expect((await t.shop.db.knex('coupons').where('id', row.id).first('active')).active).toBeFalsy();
  });

  it('redeems a single-use code once under 100 parallel checkouts; the others are told and pay nothing', async () => {
    const { code: sku } = await cardSku(t.shop, { keys: 150, price: PRICE });
    const once = await coupon({ kind: 'fixed', value: 300, maxUses: 1 });
    const buyers = await Promise.all(Array.from({ length: 5 }, () => buyer()));
    const orders = await orderCount();
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => buyers[i % buyers.length]!.post('/api/store/checkout', { sku, coupon: once.code, payment: 'wallet' }, EN)));
    const won = results.filter((r) => r.status === 201);
    expect(won).toHaveLength(1);
    expect(won[0]!.body.order).toMatchObject({ amount: 700, discount: 300, coupon: once.code });
    for (const r of results.filter((r) => r.status !== 201)) {
      expect(r.status).toBe(409);
      expect(r.body.error).toMatchObject({ code: 'coupon_used_up', fields: { coupon: 'This coupon has been used up' } });
    }
    expect(await orderCount()).toBe(orders + 1);
    const balances = await Promise.all(buyers.map(balance));
    expect(balances.filter((b) => b === PRICE * 10)).toHaveLength(4);
    expect(balances.reduce((a, b) => a + b, 0)).toBe(5 * PRICE * 10 - 700);
    expect(await usedOf(once.id)).toBe(1);
    expect(await verifyLedger(t.shop)).toMatchObject({ ok: true, drift: [], unbalanced: [], negative: [] });
  });

  it('limits uses per buyer, counting a buyer across parallel checkouts; batch codes are single-use', async () => {
    const { code: sku } = await cardSku(t.shop, { keys: 40, price: PRICE });
    const twice = await coupon({ perBuyer: 2 });
    const [me, you] = await Promise.all([buyer(), buyer()]);
    const mine = await Promise.all(Array.from({ length: 6 }, () => me.post('/api/store/checkout', { sku, coupon: twice.code, payment: 'wallet' }, EN)));
    expect(mine.filter((r) => r.status === 201)).toHaveLength(2);
    for (const r of mine.filter((r) => r.status !== 201)) expect(r.body.error).toMatchObject({ code: 'coupon_used_up', fields: { coupon: 'You have used this coupon as many times as it allows' } });
    expect((await you.post('/api/store/checkout', { sku, coupon: twice.code, payment: 'wallet' })).status).toBe(201);
    expect(await usedOf(twice.id)).toBe(3);

    const batch = await admin.post('/api/admin/coupons/batch', { count: 20, prefix: 'VIP', kind: 'fixed', value: 100 });
    expect(batch.status, batch.text).toBe(201);
    expect(batch.body.codes).toHaveLength(20);
    expect(new Set(batch.body.codes).size).toBe(20);
    for (const c of batch.body.codes) expect(c).toMatch(/^VIP-[A-HJ-NP-Z2-9]{10}$/);
    const listed = (await admin.get('/api/admin/coupons')).body.coupons.filter((c: { batch: string }) => c.batch === batch.body.batch);
    expect(listed).toHaveLength(20);
    expect(listed.every((c: { maxUses: number }) => c.maxUses === 1)).toBe(true);
    const [first] = batch.body.codes;
    expect((await me.post('/api/store/checkout', { sku, coupon: first, payment: 'wallet' })).status).toBe(201);
    expect((await you.post('/api/store/checkout', { sku, coupon: first, payment: 'wallet' })).status).toBe(409);
  });

  it('gives the use back when an order is refunded or its payment expires, and a guest is one buyer by contact', async () => {
    const { code: sku } = await cardSku(t.shop, { keys: 10, price: PRICE });
    const once = await coupon({ maxUses: 1, perBuyer: 1 });
    const me = await buyer();
    const paid = await me.post('/api/store/checkout', { sku, coupon: once.code, payment: 'wallet' });
    expect(paid.status).toBe(201);
    expect((await me.post('/api/store/checkout', { sku, coupon: once.code, payment: 'wallet' })).status).toBe(409);
    const refund = await admin.post(`/api/admin/orders/${paid.body.order.no}/refund`, { reason: 'test' });
    expect(refund.status, refund.text).toBe(200);
    expect(await balance(me)).toBe(PRICE * 10);
    expect(await usedOf(once.id)).toBe(0);

    // A guest's unpaid gateway order holds the use; a second guest is refused until it expires.
    const guest = await t.client().post('/api/store/checkout', { sku, coupon: once.code, contact: 'Guest@Example.com', payment: 'dummy' });
    expect(guest.status, guest.text).toBe(201);
    expect(guest.body.order).toMatchObject({ status: 'pending_payment', amount: 900, discount: 100 });
    const second = await t.client().post('/api/store/checkout', { sku, coupon: once.code, contact: 'other@example.com', payment: 'dummy' });
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe('coupon_used_up');
    await t.shop.db.knex('orders').where('no', guest.body.order.no).update({ expires_at: Date.now() - 1 });
    expect(await expireUnpaid(t.shop)).toBeGreaterThanOrEqual(1);
    expect(await usedOf(once.id)).toBe(0);

    // Paid at the discounted amount through the gateway; the same contact is the same buyer.
    const again = await t.client().post('/api/store/checkout', { sku, coupon: once.code, contact: 'guest@example.com', payment: 'dummy' });
    expect(again.status).toBe(201);
    expect((await t.notify({ orderNo: again.body.order.no, amount: 900 })).text).toBe('ok');
    expect(await usedOf(once.id)).toBe(1);
    const perBuyer = await coupon({ perBuyer: 1 });
    expect((await t.client().post('/api/store/checkout', { sku, coupon: perBuyer.code, contact: 'g2@example.com', payment: 'dummy' })).status).toBe(201);
    const same = await t.client().post('/api/store/checkout', { sku, coupon: perBuyer.code, contact: ' G2@example.com', payment: 'dummy' }, EN);
    expect(same.status).toBe(409);
    expect(same.body.error.fields.coupon).toBe('You have used this coupon as many times as it allows');
    expect(await verifyLedger(t.shop)).toMatchObject({ ok: true, drift: [], unbalanced: [], negative: [] });
  });

  it("an agent's coupon comes out of the agent's margin, never below its cost, and only where it earns one", async () => {
    const { code: sku } = await cardSku(t.shop, { keys: 20, price: 10_000 });
    const a = await t.createUser();
    const agent = await t.client().login(a.email, a.password);
    await agent.post('/api/store/agent/join');
    await agent.put('/api/store/agent/markups', { markups: [{ scope: 'all', kind: 'fixed', value: 1_000 }] });
    const site = `cp-${dialect}`;
    expect((await agent.put('/api/store/agent/site', { code: site, name: 'Coupons' })).status).toBe(200);

    // 50 % of ¥110 would be ¥55; the agent's margin is ¥10, so ¥10 is what it gives.
    const half = await agent.post('/api/store/agent/coupons', { code: code('AG'), kind: 'percent', value: 50 });
    expect(half.status, half.text).toBe(201);
    expect(half.body.coupon).toMatchObject({ ownerId: a.id, active: true });
    const small = (await agent.post('/api/store/agent/coupons', { code: code('AG'), kind: 'fixed', value: 300 })).body.coupon;
    expect((await agent.get('/api/store/agent/coupons')).body.coupons.map((c: { code: string }) => c.code)).toEqual([small.code, half.body.coupon.code]);
    expect((await admin.get('/api/admin/coupons')).body.coupons.map((c: { code: string }) => c.code)).not.toContain(small.code);

    const me = await buyer(100_000);
    const revenue = async () => Number((await t.shop.db.knex('accounts').where('code', 'platform:revenue').first('balance')).balance);
    const agentBalance = () => balance(agent);
    const [r0, b0] = [await revenue(), await agentBalance()];
    const capped = await me.post(`/s/${site}/api/store/checkout`, { sku, coupon: half.body.coupon.code, payment: 'wallet' });
    expect(capped.status, capped.text).toBe(201);
    expect(capped.body.order).toMatchObject({ amount: 10_000, discount: 1_000 });
    expect(await agentBalance()).toBe(b0);
    expect(await revenue()).toBe(r0 + 10_000);

    const part = await me.post(`/s/${site}/api/store/checkout`, { sku, coupon: small.code, payment: 'wallet' });
    expect(part.body.order).toMatchObject({ amount: 10_700, discount: 300 });
    expect(await agentBalance()).toBe(b0 + 700);
    expect(await revenue()).toBe(r0 + 20_000);

    // On the main shop the agent earns nothing from this buyer: its coupon does not apply there.
    const main = await me.post('/api/store/checkout', { sku, coupon: small.code, payment: 'wallet' }, EN);
    expect(main.status).toBe(422);
    expect(main.body.error.fields.coupon).toBe('This coupon is not for this item');
    // Another agent cannot switch it off; the owner can.
    const b = await t.createUser();
    const stranger = await t.client().login(b.email, b.password);
    await stranger.post('/api/store/agent/join');
    expect((await stranger.put(`/api/store/agent/coupons/${small.id}/active`, { active: false })).status).toBe(404);
    expect((await admin.put(`/api/admin/coupons/${small.id}/active`, { active: false })).status).toBe(404);
    expect((await agent.put(`/api/store/agent/coupons/${small.id}/active`, { active: false })).body.coupon.active).toBe(false);
    expect(await verifyLedger(t.shop)).toMatchObject({ ok: true, drift: [], unbalanced: [], negative: [] });
  });

  it('shows the discount on the checkout page before paying, the reason when a code gives none, and the coupon on the order page', async () => {
    const { code: sku } = await cardSku(t.shop, { keys: 3, price: PRICE });
    const c = await coupon({ kind: 'fixed', value: 150 });
    const me = await buyer();
    const csrf = await me.csrf(`/checkout?sku=${sku}`);
    const form = (extra: Record<string, string>) => new URLSearchParams({ _csrf: csrf, sku, quantity: '1', payment: 'wallet', ...extra });
    const applied = await me.request('GET', `/checkout?sku=${sku}&quantity=1&coupon=${c.code.toLowerCase()}`, undefined, EN);
    expect(applied.status).toBe(200);
    expect(applied.text).toContain('¥1.50 off');
    expect(applied.text).toMatch(/Pay with balance ¥8\.50/);
    const orders = await orderCount();
    expect(applied.text).toContain(`<input type="hidden" name="coupon" value="${c.code}">`);
    const refused = await me.request('GET', `/checkout?sku=${sku}&quantity=1&coupon=NOPE-NOPE`, undefined, EN);
    expect(refused.text).toContain('There is no such coupon code');
    expect(refused.text).not.toContain('name="coupon" value="NOPE-NOPE">');
    expect(await orderCount()).toBe(orders);
    const paid = await me.post('/checkout', form({ coupon: c.code }), EN);
    expect(paid.status).toBe(303);
    const page = await me.get(paid.headers.get('location')!);
    expect(page.text).toContain(c.code);
    expect(page.text).toContain('−¥1.50');
    expect(await balance(me)).toBe(PRICE * 10 - 850);
  });

  it('takes a coupon through the Agent API', async () => {
    const { code: sku } = await cardSku(t.shop, { keys: 5, price: PRICE });
    const c = await coupon({ kind: 'fixed', value: 250, maxUses: 1 });
    const u = await t.createUser({ balance: PRICE * 5 });
    const api = t.apiClient(await createApiKey(t.shop, u.id, 'coupons'));
    const r = await api.post('/orders', { sku, coupon: c.code }, { 'idempotency-key': `coupon-${dialect}-1` });
    expect(r.status, r.text).toBe(201);
    expect(r.body.order).toMatchObject({ amount: 750, discount: 250, coupon: c.code });
    const again = await api.post('/orders', { sku, coupon: c.code }, { 'idempotency-key': `coupon-${dialect}-2` });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'coupon_used_up', fields: { coupon: expect.any(String) } });
  });

  it('lets an agent create, list and turn off its coupons in the agent centre of both themes, refusing a bad form by field', async () => {
    for (const theme of ['themes/default', 'themes/wholesale']) {
      const shop = await startTestShop({ dialect, config: { theme: path.resolve(theme) } });
      try {
        const a = await shop.createUser();
        const agent = await shop.client().login(a.email, a.password);
        expect((await agent.post('/api/store/agent/join')).status).toBe(200);
        const csrf = await agent.csrf('/agent');
        const c = `AC${dialect.toUpperCase()}${theme.length}`;
        const made = await agent.post('/agent/coupons', new URLSearchParams({ _csrf: csrf, code: c, kind: 'fixed', value: '3.50', minAmount: '20', perBuyer: '1', endsAt: '2099-01-01T00:00' }));
        expect(made.status, made.text).toBe(303);
        const mine = (await agent.get('/api/store/agent/coupons')).body.coupons;
        expect(mine).toMatchObject([{ code: c, kind: 'fixed', value: 350, minAmount: 2000, perBuyer: 1, ownerId: a.id, active: true, endsAt: Date.parse('2099-01-01T00:00:00+08:00') }]);
        const page = await agent.request('GET', '/agent', undefined, EN);
        const row = page.text.slice(page.text.indexOf(`data-coupon="${c}"`));
        expect(row).toMatch(/¥3\.50 off · on orders from ¥20\.00/);
        expect(row).toContain('1 per buyer');

        // A percent over 100 is refused by field, with what was typed kept, and nothing written.
        const bad = await agent.post('/agent/coupons', new URLSearchParams({ _csrf: csrf, code: `${c}X`, kind: 'percent', value: '120' }), EN);
        expect(bad.status).toBe(400);
        expect(bad.text).toContain('A percent off cannot be more than 100');
        expect(bad.text).toContain(`value="${c}X"`);
        expect((await agent.get('/api/store/agent/coupons')).body.coupons).toHaveLength(1);

        const off = await agent.post('/agent/coupons/active', new URLSearchParams({ _csrf: csrf, id: String(mine[0].id), active: '0' }));
        expect(off.status).toBe(303);
        expect((await agent.get('/api/store/agent/coupons')).body.coupons[0].active).toBe(false);

        // Someone who is not an agent has no coupons to issue, and not another's to turn on.
        const u = await shop.createUser();
        const buyer = await shop.client().login(u.email, u.password);
        const theirs = await buyer.csrf('/agent');
        expect((await buyer.post('/agent/coupons', new URLSearchParams({ _csrf: theirs, code: `${c}Y`, kind: 'fixed', value: '1' }))).status).toBe(403);
        expect((await buyer.post('/agent/coupons/active', new URLSearchParams({ _csrf: theirs, id: String(mine[0].id), active: '1' }))).status).toBe(403);
        expect((await agent.get('/api/store/agent/coupons')).body.coupons[0].active).toBe(false);
      } finally {
        await shop.close();
      }
    }
  });
});
