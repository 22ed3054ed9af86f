import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkNotifyUrl, confirmOrder, expireUnpaid, fillBackorders, importKeys, listAudit, listCallbacks, pruneCallbacks, setRoute, stockOf, sweepPending, verifyLedger } from '@cardshop/core';
import epay from '@cardshop/plugin-payment-epay';
import { createDummySupplier, dummyPayments, signDummy, startTestShop, TEST_DIALECTS, type TestClient, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeEpay, type FakeEpay } from '../plugins/payment-epay/src/testing/fake-epay.js';
import { cardSku, otherSku } from './fixtures.js';

const count = async (t: TestShop, table: string, where: Record<string, unknown> = {}) =>
  Number((await t.shop.db.knex(table).where(where).count({ n: '*' }).first())?.n);

const order = (t: TestShop, no: string) => t.shop.db.knex('orders').where('no', no).first();

/** A signed-in admin's browser and its CSRF token. */
async function adminBrowser(t: TestShop): Promise<{ c: TestClient; csrf: string; id: number }> {
  const admin = await t.createUser({ role: 'admin' });
  const c = await t.client().login(admin.email, admin.password);
  return { c, csrf: await c.csrf(), id: admin.id };
}

const form = (csrf: string, fields: Record<string, string> = {}) => new URLSearchParams({ _csrf: csrf, ...fields });

describe.each(TEST_DIALECTS)('a refused notify, found in the log and replayed after the fix (%s)', (dialect) => {
  const OLD_KEY = 'merchant-key-old-0001';
  const NEW_KEY = 'merchant-key-new-0002';
  let site: FakeEpay;
  let t: TestShop;

  beforeAll(async () => {
    site = await startFakeEpay({ pid: '1001', key: OLD_KEY });
    t = await startTestShop({ dialect, config: { plugins: [epay({ apiUrl: site.url, pid: '1001', key: OLD_KEY, mode: 'api', types: ['alipay'] })] } });
  });
  afterAll(async () => {
    await t?.close();
    await site?.close();
  });

  it('accepts the notify as a form, as JSON and as a GET query alike', async () => {
    const { code } = await cardSku(t.shop, { keys: 3, price: 200 });
    for (const encoding of ['json', 'form', 'get'] as const) {
      const placed = await t.client().post('/api/store/checkout', { sku: code, contact: 'buyer@example.com', payment: 'epay' });
      const no: string = placed.body.order.no;
      expect((await site.sendNotify(site.pay(no), encoding)).body).toBe('success');
      expect((await order(t, no)).status).toBe('delivered');
    }
  });

  it('logs the bad signature with its reason, and a replay after the key is fixed delivers once', async () => {
    const { code, keys } = await cardSku(t.shop, { keys: 2, price: 1500 });
    const placed = await t.client().post('/api/store/checkout', { sku: code, contact: 'buyer@example.com', payment: 'epay' });
    expect(placed.status).toBe(201);
    const no: string = placed.body.order.no;

    // The merchant reset the key in the epay dashboard; the shop still has the old one.
    site.pay(no);
    const params = site.notifyParams(no, {}, NEW_KEY);
    expect((await site.sendNotify(params, 'form')).body).toBe('fail');
    expect((await order(t, no)).status).toBe('pending_payment');

    const [failed] = await listCallbacks(t.shop, { gateway: 'epay', failedOnly: true });
    expect(failed).toMatchObject({ kind: 'notify', orderNo: no, signatureValid: false, outcome: 'invalid', ok: false, statusBefore: 'pending_payment', replyBody: 'fail' });
    expect(failed!.reason).toMatch(/sign/i);

    // The operator finds it in the console: failed only, with the reason; the signature is masked.
    const admin = await adminBrowser(t);
    const list = await admin.c.get('/admin/payments/epay/callbacks?failed=1');
    expect(list.status).toBe(200);
    expect(list.text).toContain(no);
    expect(list.text).toContain(failed!.reason!);
    const detail = await admin.c.get(`/admin/payments/callbacks/${failed!.id}`);
    expect(detail.text).toContain('data-replay');
    expect(detail.text).not.toContain(params.sign);
    expect((await t.client().get(`/admin/payments/callbacks/${failed!.id}`)).status).toBe(302); // visitors log in first
    const buyer = await t.createUser();
    expect((await (await t.client().login(buyer.email, buyer.password)).get('/admin/payments')).status).toBe(403);
    expect((await admin.c.post(`/admin/payments/callbacks/${failed!.id}/replay`, new URLSearchParams({}))).status).toBe(403); // no CSRF token

    // Replayed before the fix: verified again, refused again.
    const early = await admin.c.post(`/admin/payments/callbacks/${failed!.id}/replay`, form(admin.csrf));
    expect(early.status).toBe(303);
    expect((await order(t, no)).status).toBe('pending_payment');

    // The operator puts the new key in the plugin's settings; they apply on restart.
    const saved = await admin.c.post('/admin/plugins/epay', form(admin.csrf, { apiUrl: site.url, pid: '1001', key: NEW_KEY, mode: 'api', types: 'alipay' }));
    expect(saved.status).toBe(303);
    const [change] = await listAudit(t.shop, { action: 'plugin.settings' });
    expect(change).toMatchObject({ actorId: admin.id, targetId: 'epay', after: { changed: expect.arrayContaining(['key']) } });
    expect(JSON.stringify(change)).not.toContain(NEW_KEY);
    await t.restart();

    const replayed = await admin.c.post(`/admin/payments/callbacks/${failed!.id}/replay`, form(admin.csrf));
    expect(replayed.status).toBe(303);
    const page = await admin.c.get(replayed.headers.get('location')!);
    expect(page.text).toMatch(/data-outcome>paid</);
    const again = await admin.c.post(`/admin/payments/callbacks/${failed!.id}/replay`, form(admin.csrf));
    expect((await admin.c.get(again.headers.get('location')!)).text).toMatch(/data-outcome>duplicate</);

    const row = await order(t, no);
    expect(row.status).toBe('delivered');
    expect(await count(t, 'card_keys', { order_id: row.id })).toBe(1);
    expect(await count(t, 'journal_transactions', { order_id: row.id })).toBe(1);
    const view = await t.client().get(`/api/store/orders/${no}?token=${encodeURIComponent(placed.body.token)}`);
    expect(view.body.order.keys.map((k: { card: string }) => k.card)).toEqual([keys[0]]);
    const replays = await listAudit(t.shop, { action: 'payment.replay', targetId: failed!.id });
    expect(replays).toHaveLength(3);
    expect(replays.every((a) => a.actorId === admin.id)).toBe(true);
    const orderPage = await admin.c.get(`/admin/payments/orders/${no}`);
    expect(orderPage.text.match(/data-callback=/g)?.length).toBe(4); // the original and three replays
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });

});

