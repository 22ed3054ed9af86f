import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { adjustWallet, findUserByEmail, seedDemoCatalog } from '@cardshop/core';
import { startTestShop, TEST_DIALECTS, type TestShop } from '@cardshop/core/testing';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Debian's Chromium; the test never downloads a browser.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = path.resolve('test/.screenshots');

describe.each(TEST_DIALECTS)('a buyer in a real browser (%s)', (dialect) => {
  let t: TestShop;
  let browser: Browser;

  beforeAll(async () => {
    t = await startTestShop({ dialect });
    await seedDemoCatalog(t.shop);
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

  it('registers, buys two cards on a phone-sized screen and copies a key', async () => {
    const context = await browser.newContext({ viewport: { width: 360, height: 780 }, locale: 'zh-CN' });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: t.url });
    const page = await context.newPage();

    await page.goto(`${t.url}/register`);
    await page.fill('input[name=email]', 'browser@test.local');
    await page.fill('input[name=password]', 'password123');
    await page.click('form button[type=submit]');
    await page.waitForURL(/\/account$/);
    const user = await findUserByEmail(t.shop, 'browser@test.local');
    await adjustWallet(t.shop, { userId: user!.id, amount: 100_000, reason: 'browser test' });

    await page.goto(`${t.url}/product/steam-wallet`);
    await page.check('input[name=sku][value="STEAM-50"]');
    await page.fill('input[name=quantity]', '2');
    await page.screenshot({ path: path.join(SHOTS, `product-360-${dialect}.png`), fullPage: true });
    await page.click('form[data-buy] button[type=submit]');
    await page.waitForURL(/\/checkout\?/);
    expect(await page.textContent('main')).toContain('¥97.00');
    await page.click('main form[method=post] button[type=submit]');
    await page.waitForURL(/\/order\/.+placed=1/);

    const keys = await page.locator('[data-copy]').evaluateAll((els) => els.map((e) => e.getAttribute('data-copy')));
    const single = keys.filter((k): k is string => !!k && /^STEAM-50-[0-9A-F-]+$/.test(k)); // one key per button, not "copy all"
    expect(new Set(single).size).toBe(2);
    await page.screenshot({ path: path.join(SHOTS, `order-360-${dialect}.png`), fullPage: true });

    // no element wider than the phone's screen
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);

    await page.locator(`[data-copy="${single[0]}"]`).click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(single[0]);

    // the keys really are this order's in the database
    const no = /\/order\/([^?]+)/.exec(page.url())![1]!;
    const order = await t.shop.db.knex('orders').where('no', no).first('id', 'status');
    expect(order.status).toBe('delivered');
    expect(await t.shop.db.knex('card_keys').where('order_id', order.id).count({ n: '*' }).first()).toMatchObject({ n: 2 });

    // a stranger with the bare order number sees nothing
    const stranger = await browser.newPage();
    const res = await stranger.goto(`${t.url}/order/${no}`);
    expect(res!.status()).toBe(404);
    expect(await stranger.content()).not.toContain(single[0]);
    await stranger.close();
    await context.close();
  });

  it('switches to English and works without JavaScript', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1200, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${t.url}/?lang=en`);
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    await page.screenshot({ path: path.join(SHOTS, `home-1200-${dialect}.png`), fullPage: true });
    await page.goto(`${t.url}/login`);
    await page.fill('input[name=email]', 'nobody@test.local');
    await page.fill('input[name=password]', 'password123');
    await page.click('form button[type=submit]');
    expect(await page.textContent('main')).toContain('Wrong e-mail or password');
    await context.close();
  });
});
