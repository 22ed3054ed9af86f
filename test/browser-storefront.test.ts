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
      const operator = await t.client().login(admin.email, admin.password);
      expect((await operator.post('/api/admin/coupons', { code: 'PHONE-20', kind: 'percent', value: 20 })).status).toBe(201);
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

    it('buys with a coupon: the discount is shown before paying, charged, and on the order page', async () => {
      const context = await browser.newContext({ viewport: PHONE, locale: 'zh-CN' });
      const page = await context.newPage();
      const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${theme}-phone-${name}-${dialect}.png`), fullPage: true });
      const price = Number((await t.shop.db.knex('skus').where('code', 'STEAM-50').first('price')).price);
      const discount = Math.floor((price * 20) / 100);
      await page.goto(`${t.url}/checkout?sku=STEAM-50&quantity=1`);
      await page.fill('input[name=coupon]', 'nope-nope');
      await page.click('.coupon-form button[type=submit]');
      await page.waitForURL(/coupon=nope-nope/);
      expect(await page.textContent('#coupon-error')).toBe('没有这个优惠码');

      await page.fill('input[name=coupon]', 'phone-20');
      await page.press('input[name=coupon]', 'Enter');
      await page.waitForURL(/coupon=phone-20/);
      expect(await page.textContent('.coupon-applied')).toContain(`已优惠 ¥${(discount / 100).toFixed(2)}`);
      expect(await page.textContent('main form[method=post] button[type=submit]')).toContain(`¥${((price - discount) / 100).toFixed(2)}`);
      await noOverflow(page);
      await shot('coupon');
      await page.fill('input[name=contact]', `coupon-${theme}@test.local`);
      // Enter in the pay form pays (the coupon's Apply button is in a form of its own).
      await page.press('input[name=contact]', 'Enter');
      await page.waitForURL(/\/order\/.+placed=1/);
      const no = /\/order\/([^?]+)/.exec(page.url())![1]!;
      expect(await t.shop.db.knex('orders').where('no', no).first('amount', 'discount', 'coupon_code')).toMatchObject({ amount: price - discount, discount, coupon_code: 'PHONE-20' });
      expect(await page.textContent('main')).toContain('PHONE-20');
      await noOverflow(page);
      await shot('coupon-order');
      await context.close();
    });
  });
});