describe.each(TEST_DIALECTS)('manual confirm (补单) and the stuck queue (%s)', (dialect) => {
  let t: TestShop;
  let admin: { c: TestClient; csrf: string; id: number };

  beforeAll(async () => {
    t = await startTestShop({ dialect, config: { plugins: [dummyPayments()] } });
    admin = await adminBrowser(t);
  });
  afterAll(() => t?.close());

  const guestOrder = async (code: string, contact = 'guest@example.com') => {
    const r = await t.client().post('/api/store/checkout', { sku: code, contact, payment: 'dummy' });
    expect(r.status).toBe(201);
    return r.body as { order: { no: string; amount: number }; token: string };
  };

  it('pays and delivers once when 50 manual confirms race their real notifies', async () => {
    const { code } = await cardSku(t.shop, { keys: 60, price: 990 });
    const placed = await Promise.all(Array.from({ length: 50 }, () => guestOrder(code)));
    // Both at once for every order: the admin's form (with the gateway's trade number) and the notify.
    const answers = await Promise.all(
      placed.flatMap(({ order: o }) => [
        admin.c.post(`/admin/payments/orders/${o.no}/confirm`, form(admin.csrf, { tradeNo: `T-${o.no}`, note: 'seen in the gateway back office' })),
        t.notify({ orderNo: o.no, amount: 990 }),
      ]),
    );
    expect(answers.filter((_, i) => i % 2 === 0).every((r) => r.status === 303)).toBe(true);
    expect(answers.filter((_, i) => i % 2 === 1).every((r) => r.text === 'ok')).toBe(true);
    for (const { order: o } of placed) {
      const row = await order(t, o.no);
      expect(row.status).toBe('delivered');
      expect(await count(t, 'card_keys', { order_id: row.id })).toBe(1);
      expect(await count(t, 'journal_transactions', { order_id: row.id })).toBe(1);
      expect(await listAudit(t.shop, { targetType: 'order', targetId: o.no })).toHaveLength(1);
    }
    expect(await stockOf(t.shop, code)).toEqual({ counter: 10, available: 10 });
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });

  it("shows the gateway's answer beside the form, confirms an expired order, and a second confirm changes nothing", async () => {
    const { code } = await cardSku(t.shop, { keys: 2, price: 700 });
    const { order: o } = await guestOrder(code);
    await t.shop.db.knex('orders').where('no', o.no).update({ expires_at: Date.now() - 1 });
    await expireUnpaid(t.shop);
    await t.client().post('/plugins/dummy-pay/paid', { orderNo: o.no, amount: 700 }); // paid at the gateway, no notify

    const page = await admin.c.get(`/admin/payments/orders/${o.no}`);
    expect(page.text).toMatch(/data-gateway-says>paid/);
    expect(page.text).toContain(`value="Q-${o.no}"`); // the trade number, filled in from the query
    const bad = await admin.c.post(`/admin/payments/orders/${o.no}/confirm`, form(admin.csrf, { tradeNo: `Q-${o.no}`, note: '' }));
    expect(bad.status).toBe(400);
    expect((await order(t, o.no)).status).toBe('expired');

    const done = await admin.c.post(`/admin/payments/orders/${o.no}/confirm`, form(admin.csrf, { tradeNo: `Q-${o.no}`, note: 'buyer sent a screenshot' }));
    expect(done.status).toBe(303);
    expect((await admin.c.get(done.headers.get('location')!)).text).toMatch(/data-status>delivered</);
    const twice = await confirmOrder(t.shop, { no: o.no, tradeNo: 'SOMETHING-ELSE', note: 'again' }, { id: admin.id });
    expect(twice.outcome).toBe('duplicate');
    const row = await order(t, o.no);
    expect(row).toMatchObject({ status: 'delivered', trade_no: `Q-${o.no}` });
    expect(await count(t, 'card_keys', { order_id: row.id })).toBe(1);
    const entries = await listAudit(t.shop, { targetType: 'order', targetId: o.no });
    expect(entries.map((e) => e.action)).toEqual(['order.confirm', 'order.confirm']);
    expect(entries[1]).toMatchObject({ actorId: admin.id, before: { status: 'expired' }, after: { status: 'delivered', note: 'buyer sent a screenshot', enteredTradeNo: `Q-${o.no}` } });
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });

  it('never delivers on a notify for an expired order without confirmation, and never loses the money', async () => {
    const { code } = await cardSku(t.shop, { keys: 2, price: 650 });
    const member = await t.createUser();
    const mc = await t.client().login(member.email, member.password);
    const mine = (await mc.post('/api/store/checkout', { sku: code, payment: 'dummy' })).body.order.no as string;
    const guest = (await guestOrder(code)).order.no;
    await t.shop.db.knex('orders').whereIn('no', [mine, guest]).update({ expires_at: Date.now() - 1 });
    await expireUnpaid(t.shop);
    expect(await stockOf(t.shop, code)).toEqual({ counter: 2, available: 2 }); // released at expiry

    // Both paid late: the gateway confirms by query; the money is kept, no goods.
    for (const no of [mine, guest]) expect((await t.notify({ orderNo: no, amount: 650 })).text).toBe('ok');
    expect((await mc.get('/api/store/me')).body.wallet.balance).toBe(650);
    const g = await order(t, guest);
    expect(g).toMatchObject({ status: 'expired' });
    expect(Boolean(g.refund_due)).toBe(true);
    expect(await count(t, 'card_keys', { order_id: g.id })).toBe(0);

    // The guest's money is in the stuck queue; the operator may still deliver the member's order from the kept money.
    const stuck = await admin.c.get('/admin/payments/stuck');
    expect(stuck.text).toContain(`data-stuck="${guest}"`);
    await confirmOrder(t.shop, { no: mine, tradeNo: `T-${mine}`, note: 'deliver after all' }, { id: admin.id });
    expect((await order(t, mine)).status).toBe('delivered');
    expect((await mc.get('/api/store/me')).body.wallet.balance).toBe(0);

    // A signed notify the gateway does not confirm (never paid) credits nothing.
    const never = (await guestOrder(code, 'never@example.com')).order.no;
    await t.shop.db.knex('orders').where('no', never).update({ expires_at: Date.now() - 1 });
    await expireUnpaid(t.shop);
    await t.client().post('/plugins/dummy-pay/unpaid', { orderNo: never });
    const owedBefore = Number((await t.shop.db.knex('accounts').where('code', 'platform:refunds_due').first('balance')).balance);
    const forgedLate = signDummy({ orderNo: never, amount: 650, tradeNo: 'FAKE', status: 'paid' });
    const answer = await t.client().post('/pay/dummy/notify', forgedLate.body, { 'content-type': 'application/json', 'x-dummy-signature': forgedLate.signature });
    expect(answer.text).toBe('fail');
    expect(Number((await t.shop.db.knex('accounts').where('code', 'platform:refunds_due').first('balance')).balance)).toBe(owedBefore);
    const [logged] = await listCallbacks(t.shop, { orderNo: never });
    expect(logged).toMatchObject({ outcome: 'unconfirmed', ok: false, signatureValid: true, statusBefore: 'expired', statusAfter: 'expired' });

    // Nor does one for a wallet top-up the gateway has no record of; once it has, the wallet is credited once.
    const topup = (await mc.post('/api/store/wallet/topup', { amount: 5000, payment: 'dummy' })).body.order.no as string;
    await t.client().post('/plugins/dummy-pay/unpaid', { orderNo: topup });
    expect((await t.notify({ orderNo: topup, amount: 5000 })).text).toBe('fail');
    expect((await mc.get('/api/store/me')).body.wallet.balance).toBe(0);
    await t.client().post('/plugins/dummy-pay/paid', { orderNo: topup, amount: 5000 });
    expect((await t.notify({ orderNo: topup, amount: 5000, tradeNo: `Q-${topup}` })).text).toBe('ok');
    expect((await t.notify({ orderNo: topup, amount: 5000, tradeNo: `Q-${topup}` })).text).toBe('ok');
    expect((await mc.get('/api/store/me')).body.wallet.balance).toBe(5000);
    // A top-up whose notify was lost is found by the minute job's query.
    const lost = (await mc.post('/api/store/wallet/topup', { amount: 1200, payment: 'dummy' })).body.order.no as string;
    await t.client().post('/plugins/dummy-pay/paid', { orderNo: lost, amount: 1200 });
    await t.shop.db.knex('orders').where('no', lost).update({ created_at: Date.now() - 120_000 });
    expect((await sweepPending(t.shop, t.shop.plugins.gateways)).confirmed).toBe(1);
    expect((await mc.get('/api/store/me')).body.wallet.balance).toBe(6200);
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });

  it('backorders where the SKU says so, and delivers the oldest first when keys arrive', async () => {
    const { code } = await cardSku(t.shop, { keys: 1, price: 300 });
    await t.shop.db.knex('skus').where('code', code).update({ oversell: 'backorder' });
    const first = (await guestOrder(code)).order.no; // holds the only key
    const refusedWhileHeld = await t.client().post('/api/store/checkout', { sku: code, contact: 'x@example.com', payment: 'dummy' });
    expect(refusedWhileHeld.status).toBe(409);
    await t.shop.db.knex('orders').where('no', first).update({ expires_at: Date.now() - 1 });
    await expireUnpaid(t.shop);
    const buyer = await t.createUser({ balance: 1000 });
    const bc = await t.client().login(buyer.email, buyer.password);
    expect((await bc.post('/api/store/checkout', { sku: code, payment: 'wallet' })).status).toBe(201); // takes the released key
    expect((await t.client().post('/api/store/checkout', { sku: code, contact: 'y@example.com', payment: 'dummy' })).status).toBe(409);

    await t.client().post('/plugins/dummy-pay/paid', { orderNo: first, amount: 300 });
    await confirmOrder(t.shop, { no: first, tradeNo: `Q-${first}`, note: 'paid late' }, { id: admin.id });
    const row = await order(t, first);
    expect(row).toMatchObject({ status: 'paid' });
    expect(Boolean(row.backorder)).toBe(true);
    expect((await admin.c.get('/admin/payments/stuck')).text).toContain(`data-stuck="${first}"`);

    await importKeys(t.shop, { sku: code, lines: ['NEW-KEY-1'] });
    expect(await fillBackorders(t.shop)).toBe(1);
    const done = await order(t, first);
    expect(done.status).toBe('delivered');
    expect(Boolean(done.backorder)).toBe(false);
    expect(await count(t, 'card_keys', { order_id: done.id })).toBe(1);
    expect(await stockOf(t.shop, code)).toEqual({ counter: 0, available: 0 });
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });

  it('lists pending orders the gateway reports paid, and confirms or refunds in bulk, each audited', async () => {
    const { code } = await cardSku(t.shop, { keys: 5, price: 120 });
    const a = (await guestOrder(code)).order.no;
    const b = (await guestOrder(code)).order.no;
    const unpaid = (await guestOrder(code)).order.no;
    await t.shop.db.knex('orders').whereIn('no', [a, b, unpaid]).update({ created_at: Date.now() - 120_000 });
    for (const no of [a, b]) await t.client().post('/plugins/dummy-pay/paid', { orderNo: no, amount: 120 });

    const page = await admin.c.get('/admin/payments/stuck');
    expect(page.text).toContain(`data-stuck="${a}"`);
    expect(page.text).toContain(`data-stuck="${b}"`);
    expect(page.text).not.toContain(`data-stuck="${unpaid}"`);
    const noNote = await admin.c.post('/admin/payments/stuck', new URLSearchParams([['_csrf', admin.csrf], ['action', 'confirm'], ['nos', a]]));
    expect(noNote.status).toBe(400);

    const body = new URLSearchParams([['_csrf', admin.csrf], ['action', 'confirm'], ['nos', a], ['nos', b], ['nos', unpaid], ['note', 'gateway says paid']]);
    const ran = await admin.c.post('/admin/payments/stuck', body);
    expect(ran.status).toBe(200);
    expect(ran.text).toMatch(new RegExp(`data-result="${unpaid}" class="bad-cell"`));
    for (const no of [a, b]) expect((await order(t, no)).status).toBe('delivered');
    expect((await order(t, unpaid)).status).toBe('pending_payment');

    const refund = new URLSearchParams([['_csrf', admin.csrf], ['action', 'refund_gateway'], ['nos', a], ['note', 'buyer changed their mind']]);
    expect((await admin.c.post('/admin/payments/stuck', refund)).text).toMatch(new RegExp(`data-result="${a}" class="ok-cell"`));
    expect((await order(t, a)).status).toBe('refunded');
    expect((await listAudit(t.shop, { targetType: 'order', targetId: a })).map((e) => e.action)).toEqual(['order.refund', 'order.confirm']);
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });
});

