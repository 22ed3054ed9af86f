import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { findUserByEmail, saveArticle, seedDemoCatalog } from '@cardshop/core';
import { dummyPayments, startTestShop, TEST_DIALECTS, type TestShop } from '@cardshop/core/testing';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = path.resolve('test/artifacts/browser');
const THEMES = { default: path.resolve('themes/default'), wholesale: path.resolve('themes/wholesale') };
const PHONE = { width: 360, height: 780 };

/** No element wider than the screen: the page never scrolls sideways. */
const noOverflow = async (page: Page) => expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);

describe.each(TEST_DIALECTS)('search, articles and the proof of work on a phone (%s)', (dialect) => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
    mkdirSync(SHOTS, { recursive: true });
  });
  afterAll(() => browser?.close());

  describe.each(Object.keys(THEMES) as Array<keyof typeof THEMES>)('the %s theme', (theme) => {
    let t: TestShop;

    beforeAll(async () => {
      t = await startTestShop({
        dialect,
        config: { theme: THEMES[theme], plugins: [dummyPayments({ action: 'qr' })], botDefence: { checkout: true, register: true, powBits: 14 } },
      });
      await seedDemoCatalog(t.shop);
      const admin = await t.createUser({ role: 'admin' });
      await saveArticle(t.shop, null, null, { title: '春节发货安排', body: '## 发货\n\n- 自动发货**照常**\n- 人工订单顺延到初四，请耐心等待客服处理，感谢理解与支持', format: 'markdown', published: true, announcement: true, pinned: true }, { id: admin.id });
    });
    afterAll(() => t?.close());

    it('finds a product with the header search and reads an announcement', async () => {
      const context = await browser.newContext({ viewport: PHONE, locale: 'zh-CN' });
      const page = await context.newPage();
      const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${theme}-phone-${name}-${dialect}.png`), fullPage: true });
      await page.goto(`${t.url}/`);
      await noOverflow(page);
      await page.fill('header input[name=q]', '点卡');
      await page.press('header input[name=q]', 'Enter');
      await page.waitForURL(/\/search\?q=/);
      expect(await page.getAttribute('[data-count]', 'data-count')).toBe('1');
      expect(await page.textContent('main')).toContain('网易一卡通');
      expect(await page.inputValue('header input[name=q]')).toBe('点卡');
      await noOverflow(page);
      await shot('search');
      await page.click('main a[href="/product/netease-card"]');
      await page.waitForURL(/\/product\/netease-card$/);

      await page.goto(`${t.url}/`);
      await page.click('main a[href^="/articles/"]');
      await page.waitForURL(/\/articles\/\d+$/);
      expect(await page.textContent('.article-body h2')).toBe('发货');
      expect(await page.textContent('.article-body strong')).toBe('照常');
      await noOverflow(page);
      await shot('article');
      await context.close();
    });

    it('registers and checks out as a guest with the proof of work solved by the page', async () => {
      const context = await browser.newContext({ viewport: PHONE, locale: 'zh-CN' });
      const page = await context.newPage();
      const email = `pow-${theme}@test.local`;
      await page.goto(`${t.url}/register`);
      await page.fill('input[name=email]', email);
      await page.fill('input[name=password]', 'password123');
      await page.click('main form button[type=submit]');
      await page.waitForURL(/\/account$/);
      expect(await findUserByEmail(t.shop, email)).toBeTruthy();

      const guest = await browser.newContext({ viewport: PHONE, locale: 'zh-CN' });
      const buyer = await guest.newPage();
      await buyer.goto(`${t.url}/checkout?sku=STEAM-50&quantity=1`);
      await buyer.fill('input[name=contact]', 'guest@test.local');
      await buyer.click('main form[method=post] button[type=submit]');
      await buyer.waitForURL(/\/order\/.+placed=1/);
      const no = /\/order\/([^?]+)/.exec(buyer.url())![1]!;
      expect((await t.shop.db.knex('orders').where('no', no).first('status')).status).toBe('pending_payment');
      expect(await t.shop.db.knex('challenge_uses').count({ n: '*' }).first()).toMatchObject({ n: 2 });
      await context.close();
      await guest.close();
    });
  });
});
