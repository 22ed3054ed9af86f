import { alertSettings, definePlugin, PermanentJobError, raiseStuck, setRoute, type AlertMessage } from '@cardshop/core';
import { createDummySupplier, dummyPayments, startTestShop, TEST_DIALECTS, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { cardSku, otherSku } from './fixtures.js';

/** Windows this long never turn over during a test: the limit is the only thing that lets messages through. */
const YEAR = 365 * 86_400_000;

/** An alert channel kept in memory, whose next sends of a kind of alert a test can make fail. */
function memoryChannel(name: string) {
  const sent: AlertMessage[] = [];
  const next: Partial<Record<AlertMessage['kind'], Array<'fail' | 'refuse' | 'wait'>>> = {};
  const plugin = definePlugin({
    name,
    version: '1.0.0',
    core: '>=0.1.0',
    settings: z.object({ limit: z.number().int().default(1000), ...alertSettings }),
    setup(ctx) {
      ctx.alertChannel((s) => ({
        rules: s,
        rate: { limit: s.limit, windowMs: YEAR },
        async send(message) {
          const what = next[message.kind]?.shift();
          if (what === 'fail') throw new Error('the API is down');
          if (what === 'refuse') throw new PermanentJobError('the token was revoked');
          if (what === 'wait') return { retryAt: Date.now() + 60_000 };
          sent.push(message);
        },
      }));
    },
  });
  return { plugin, sent, next };
}

describe.each(TEST_DIALECTS)('operator alerts (%s)', (dialect) => {
  const main = memoryChannel('alert-main');
  const supplier = createDummySupplier('alert-sup');
  let t: TestShop;

  beforeAll(async () => {
    t = await startTestShop({
      dialect,
      config: {
        plugins: [
          dummyPayments(),
          supplier.plugin,
          main.plugin({ orderMinimum: 10, language: 'en' }),
        ],
        delivery: { backoffMs: 0, maxAttempts: 3 },
      },
    });
  });
  afterAll(() => t?.close());

  /** Lets the listeners queue their alerts, then runs every job due. */
  const settle = async (at?: number) => {
    await t.shop.hooks.idle();
    await t.shop.delivery.worker.runDue(at);
  };
  const alertJobs = () => t.shop.db.knex('delivery_jobs').where('kind', 'alert').orderBy('id').select('ref', 'status', 'attempts', 'run_at', 'last_error');

  it('tells of paid orders from the minimum up, once each, in the channel language; not below it, nor top-ups', async () => {
    const { code: cheap } = await cardSku(t.shop, { price: 500 });
    const { code: dear } = await cardSku(t.shop, { price: 2000 });
    const buyer = await t.createUser({ balance: 100_000 });
    const client = await t.client().login(buyer.email, buyer.password);
    expect((await client.post('/api/store/checkout', { sku: cheap, quantity: 1, payment: 'wallet' })).status).toBe(201);
    const placed = await client.post('/api/store/checkout', { sku: dear, quantity: 1, payment: 'wallet' });
    expect(placed.status).toBe(201);
    const topup = await client.post('/api/store/wallet/topup', { amount: 5000, payment: 'dummy' });
    expect(topup.status).toBe(201);
    expect((await t.notify({ orderNo: topup.body.order.no, amount: 5000 })).text).toBe('ok');
    await settle();
    const no = placed.body.order.no as string;
    expect(main.sent.filter((m) => m.kind === 'order')).toEqual([{ kind: 'order', title: `New order ${no}`, body: `${placed.body.order.title} × 1\nAmount: ¥20.00\nPaid with: wallet`, shop: 'Cardshop' }]);
  });

  it('queues one alert per order and channel under hundreds of parallel checkouts, and sends each once', async () => {
    main.sent.length = 0;
    const { code } = await cardSku(t.shop, { price: 1500, keys: 200 });
    const buyers = await Promise.all(Array.from({ length: 10 }, () => t.createUser({ balance: 400_000 })));
    const clients = await Promise.all(buyers.map((b) => t.client().login(b.email, b.password)));
    const placed = await Promise.all(Array.from({ length: 200 }, (_, i) => clients[i % clients.length]!.post('/api/store/checkout', { sku: code, quantity: 1, payment: 'wallet' })));
    expect(placed.every((r) => r.status === 201)).toBe(true);
    await settle();
    const nos = placed.map((r) => r.body.order.no as string).sort();
    expect(main.sent.filter((m) => m.kind === 'order').map((m) => m.title.replace('New order ', '')).sort()).toEqual(nos);
    const jobs = (await alertJobs()).filter((j) => nos.some((no) => j.ref === `alert-main:order:${no}`));
    expect(jobs).toHaveLength(200);
    expect(jobs.every((j) => j.status === 'done')).toBe(true);
  });

  it('keeps to a channel rate limit: what is over it waits for the next window instead of failing', async () => {
    // A shop of its own, not serving: no minute chore raises alerts that would use up the limit.
    const slow = memoryChannel('alert-slow');
    const s = await startTestShop({ dialect, listen: false, config: { plugins: [slow.plugin({ alerts: ['stock'], limit: 3 })] } });
    try {
      for (let i = 0; i < 5; i++) s.shop.hooks.emit('stock.low', { sku: `LOW-${i}`, stock: 1, lowStock: 2 });
      await s.shop.hooks.idle();
      await s.shop.delivery.worker.runDue();
      expect(slow.sent).toHaveLength(3);
      // In the default language.
      for (const m of slow.sent) expect(m.body).toMatch(/^LOW-\d 只剩 1 件，已到预警线 2 件。$/);
      const jobs = await s.shop.db.knex('delivery_jobs').where('kind', 'alert').select('status', 'attempts', 'run_at');
      const waiting = jobs.filter((j) => j.status === 'queued');
      expect(waiting).toHaveLength(2);
      const windowEnd = Date.now() - (Date.now() % YEAR) + YEAR;
      expect(waiting.every((j) => Number(j.run_at) === windowEnd && Number(j.attempts) === 0)).toBe(true);
    } finally {
      await s.close();
    }
  });

  it('retries a failed send, waits when asked, and stops at a refusal no retry can fix', async () => {
    main.sent.length = 0;
    main.next.supplier = ['fail', 'wait'];
    t.shop.hooks.emit('supplier.balance_low', { supplier: 'alert-sup', balance: 1234, currency: 'CNY' });
    await settle();
    const balanceSent = () => main.sent.filter((m) => m.kind === 'supplier');
    expect(balanceSent()).toEqual([]); // failed once, then asked to wait a minute
    const [job] = (await alertJobs()).filter((j) => j.ref.startsWith('alert-main:balance:'));
    expect(job).toMatchObject({ status: 'queued', last_error: 'the API is down' });
    await settle(Date.now() + 61_000);
    expect(balanceSent().map((m) => [m.title, m.body])).toEqual([['Supplier balance low: alert-sup', 'Our balance at alert-sup is down to ¥12.34; top it up soon or its orders will fail.']]);
    // Told again the same day (every ten minutes while low): not alerted again.
    t.shop.hooks.emit('supplier.balance_low', { supplier: 'alert-sup', balance: 1000, currency: 'CNY' });
    await settle();
    expect(balanceSent()).toHaveLength(1);

    main.next.stock = ['refuse'];
    t.shop.hooks.emit('stock.low', { sku: 'REFUSED', stock: 0, lowStock: 1 });
    await settle();
    const refused = (await alertJobs()).find((j) => j.ref.startsWith('alert-main:stock:REFUSED'));
    expect(refused).toMatchObject({ status: 'dead', attempts: 1, last_error: 'the token was revoked' });
  });

  it('tells of a supplier that refuses an order and of payments the gateway reports that the order cannot take', async () => {
    main.sent.length = 0;
    const { code } = await otherSku(t.shop, 'direct', 'ALERT-DIRECT', 800);
    await setRoute(t.shop, code, { supplier: 'alert-sup', supplierSku: 'SUP-GONE', cost: 500 });
    supplier.behaviour.set('SUP-GONE', 'fail');
    const buyer = await t.createUser({ balance: 10_000 });
    const client = await t.client().login(buyer.email, buyer.password);
    const direct = await client.post('/api/store/checkout', { sku: code, quantity: 1, payment: 'wallet', fields: { phone: '13800138000' } });
    expect(direct.status).toBe(201);
    await settle();
    const failedNo = direct.body.order.no as string;
    expect(main.sent.find((m) => m.kind === 'supplier')).toMatchObject({ title: 'Supplier failed: alert-sup', body: expect.stringContaining(`Order ${failedNo} failed at supplier alert-sup: `) });

    const { code: card } = await cardSku(t.shop, { price: 3000 });
    const unpaid = await t.client().post('/api/store/checkout', { sku: card, quantity: 1, payment: 'dummy', contact: 'guest@test.local' });
    expect(unpaid.status).toBe(201);
    const no = unpaid.body.order.no as string;
    // Signed by the gateway, for another amount: refused, and the gateway sends it again and again.
    for (let i = 0; i < 3; i++) expect((await t.notify({ orderNo: no, amount: 100 })).status).not.toBe(200);
    await settle();
    const stuck = main.sent.filter((m) => m.kind === 'payment');
    expect(stuck).toEqual([expect.objectContaining({ title: `Order needs you: ${no}`, body: expect.stringMatching(/^Paid at the gateway, but another amount\n.*, ¥30\.00, dummy\nSee Stuck orders in the console\.$/) })]);
  });

  it('tells of a paid order still undelivered after payments.stuckMinutes, once', async () => {
    main.sent.length = 0;
    const { code } = await otherSku(t.shop, 'manual', 'ALERT-MANUAL', 1200);
    const buyer = await t.createUser({ balance: 10_000 });
    const client = await t.client().login(buyer.email, buyer.password);
    const placed = await client.post('/api/store/checkout', { sku: code, quantity: 1, payment: 'wallet', fields: { phone: '13800138000' } });
    expect(placed.body.order).toMatchObject({ status: 'paid' });
    const no = placed.body.order.no as string;
    await raiseStuck(t.shop, t.shop.plugins.gateways);
    await settle();
    expect(main.sent.some((m) => m.title === `Order needs you: ${no}`)).toBe(false); // just paid
    await t.shop.db.knex('orders').where('no', no).update({ paid_at: Date.now() - t.shop.config.payments.stuckMinutes * 60_000 - 1 });
    // The minute chore raises them too (and may come first): between them, it is told once.
    await raiseStuck(t.shop, t.shop.plugins.gateways);
    await raiseStuck(t.shop, t.shop.plugins.gateways);
    await settle();
    expect(main.sent.filter((m) => m.title === `Order needs you: ${no}`).map((m) => m.body.split('\n')[0])).toEqual(['Paid, not delivered after 10 min']);
  });

  it('sends a test alert from the console plugin page with the settings saved last', async () => {
    const admin = await t.createUser({ role: 'admin' });
    const boss = await t.client().login(admin.email, admin.password);
    const page = await boss.get('/admin/plugins');
    expect(page.text).toContain('action="/admin/plugins/alert-main/test-alert"');
    expect(page.text).not.toContain('action="/admin/plugins/dummy/test-alert"');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
    expect((await boss.post('/admin/plugins/alert-main/test-alert', new URLSearchParams({}))).status).toBe(403); // no CSRF token
    expect((await boss.post('/admin/plugins/dummy/test-alert', new URLSearchParams({ _csrf: csrf }))).status).toBe(404);

    // Saved in the console as Chinese: the test speaks it before any restart.
    expect((await boss.post('/admin/plugins/alert-main', new URLSearchParams({ _csrf: csrf, limit: '1000', alerts: 'order, stock', orderMinimum: '10', language: 'zh-CN' }))).status).toBe(303);
    main.sent.length = 0;
    const ok = await boss.post('/admin/plugins/alert-main/test-alert', new URLSearchParams({ _csrf: csrf }));
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('已发送测试提醒（alert-main）');
    expect(main.sent.filter((m) => m.kind === 'test')).toEqual([{ kind: 'test', title: '测试提醒', body: '这是一条测试提醒：店铺的运营提醒可以送达这里。', shop: 'Cardshop' }]);

    main.next.test = ['refuse'];
    const refused = await boss.post('/admin/plugins/alert-main/test-alert', new URLSearchParams({ _csrf: csrf }));
    expect(refused.status).toBe(502);
    expect(refused.text).toContain('测试提醒没有发出（alert-main）：the token was revoked');
    expect(main.sent.filter((m) => m.kind === 'test')).toHaveLength(1);
    // A test goes straight out: no job is written for it.
    expect((await alertJobs()).some((j) => j.ref.includes(':test'))).toBe(false);
  });
});