describe.each(TEST_DIALECTS)('check my notify URL (%s)', (dialect) => {
  let t: TestShop;
  const servers: Server[] = [];
  const serve = async (handler: Parameters<typeof createServer>[1]) => {
    const s = createServer(handler);
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  };

  beforeAll(async () => {
    t = await startTestShop({ dialect, config: { plugins: [dummyPayments()] } });
  });
  afterAll(async () => {
    for (const s of servers) s.close();
    await t?.close();
  });

  it('reaches this shop through its address, and names what is wrong when something else answers', async () => {
    const admin = await adminBrowser(t);
    const ok = await admin.c.post('/admin/payments/dummy/check', form(admin.csrf));
    expect(ok.status).toBe(200);
    expect(ok.text).toContain(`${t.url}/pay/dummy/notify`);
    expect(ok.text).toContain('role="status"'); // reached this shop
    expect(ok.text).toContain('publicUrl'); // …but no public URL is configured
    expect((await listCallbacks(t.shop, { gateway: 'dummy' }))[0]).toMatchObject({ kind: 'probe', ok: true });

    const at = (publicUrl: string) => checkNotifyUrl({ ...t.shop, config: { ...t.shop.config, publicUrl } }, 'dummy');
    const cdn = await serve((_, res) => {
      res.writeHead(403, { 'content-type': 'text/html' });
      res.end('<html>Access denied by the CDN</html>');
    });
    const redirecting = await serve((_, res) => {
      res.writeHead(301, { location: 'https://shop.example.com/pay/dummy/notify' });
      res.end();
    });
    const otherSite = await serve((_, res) => res.end('<html>welcome to my blog</html>'));
    expect(await at(cdn)).toMatchObject({ ok: false, status: 403, problems: ['admin.check.blocked'] });
    expect(await at(redirecting)).toMatchObject({ ok: false, status: 301, location: 'https://shop.example.com/pay/dummy/notify', problems: ['admin.check.redirected'] });
    expect(await at(`${otherSite}/`)).toMatchObject({ ok: false, url: `${otherSite}/pay/dummy/notify`, problems: ['admin.check.not_this_shop'] });
    expect(await at('http://127.0.0.1:9')).toMatchObject({ ok: false, problems: ['admin.check.unreachable'] });
    expect(await at(`${t.url}/`)).toMatchObject({ ok: true, problems: [] });

    // The log keeps `payments.callbackLogDays` (30) days; the hourly chore drops the rest.
    const before = (await listCallbacks(t.shop, { gateway: 'dummy' })).length;
    await t.shop.db.knex('payment_callbacks').where('kind', 'probe').update({ created_at: Date.now() - 31 * 86_400_000 });
    expect(await pruneCallbacks(t.shop)).toBe(before);
    expect(await listCallbacks(t.shop, { gateway: 'dummy' })).toHaveLength(0);
  });
});

