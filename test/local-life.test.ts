import localLife from '@cardshop/plugin-local-life';
import { createCategory, createProduct, createSku, setRoute, verifyLedger } from '@cardshop/core';
import { dummyPayments, startTestShop, TEST_DIALECTS, TestClient, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeTicketing } from '../plugins/local-life/src/testing/fake-supplier.js';

const PIN = '246810';

describe.each(TEST_DIALECTS)('local-life vouchers in a shop (%s)', (dialect) => {
  const ticketing = createFakeTicketing();
  let t: TestShop;
  let admin: TestClient;
  let n = 0;

  beforeAll(async () => {
    t = await startTestShop({ dialect, config: { trustProxy: true, plugins: [dummyPayments(), localLife(), ticketing.plugin], delivery: { backoffMs: 0 } } });
    const a = await t.createUser({ role: 'admin' });
    admin = await t.client().login(a.email, a.password);
    for (const [code, name] of [['noodles', '老街面馆'], ['cinema', 'Star Cinema']]) {
      expect((await admin.post('/plugins/local-life/admin/merchants', { code, name, address: `${name} 1号` })).status).toBe(201);
      expect((await admin.post(`/plugins/local-life/admin/merchants/${code}/staff`, { name: `${code} cashier`, pin: PIN })).status).toBe(201);
    }
  });
  afterAll(() => t?.close());

  /** A voucher SKU of a store, set up through the admin API. */
  async function voucherSku(rule: Record<string, unknown>, price = 2_000) {
    const code = `VCH-${++n}`;
    const category = await createCategory(t.shop, { slug: `v-${n}`, name: `Vouchers ${n}` });
    const product = await createProduct(t.shop, { categoryId: category, slug: `voucher-${n}`, name: `Voucher ${n}`, type: 'voucher' });
    await createSku(t.shop, { productId: product, code, name: code, price });
    const r = await admin.put(`/plugins/local-life/admin/skus/${code}`, { merchant: 'noodles', title: '双人套餐', validDays: 30, ...rule });
    expect(r.status, r.text).toBe(200);
    return code;
  }

  async function buy(sku: string, quantity = 1) {
    const u = await t.createUser({ balance: 100_000 });
    const client = await t.client().login(u.email, u.password);
    const r = await client.post('/api/store/checkout', { sku, quantity, payment: 'wallet' });
    expect(r.status, r.text).toBe(201);
    await t.shop.delivery.worker.runDue();
    const order = (await client.get(`/api/store/orders/${r.body.order.no}`)).body.order;
    return { user: u, client, order, codes: (order.keys as Array<{ card: string }>).map((k) => k.card) };
  }

  const staffApi = async (merchant = 'noodles', ip = '198.51.100.1') => {
    const c = new TestClient(t.url);
    const r = await c.post('/plugins/local-life/api/login', { merchant, pin: PIN }, { 'x-forwarded-for': ip });
    expect(r.status, r.text).toBe(200);
    return (path: string, body?: unknown) =>
      body === undefined ? c.request('GET', path, undefined, { authorization: `Bearer ${r.body.token}` }) : c.post(path, body, { authorization: `Bearer ${r.body.token}` });
  };

  it('delivers codes with a voucher page that shows the code and its QR code', async () => {
    const sku = await voucherSku({ rules: '仅限堂食，周末通用' });
    const { order, codes } = await buy(sku, 2);
    expect(order.status).toBe('delivered');
    expect(codes).toHaveLength(2);
    expect(codes[0]).toMatch(/^[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}$/);
    expect(order.delivery).toContain('双人套餐');
    expect(order.delivery).toContain('老街面馆');
    expect(order.delivery).toContain(`${t.url}/plugins/local-life/v/${codes[1]}`);

    const page = await t.client().get(`/plugins/local-life/v/${codes[0]}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain(codes[0]);
    expect(page.text).toMatch(/<img class="qr" src="data:image\/png;base64,[A-Za-z0-9+/=]{200,}"/);
    expect(page.text).toContain('仅限堂食，周末通用');
    expect(page.text).toContain('剩余 1 / 共 1 次');
    // Typed with spaces and in lower case, it is the same voucher; a guess is not found.
    expect((await t.client().get(`/plugins/local-life/v/${codes[0]!.toLowerCase().replace(/-/g, ' ')}`)).status).toBe(200);
    expect((await t.client().get('/plugins/local-life/v/2222-2222-2222')).status).toBe(404);
    // The codes are sealed at rest: the table holds neither a code nor its digits in the clear.
    const rows = await t.shop.db.knex('local_life_vouchers').where('order_no', order.no);
    expect(JSON.stringify(rows)).not.toContain(codes[0]!.slice(0, 9));
  });

  it('lets exactly one of 50 parallel redemptions of a voucher through, and records it', async () => {
    const [code] = (await buy(await voucherSku({}))).codes;
    const api = await staffApi();
    const answers = await Promise.all(Array.from({ length: 50 }, () => api('/plugins/local-life/api/redeem', { code })));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 409).map((a) => a.body.error.code)).toEqual(Array(49).fill('used_up'));
    const row = await t.shop.db.knex('local_life_vouchers').where('code_tail', code!.slice(-4)).first('id', 'uses_left');
    expect(row.uses_left).toBe(0);
    expect(await t.shop.db.knex('local_life_redemptions').where('voucher_id', row.id).count({ n: '*' }).first()).toMatchObject({ n: 1 });
    expect((await api(`/plugins/local-life/api/vouchers/${code}`)).body.voucher).toMatchObject({ state: 'used_up', usesLeft: 0, redemptions: [{ uses: 1, staff: 'noodles cashier' }] });
  });

  it('uses a multi-use voucher in parts, never more than is left; another store cannot see it', async () => {
    const [code] = (await buy(await voucherSku({ uses: 5, title: '十次卡' }))).codes;
    const api = await staffApi();
    expect((await api('/plugins/local-life/api/redeem', { code, uses: 2 })).body.voucher).toMatchObject({ usesLeft: 3 });
    expect((await api('/plugins/local-life/api/redeem', { code, uses: 4 })).body.error.code).toBe('insufficient_uses');
    expect((await api('/plugins/local-life/api/redeem', { code, uses: 0 })).body.error).toMatchObject({ code: 'validation_failed', fields: { uses: 'field.uses' } });
    expect((await api('/plugins/local-life/api/redeem', { code, uses: 3 })).body.voucher).toMatchObject({ usesLeft: 0, state: 'used_up' });
    const cinema = await staffApi('cinema');
    expect((await cinema('/plugins/local-life/api/redeem', { code })).body.error.code).toBe('not_found');
    expect((await cinema(`/plugins/local-life/api/vouchers/${code}`)).status).toBe(404);
    expect((await t.client().get(`/plugins/local-life/v/${code}`)).text).toContain('剩余 0 / 共 5 次');
  });

  it('rate-limits PIN guessing per address and per store, before any PIN is checked', async () => {
    await admin.post('/plugins/local-life/admin/merchants', { code: 'arcade', name: 'Arcade' });
    await admin.post('/plugins/local-life/admin/merchants/arcade/staff', { name: 'arcade cashier', pin: PIN });
    // One address: ten tries, then refused, the right PIN too.
    const guess = (pin: string, ip: string, merchant = 'arcade') => new TestClient(t.url).post('/plugins/local-life/api/login', { merchant, pin }, { 'x-forwarded-for': ip });
    const fromOne = [];
    for (let i = 0; i < 12; i++) fromOne.push((await guess(String(100000 + i), '203.0.113.9')).status);
    expect(fromOne).toEqual([...Array(10).fill(401), 429, 429]);
    expect((await guess(PIN, '203.0.113.9')).status).toBe(429);
    // Many addresses at once against one store: of its 30 tries in the window, 13 are gone.
    const spread = await Promise.all(Array.from({ length: 40 }, (_, i) => guess(String(200000 + i), `203.0.114.${i}`)));
    const checked = spread.filter((r) => r.status === 401).length;
    expect(checked).toBeLessThanOrEqual(30 - 13);
    expect(spread.filter((r) => r.status === 429).length).toBe(40 - checked);
    expect((await guess(PIN, '203.0.115.1')).status).toBe(429);
    // Another store is not locked out by it.
    expect((await guess(PIN, '203.0.115.2', 'noodles')).status).toBe(200);
  });

  it('redeems on the phone page: sign in, open the QR code\'s link, redeem', async () => {
    const [code] = (await buy(await voucherSku({}))).codes;
    const phone = new TestClient(t.url);
    const link = `/plugins/local-life/m/redeem?code=${encodeURIComponent(code!)}`;
    expect((await phone.get(link)).headers.get('location')).toBe(`/plugins/local-life/m?next=${encodeURIComponent(link)}`);
    const csrf = await phone.csrf(`/plugins/local-life/m?next=${encodeURIComponent(link)}`);
    expect((await phone.post('/plugins/local-life/m/login', new URLSearchParams({ merchant: 'noodles', pin: '000000', _csrf: csrf, next: link }), { 'x-forwarded-for': '198.51.100.30' })).text).toContain('门店代码或 PIN 不正确');
    const signedIn = await phone.post('/plugins/local-life/m/login', new URLSearchParams({ merchant: 'noodles', pin: PIN, _csrf: csrf, next: link }), { 'x-forwarded-for': '198.51.100.30' });
    expect(signedIn.headers.get('location')).toBe(link);
    const shown = await phone.get(link);
    expect(shown.text).toContain('确认核销');
    expect(shown.text).toContain(code);
    expect((await phone.post('/plugins/local-life/m/redeem', new URLSearchParams({ code: code!, _csrf: 'forged' }))).status).toBe(403);
    const redeemed = await phone.post('/plugins/local-life/m/redeem', new URLSearchParams({ code: code!, _csrf: csrf }));
    expect(redeemed.text).toContain('已核销 1 次，剩余 0 次');
    const again = await phone.post('/plugins/local-life/m/redeem', new URLSearchParams({ code: code!, _csrf: csrf }));
    expect(again.status).toBe(409);
    expect(again.text).toContain('这张券已经用完了');
  });

  it('refunds expired unused vouchers when their product says so, and never used or partly used ones', async () => {
    const refunded = await buy(await voucherSku({ uses: 1 }), 2);
    const partly = await buy(await voucherSku({ uses: 3 }));
    const kept = await buy(await voucherSku({ refundExpired: false }));
    const api = await staffApi();
    expect((await api('/plugins/local-life/api/redeem', { code: partly.codes[0], uses: 1 })).status).toBe(200);
    const orders = [refunded, partly, kept].map((b) => b.order.no as string);
    await t.shop.db.knex('local_life_vouchers').whereIn('order_no', orders).update({ valid_until: Date.now() - 1000 });
    // Past its end a voucher cannot be used, whatever the sweep has done yet.
    expect((await api('/plugins/local-life/api/redeem', { code: partly.codes[0] })).body.error.code).toBe('expired');

    const sweep = await admin.post('/plugins/local-life/admin/sweep', {});
    expect(sweep.body).toMatchObject({ refunded: 1, failed: 0 });
    expect((await admin.post('/plugins/local-life/admin/sweep', {})).body).toEqual({ expired: 0, refunded: 0, failed: 0 });
    const status = async (b: typeof refunded) => (await b.client.get(`/api/store/orders/${b.order.no}`)).body.order.status;
    expect(await status(refunded)).toBe('refunded');
    expect(await status(partly)).toBe('delivered');
    expect(await status(kept)).toBe('delivered');
    expect(Number((await t.shop.db.knex('accounts').where('code', `wallet:${refunded.user.id}`).first('balance')).balance)).toBe(100_000);
    const byOrder = async (no: string) => (await t.shop.db.knex('local_life_vouchers').where('order_no', no).pluck('status'));
    expect(await byOrder(refunded.order.no)).toEqual(['refunded', 'refunded']);
    expect(await byOrder(partly.order.no)).toEqual(['expired']);
    expect(await byOrder(kept.order.no)).toEqual(['expired']);
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });

  it('issues a supplier\'s codes as vouchers, once, and an admin\'s refund voids them', async () => {
    const sku = await voucherSku({ merchant: 'cinema', title: '2D 电影票' });
    await setRoute(t.shop, sku, { supplier: ticketing.id, supplierSku: 'MOVIE-2D', cost: 1_500 });
    const { order, codes } = await buy(sku, 2);
    expect(order.status).toBe('delivered');
    expect(codes).toEqual(ticketing.orders.get(order.no));
    expect(ticketing.calls.filter((c) => c === order.no)).toHaveLength(1);
    expect(order.delivery).toContain('Star Cinema');
    const api = await staffApi('cinema');
    expect((await api('/plugins/local-life/api/redeem', { code: codes[0] })).body.voucher).toMatchObject({ title: '2D 电影票', usesLeft: 0 });

    expect((await admin.post(`/api/admin/orders/${order.no}/refund`, { reason: 'cinema closed' })).status).toBe(200);
    await t.shop.hooks.idle();
    expect((await api('/plugins/local-life/api/redeem', { code: codes[1] })).body.error.code).toBe('void');
    expect((await t.client().get(`/plugins/local-life/v/${codes[1]}`)).text).toContain('已作废');
  });

  it('refuses a voucher SKU nobody set up (refunded), and admin calls from anyone else', async () => {
    const category = await createCategory(t.shop, { slug: 'v-bare', name: 'Bare' });
    const product = await createProduct(t.shop, { categoryId: category, slug: 'voucher-bare', name: 'Bare', type: 'voucher' });
    await createSku(t.shop, { productId: product, code: 'VCH-BARE', name: 'Bare', price: 100 });
    const { order } = await buy('VCH-BARE');
    expect(order).toMatchObject({ status: 'refunded' });
    expect(order.reason).toContain('not set up as a voucher');
    expect((await admin.put('/plugins/local-life/admin/skus/VCH-BARE', { merchant: 'nowhere', title: 'x', validDays: 1 })).body.error.fields).toEqual({ merchant: 'field.unknown' });
    expect((await admin.put('/plugins/local-life/admin/skus/VCH-BARE', { merchant: 'noodles', title: 'x' })).body.error.fields).toEqual({ validDays: 'field.validity' });
    expect((await admin.post('/plugins/local-life/admin/merchants/noodles/staff', { name: 'short', pin: '1234' })).body.error.fields).toEqual({ pin: 'field.pin' });
    expect((await t.client().post('/plugins/local-life/admin/merchants', { code: 'x1', name: 'x' })).status).toBe(401);
    const u = await t.createUser();
    expect((await (await t.client().login(u.email, u.password)).get('/plugins/local-life/admin/merchants')).status).toBe(403);
  });
});
