import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { dummyPayments, startTestShop, TEST_DIALECTS, type TestShop } from '@cardshop/core/testing';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku } from './fixtures.js';

// Debian's Chromium; the test never downloads a browser.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = path.resolve('test/.screenshots');

describe.each(TEST_DIALECTS)('an operator fixes payment trouble in a real browser (%s)', (dialect) => {
  let t: TestShop;
  let browser: Browser;

  beforeAll(async () => {
    // The shop was set up with a mistyped gateway secret: every notify fails its signature.
    t = await startTestShop({ dialect, config: { plugins: [dummyPayments({ secret: 'mistyped-secret' })] } });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    mkdirSync(SHOTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('finds a failed notify, replays it after fixing the secret, and confirms another order by hand', async () => {
    const { code } = await cardSku(t.shop, { keys: 3, price: 1880 });
    const place = async () => (await t.client().post('/api/store/checkout', { sku: code, contact: 'buyer@example.com', payment: 'dummy' })).body.order.no as string;
    const notified = await place();
    const lost = await place(); // paid at the gateway, but its notify never came
    expect((await t.notify({ orderNo: notified, amount: 1880 })).status).toBe(400); // refused: bad signature

    const admin = await t.createUser({ role: 'admin' });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
    const page = await context.newPage();
    await page.goto(`${t.url}/admin/payments`);
    await page.waitForURL(/\/login/);
    await page.fill('input[name=email]', admin.email);
    await page.fill('input[name=password]', admin.password);
    await page.click('main form button[type=submit]');
    await page.waitForURL(/\/admin\/payments$/);

    // The failed notify, with its reason.
    await page.click('a[href="/admin/payments/dummy/callbacks?failed=1"]');
    const row = page.locator('tr[data-callback]', { hasText: notified });
    expect(await row.textContent()).toContain('bad signature');
    await page.screenshot({ path: path.join(SHOTS, `admin-callbacks-${dialect}.png`), fullPage: true });

    // The fix: the right secret in the plugin's settings, then a restart.
    await page.goto(`${t.url}/admin/plugins`);
    await page.fill('input[name=secret]', 'dummy-gateway-secret');
    await page.click('form[action="/admin/plugins/dummy-pay"] button[type=submit]');
    await page.waitForURL(/saved=1/);
    await t.restart();
    await t.client().post('/plugins/dummy-pay/paid', { orderNo: lost, amount: 1880 }); // the fake gateway's memory did not survive the restart; a real one's does

    // Replay it from its page.
    await page.goto(`${t.url}/admin/payments/dummy/callbacks?failed=1`);
    await page.locator('tr[data-callback]', { hasText: notified }).locator('a').first().click();
    await page.click('button[data-replay]');
    await page.waitForURL(/replayed=1/);
    expect(await page.textContent('[data-outcome]')).toBe('paid');
    await page.screenshot({ path: path.join(SHOTS, `admin-replayed-${dialect}.png`), fullPage: true });
    expect((await t.shop.db.knex('orders').where('no', notified).first('status')).status).toBe('delivered');

    // The other order, by hand: the gateway's answer is beside the form, its trade number filled in.
    await page.goto(`${t.url}/admin/payments`);
    await page.fill('#open-no', lost);
    await page.click('form[action="/admin/payments/orders"] button[type=submit]');
    await page.waitForURL(new RegExp(`/admin/payments/orders/${lost}$`));
    expect(await page.textContent('[data-gateway-says]')).toContain('paid');
    expect(await page.inputValue('#tradeNo')).toBe(`Q-${lost}`);
    await page.fill('#note', '支付平台后台显示已付款');
    await page.click('form[data-confirm-form] button[type=submit]');
    await page.waitForURL(/done=confirmed/);
    expect(await page.textContent('[data-status]')).toBe('delivered');
    expect(await page.textContent('main')).toContain('order.confirm');
    await page.screenshot({ path: path.join(SHOTS, `admin-confirmed-${dialect}.png`), fullPage: true });

    const keys = await t.shop.db.knex('card_keys').whereIn('order_id', t.shop.db.knex('orders').whereIn('no', [notified, lost]).select('id')).count({ n: '*' }).first();
    expect(Number(keys?.n)).toBe(2);
    await context.close();
  });
});
