import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { adjustWallet, findUserByEmail, seedDemoCatalog } from '@cardshop/core';
import { startTestShop, TEST_DIALECTS, type TestShop } from '@cardshop/core/testing';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Debian's Chromium; the test never downloads a browser.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Screenshots of every page bought through, kept as test artifacts (gitignored). */
const SHOTS = path.resolve('test/artifacts/browser');

const THEMES = { default: path.resolve('themes/default'), wholesale: path.resolve('themes/wholesale') };
type Theme = keyof typeof THEMES;
const SCREENS = { phone: { width: 360, height: 780 }, desktop: { width: 1280, height: 900 } };
type Screen = keyof typeof SCREENS;

/** How a buyer gets from the home page to the checkout for `quantity` × STEAM-50, in each theme. */
const TO_CHECKOUT: Record<Theme, (page: Page, quantity: string) => Promise<void>> = {
  // a product card, then the SKU and quantity on the product page
  async default(page, quantity) {
    await page.click('a[href="/product/steam-wallet"]');
    await page.check('input[name=sku][value="STEAM-50"]');
    await page.fill('input[name=quantity]', quantity);
    await page.click('form[data-buy] button[type=submit]');
  },
  // the quantity box on the SKU's row of the home page's table
  async wholesale(page, quantity) {
    const row = page.locator('form', { has: page.locator('input[name=sku][value="STEAM-50"]') });
    await row.locator('input[name=quantity]').fill(quantity);
    await row.locator('button[type=submit]').click();
  },
};

describe.each(TEST_DIALECTS)('buyers in a real browser (%s)', (dialect) => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    mkdirSync(SHOTS, { recursive: true });
  });
  afterAll(() => browser?.close());

  describe.each(Object.keys(THEMES) as Theme[])('the %s theme', (theme) => {
    let t: TestShop;

    beforeAll(async () => {
      t = await startTestShop({ dialect, config: { theme: THEMES[theme] } });
      await seedDemoCatalog(t.shop);
    });
    afterAll(() => t?.close());

    it.each(Object.keys(SCREENS) as Screen[])('registers, buys two cards through the pages on a %s screen and copies a key', async (screen) => {
      const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${theme}-${screen}-${name}-${dialect}.png`), fullPage: true });
      const context = await browser.newContext({ viewport: SCREENS[screen], locale: 'zh-CN' });
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: t.url });
      const page = await context.newPage();
      // no element wider than the screen: the page never scrolls sideways
      const noOverflow = async () => expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);

      const email = `${theme}-${screen}@test.local`;
      await page.goto(`${t.url}/register`);
      await page.fill('input[name=email]', email);
      await page.fill('input[name=password]', 'password123');
      await page.click('main form button[type=submit]');
      await page.waitForURL(/\/account$/);
      const user = await findUserByEmail(t.shop, email);
      await adjustWallet(t.shop, { userId: user!.id, amount: 100_000, reason: 'browser test' });

      await page.goto(`${t.url}/`);
      await noOverflow();
      await shot('home');
      await TO_CHECKOUT[theme](page, '2');
      await page.waitForURL(/\/checkout\?/);
      expect(await page.textContent('main')).toContain('¥97.00');
      await noOverflow();
      await shot('checkout');
      await page.click('main form[method=post] button[type=submit]');
      await page.waitForURL(/\/order\/.+placed=1/);

      const keys = await page.locator('[data-copy]').evaluateAll((els) => els.map((e) => e.getAttribute('data-copy')));
      const single = keys.filter((k): k is string => !!k && /^STEAM-50-[0-9A-F-]+$/.test(k)); // one key per button, not "copy all"
      expect(new Set(single).size).toBe(2);
      await noOverflow();
      await shot('order');

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
      const context = await browser.newContext({ javaScriptEnabled: false, viewport: SCREENS.desktop });
      const page = await context.newPage();
      await page.goto(`${t.url}/?lang=en`);
      expect(await page.getAttribute('html', 'lang')).toBe('en');
      await page.screenshot({ path: path.join(SHOTS, `${theme}-desktop-home-en-nojs-${dialect}.png`), fullPage: true });
      await page.goto(`${t.url}/login`);
      await page.fill('input[name=email]', 'nobody@test.local');
      await page.fill('input[name=password]', 'password123');
      await page.click('main form button[type=submit]');
      expect(await page.textContent('main')).toContain('Wrong e-mail or password');
      await context.close();
    });
  });
});