describe.each(TEST_DIALECTS)('retrying a dead-lettered delivery from the stuck queue (%s)', (dialect) => {
  const supplier = createDummySupplier('sup-stuck');
  let t: TestShop;

  beforeAll(async () => {
    t = await startTestShop({ dialect, config: { plugins: [supplier.plugin], delivery: { backoffMs: 0, timeoutMs: 400, maxAttempts: 2, supplierPollMs: 60_000 } } });
  });
  afterAll(() => t?.close());

  it('lists the failed order with its dead job, and a retry from the console delivers it, audited', async () => {
    supplier.behaviour.set('S-DOWN', 'retry');
    const { code } = await otherSku(t.shop, 'direct', 'TOP-STUCK', 500);
    await setRoute(t.shop, code, { supplier: 'sup-stuck', supplierSku: 'S-DOWN', priority: 0, cost: 300 });
    const buyer = await t.createUser({ balance: 1000 });
    const bc = await t.client().login(buyer.email, buyer.password);
    const no = (await bc.post('/api/store/checkout', { sku: code, fields: { phone: '13800138000' }, payment: 'wallet' })).body.order.no as string;
    await t.shop.delivery.worker.runDue();
    expect((await order(t, no)).status).toBe('failed');

    const admin = await adminBrowser(t);
    const stuck = await admin.c.get('/admin/payments/stuck');
    expect(stuck.text).toMatch(new RegExp(`data-stuck="${no}"`));
    supplier.behaviour.set('S-DOWN', 'deliver');
    const ran = await admin.c.post('/admin/payments/stuck', new URLSearchParams([['_csrf', admin.csrf], ['action', 'retry'], ['nos', no]]));
    expect(ran.text).toMatch(new RegExp(`data-result="${no}" class="ok-cell"`));
    await t.shop.delivery.worker.runDue();
    expect((await order(t, no)).status).toBe('delivered');
    expect((await listAudit(t.shop, { targetType: 'order', targetId: no })).map((e) => e.action)).toEqual(['order.retry_delivery']);
    expect((await admin.c.get('/admin/payments/stuck')).text).not.toContain(`data-stuck="${no}"`);
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });
});
