import { createApiKey, refundOrder } from '@cardshop/core';
import mailSmtp from '@cardshop/plugin-mail-smtp';
import { dummyPayments, startTestShop, TEST_DIALECTS, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeSmtp, type FakeSmtp } from '../plugins/mail-smtp/src/testing/fake-smtp.js';
import { cardSku } from './fixtures.js';

describe.each(TEST_DIALECTS)('buyers’ order e-mails through the SMTP plugin (%s)', (dialect) => {
  let smtp: FakeSmtp;
  let t: TestShop;

  beforeAll(async () => {
    smtp = await startFakeSmtp();
    t = await startTestShop({
      dialect,
      config: {
        shop: { name: '星河卡盟' },
        plugins: [dummyPayments(), mailSmtp({
            host: smtp.host,
            port: smtp.port,
            user: smtp.user,
            pass: smtp.pass,
            from: '星河卡盟 <shop@example.test>',
            // Operator alerts of orders from ¥20 only: the smaller orders below make no alert mail.
            alertTo: ['ops@example.test'],
            alerts: ['order'],
            orderMinimum: 20,
            language: 'en',
          })],
        // Retries wait a minute and more: the tests run them by moving `runDue`'s clock.
        delivery: { backoffMs: 60_000 },
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await smtp?.close();
  });

  const settle = async (at?: number) => {
    await t.shop.hooks.idle();
    await t.shop.delivery.worker.runDue(at);
  };
  const mailsTo = (to: string) => smtp.received.filter((m) => m.to.includes(to));

  it('mails a guest the keys and a link that opens the order, in the language of the checkout, once however often the gateway notifies', async () => {
    const { code, keys } = await cardSku(t.shop, { price: 1500 });
    const placed = await t.client().post('/api/store/checkout', { sku: code, quantity: 2, contact: 'guest-en@example.test', payment: 'dummy' }, { 'accept-language': 'en-US,en;q=0.9' });
    expect(placed.status).toBe(201);
    const { no } = placed.body.order as { no: string };
    await settle();
    expect(mailsTo('guest-en@example.test')).toEqual([]); // unpaid: nothing yet

    await Promise.all(Array.from({ length: 5 }, () => t.notify({ orderNo: no, amount: 3000 })));
    await settle();
    await settle();
    const mails = mailsTo('guest-en@example.test');
    expect(mails).toHaveLength(1);
    const [mail] = mails;
    expect(mail!.subject).toBe(`Your order ${no} is delivered – 星河卡盟`);
    expect(mail!.from).toBe('shop@example.test');
    expect(mail!.text).toContain(`What you bought at 星河卡盟 is delivered:\n\nProduct ${code} - ${code} × 2, ¥30.00\n\nYour keys:\n${keys[0]}\n${keys[1]}\n`);
    const link = /Your order: (\S+)/.exec(mail!.text)![1]!;
    expect(link).toMatch(new RegExp(`^${t.url}/order/${no}\\?token=`));

    // The mail's link opens the order page in a browser that never saw the checkout.
    const page = await t.client().get(link.slice(t.url.length));
    expect(page.status).toBe(200);
    expect(page.text).toContain(keys[0]);
    const forged = await t.client().get(`/order/${no}?token=m${'0'.repeat(32)}`);
    expect(forged.status).toBe(404);
  });

  it('writes to the account’s address in the shop’s language, with a link for the signed-in owner, and says so when refunded', async () => {
    const { code, keys } = await cardSku(t.shop, { price: 800 });
    const buyer = await t.createUser({ balance: 10_000 });
    const client = await t.client().login(buyer.email, buyer.password);
    const placed = await client.post('/api/store/checkout', { sku: code, payment: 'wallet' });
    expect(placed.status).toBe(201);
    const { no } = placed.body.order as { no: string };
    await settle();
    const [delivered] = mailsTo(buyer.email);
    expect(delivered!.subject).toBe(`订单 ${no} 已发货 - 星河卡盟`);
    expect(delivered!.text).toContain(`卡密：\n${keys[0]}\n`);
    expect(delivered!.text).toContain(`登录后查看订单：${t.url}/order/${no}\n`);
    expect(delivered!.text).not.toContain('token=');

    const admin = await t.createUser({ role: 'admin' });
    await refundOrder(t.shop, t.shop.plugins.gateways, { no, reason: 'test', actorId: admin.id });
    await refundOrder(t.shop, t.shop.plugins.gateways, { no, reason: 'test', actorId: admin.id }).catch(() => undefined);
    await settle();
    const mails = mailsTo(buyer.email);
    expect(mails.map((m) => m.subject)).toEqual([`订单 ${no} 已发货 - 星河卡盟`, `订单 ${no} 已退款 - 星河卡盟`]);
    expect(mails[1]!.text).toContain(`您在 星河卡盟 的订单 ${no}（Product ${code} - ${code}）已退款 ¥8.00`);
  });

  it('retries when the SMTP server defers, sends once when it recovers, and writes to nobody but the order’s contact', async () => {
    const { code } = await cardSku(t.shop, { price: 500 });
    const buyer = await t.createUser({ balance: 10_000 });
    const client = await t.client().login(buyer.email, buyer.password);
    smtp.failNext(2, 451);
    const attempts = smtp.attempts;
    const placed = await client.post('/api/store/checkout', { sku: code, contact: 'other-inbox@example.test', payment: 'wallet' });
    const { no } = placed.body.order as { no: string };
    const job = () => t.shop.db.knex('delivery_jobs').where({ kind: 'mail', ref: `delivered:${no}` }).first('status', 'attempts', 'last_error');
    await settle();
    expect(smtp.attempts - attempts).toBe(1);
    expect(await job()).toMatchObject({ status: 'queued', attempts: 1, last_error: expect.stringContaining('451') });
    const hour = 3_600_000;
    await settle(Date.now() + hour);
    expect(mailsTo('other-inbox@example.test')).toEqual([]);
    await settle(Date.now() + 2 * hour);
    await settle(Date.now() + 3 * hour);
    expect(smtp.attempts - attempts).toBe(3);
    expect(await job()).toMatchObject({ status: 'done', attempts: 3 });
    // The order's contact, not the account's address; and only once.
    expect(mailsTo('other-inbox@example.test').map((m) => m.subject)).toEqual([`订单 ${no} 已发货 - 星河卡盟`]);
    expect(mailsTo(buyer.email)).toEqual([]);

    // A guest who left a phone number gets no mail (and the job does not fail).
    const phone = await t.client().post('/api/store/checkout', { sku: code, contact: '13800138000', payment: 'dummy' });
    const before = smtp.received.length;
    await t.notify({ orderNo: phone.body.order.no, amount: 500 });
    await settle();
    expect(smtp.received.length).toBe(before);
    expect(await t.shop.db.knex('delivery_jobs').where({ kind: 'mail', ref: `delivered:${phone.body.order.no}` }).first('status')).toMatchObject({ status: 'done' });
  });

  it('tells the operator by e-mail, in the channel’s language and by its rules, and sends the console’s test alert', async () => {
    const { code } = await cardSku(t.shop, { price: 2500 });
    const buyer = await t.createUser({ balance: 10_000 });
    const client = await t.client().login(buyer.email, buyer.password);
    const placed = await client.post('/api/store/checkout', { sku: code, payment: 'wallet' });
    const { no, title } = placed.body.order as { no: string; title: string };
    await settle();
    const alerts = mailsTo('ops@example.test').filter((m) => m.subject.includes(no));
    expect(alerts.map((m) => [m.subject, m.text])).toEqual([[`[星河卡盟] New order ${no}`, `${title} × 1\nAmount: ¥25.00\nPaid with: wallet\n\n星河卡盟\n`]]);

    const admin = await t.createUser({ role: 'admin' });
    const boss = await t.client().login(admin.email, admin.password);
    const csrf = await boss.csrf('/admin/plugins');
    const sent = await boss.post('/admin/plugins/mail-smtp/test-alert', new URLSearchParams({ _csrf: csrf }));
    expect(sent.status).toBe(200);
    expect(mailsTo('ops@example.test').at(-1)).toMatchObject({ subject: '[星河卡盟] Test alert', text: "A test alert: the shop's operator alerts reach you here.\n\n星河卡盟\n" });
  });

  it('speaks for the sub-shop the guest bought on, with links there, and leaves Agent API orders to the caller', async () => {
    const { code, keys } = await cardSku(t.shop, { price: 1000 });
    const owner = await t.createUser();
    const agent = await t.client().login(owner.email, owner.password);
    await agent.post('/api/store/agent/join');
    expect((await agent.put('/api/store/agent/site', { code: 'moon', name: '月光小店' })).status).toBe(200);
    const placed = await t.client().post('/s/moon/api/store/checkout', { sku: code, contact: 'moon-guest@example.test', payment: 'dummy' });
    expect(placed.status).toBe(201);
    const { no, amount } = placed.body.order as { no: string; amount: number };
    await t.notify({ orderNo: no, amount });
    await settle();
    const [mail] = mailsTo('moon-guest@example.test');
    expect(mail!.subject).toBe(`订单 ${no} 已发货 - 月光小店`);
    expect(mail!.text).toContain('您在 月光小店 购买的商品已发货');
    const link = /查看订单：(\S+)/.exec(mail!.text)![1]!;
    expect(link).toMatch(new RegExp(`^${t.url}/s/moon/order/${no}\\?token=`));
    const page = await t.client().get(link.slice(t.url.length));
    expect(page.status).toBe(200);
    expect(page.text).toContain(keys[0]);

    // A downstream shop's order: its customer is the caller's to tell, and the key owner gets no mail per order either.
    const integrator = await t.createUser({ balance: 10_000 });
    const api = t.apiClient(await createApiKey(t.shop, integrator.id));
    const viaApi = await api.post('/orders', { sku: code, quantity: 1 }, { 'idempotency-key': 'mail-1' });
    expect(viaApi.status).toBe(201);
    await settle();
    expect(await t.shop.db.knex('delivery_jobs').where({ kind: 'mail', ref: `delivered:${viaApi.body.order.no}` }).first('status')).toMatchObject({ status: 'done' });
    expect(mailsTo(integrator.email)).toEqual([]);
  });

  it('mails a guest the look-up code in the language they asked in, and the code opens their orders', async () => {
    const { code } = await cardSku(t.shop, { price: 500 });
    const placed = await t.client().post('/api/store/checkout', { sku: code, contact: 'forgetful@example.test', payment: 'dummy' });
    await t.notify({ orderNo: placed.body.order.no, amount: 500 });
    const guest = t.client();
    expect((await guest.post('/api/store/orders/lookup-code', { q: 'Forgetful@example.test' }, { 'accept-language': 'en' })).status).toBe(202);
    await settle();
    const mail = mailsTo('forgetful@example.test').find((m) => m.subject.startsWith('Your 星河卡盟 order look-up code'))!;
    const sent = /look-up code: (\d{6})$/.exec(mail.subject)![1]!;
    expect(mail.text).toBe(`Your code to look up your orders is ${sent}; it works for 15 minutes. If you did not ask for it, ignore this e-mail.\n`);
    const found = await guest.post('/api/store/orders/lookup', { q: 'forgetful@example.test', code: sent });
    expect(found.status).toBe(200);
    expect(found.body.orders.map((o: { no: string }) => o.no)).toEqual([placed.body.order.no]);
  });
});
