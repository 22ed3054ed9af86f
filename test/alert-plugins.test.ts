import bark from '@cardshop/plugin-alert-bark';
import telegram from '@cardshop/plugin-alert-telegram';
import wecom from '@cardshop/plugin-alert-wecom';
import { startTestShop, TEST_DIALECTS, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeBark, type FakeBark } from '../plugins/alert-bark/src/testing/fake-bark.js';
import { startFakeTelegram, type FakeTelegram } from '../plugins/alert-telegram/src/testing/fake-telegram.js';
import { startFakeWecom, type FakeWecom } from '../plugins/alert-wecom/src/testing/fake-wecom.js';
import { cardSku } from './fixtures.js';

describe.each(TEST_DIALECTS)('the Telegram, WeCom and Bark plugins in a shop (%s)', (dialect) => {
  let tg: FakeTelegram;
  let wx: FakeWecom;
  let bk: FakeBark;
  let t: TestShop;

  beforeAll(async () => {
    [tg, wx, bk] = await Promise.all([startFakeTelegram(), startFakeWecom(), startFakeBark()]);
    t = await startTestShop({
      dialect,
      config: {
        shop: { name: '星河卡盟' },
        plugins: [
          telegram({ botToken: tg.token, chatId: tg.chatId, apiBase: tg.url }),
          wecom({ key: wx.key, apiBase: wx.url, language: 'en' }),
          bark({ deviceKey: bk.deviceKey, server: bk.url, orderMinimum: 100 }),
        ],
        delivery: { backoffMs: 0 },
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await Promise.all([tg?.close(), wx?.close(), bk?.close()]);
  });

  const settle = async (at?: number) => {
    await t.shop.hooks.idle();
    await t.shop.delivery.worker.runDue(at);
  };
  const orders = () => ({
    tg: tg.sent.filter((m) => m.text.startsWith('<b>新订单')),
    wx: wx.sent.filter((m) => m.content.startsWith('**New order')),
    bk: bk.pushed.filter((m) => m.title?.startsWith('新订单')),
  });

  it('tells each channel of a paid order in its language, by its rules, waiting as long as Telegram asks', async () => {
    const { code } = await cardSku(t.shop, { price: 2500 });
    const buyer = await t.createUser({ balance: 100_000 });
    const client = await t.client().login(buyer.email, buyer.password);
    tg.limitNext(1, 2);
    const placed = await client.post('/api/store/checkout', { sku: code, quantity: 2, payment: 'wallet' });
    expect(placed.status).toBe(201);
    const { no, title } = placed.body.order as { no: string; title: string };
    await settle();
    expect(orders().tg).toEqual([]); // told to retry after 2 s
    expect(orders().wx.map((m) => m.content)).toEqual([`**New order ${no}**\n> ${title} × 2\n> Amount: ¥50.00\n> Paid with: wallet\n<font color="comment">星河卡盟</font>`]);
    expect(orders().bk).toEqual([]); // under Bark's minimum of ¥100

    await settle(Date.now() + 2_500);
    expect(orders().tg.map((m) => m.text)).toEqual([`<b>新订单 ${no}</b>\n${title} × 2\n金额：¥50.00\n支付方式：wallet\n<i>星河卡盟</i>`]);
    expect(tg.sent.at(-1)!.parseMode).toBe('HTML');

    const big = await client.post('/api/store/checkout', { sku: code, quantity: 4, payment: 'wallet' });
    expect(big.status).toBe(201);
    await settle();
    expect(orders().bk).toEqual([expect.objectContaining({ title: `新订单 ${big.body.order.no}`, group: '星河卡盟', level: 'active' })]);
    expect(orders().tg).toHaveLength(2);
    expect(orders().wx).toHaveLength(2);
  });

  it('sends a test alert from the console through each plugin and shows what a refusing API said', async () => {
    const admin = await t.createUser({ role: 'admin' });
    const boss = await t.client().login(admin.email, admin.password);
    const page = await boss.get('/admin/plugins');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
    for (const name of ['alert-telegram', 'alert-wecom', 'alert-bark']) {
      const sent = await boss.post(`/admin/plugins/${name}/test-alert`, new URLSearchParams({ _csrf: csrf }));
      expect(sent.status).toBe(200);
    }
    expect(tg.sent.at(-1)!.text).toBe('<b>测试提醒</b>\n这是一条测试提醒：店铺的运营提醒可以送达这里。\n<i>星河卡盟</i>');
    expect(wx.sent.at(-1)!.content).toContain("**Test alert**\n> A test alert: the shop's operator alerts reach you here.");
    expect(bk.pushed.at(-1)).toMatchObject({ title: '测试提醒', group: '星河卡盟' });

    // A robot key typed wrong in the console: the test says so before anything depends on it.
    const form = new URLSearchParams({ _csrf: csrf, key: '00000000-0000-0000-0000-000000000000', msgtype: 'markdown', apiBase: wx.url, alerts: 'order', orderMinimum: '0', language: 'en' });
    expect((await boss.post('/admin/plugins/alert-wecom', form)).status).toBe(303);
    const refused = await boss.post('/admin/plugins/alert-wecom/test-alert', new URLSearchParams({ _csrf: csrf }));
    expect(refused.status).toBe(502);
    expect(refused.text).toContain('WeCom 93000: invalid webhook url');
  });
});
