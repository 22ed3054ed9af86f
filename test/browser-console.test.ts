import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { startTestShop, TEST_DIALECTS, type TestShop } from '@cardshop/core/testing';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku } from './fixtures.js';

// Debian's Chromium; the test never downloads a browser.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Screenshots of the console, kept as test artifacts (gitignored). */
const SHOTS = path.resolve('test/artifacts/browser');

describe.each(TEST_DIALECTS)('an operator runs the shop from the console in a real browser (%s)', (dialect) => {
  let t: TestShop;
  let browser: Browser;

  beforeAll(async () => {
    t = await startTestShop({ dialect });
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

  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `console-${name}-${dialect}.png`), fullPage: true });
  /** No sideways scrolling of the page itself (wide tables scroll inside their section). */
  const fitsWidth = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);

  it('imports keys by pasting and sees stock rise, refunds an order, and pays out a withdrawal', async () => {
    const { code } = await cardSku(t.shop, { keys: 1, price: 2_000 });
    const buyer = await t.createUser({ balance: 10_000 });
    const client = await t.client().login(buyer.email, buyer.password);
    const order = (await client.post('/api/store/checkout', { sku: code, quantity: 1, payment: 'wallet' })).body.order.no as string;
    const asked = await client.post('/api/store/wallet/withdrawals', { amount: 3_000, method: 'alipay', payee: 'buyer@alipay.example' });
    expect(asked.status).toBe(201);
    const withdrawal = asked.body.withdrawal.id as number;

    const admin = await t.createUser({ role: 'admin' });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
    const page = await context.newPage();
    await page.goto(`${t.url}/admin/inventory`);
    await page.waitForURL(/\/login/);
    await page.fill('input[name=email]', admin.email);
    await page.fill('input[name=password]', admin.password);
    await page.click('main form button[type=submit]');
    await page.waitForURL(/\/admin\/inventory$/);
    const stockCell = () => page.textContent(`tr[data-sku="${code}"] [data-stock]`);
    expect((await stockCell())?.trim()).toMatch(/^0\b/);

    // Paste five keys, one of them twice: four added, one duplicate; the stock shows four.
    await page.fill('#imp-sku', code);
    await page.fill('#imp-keys', ['PASTED-0001', 'PASTED-0002', 'PASTED-0003', 'PASTED-0001', 'PASTED-0004'].join('\n'));
    // Preview first: the figures, nothing written; then import.
    const importForm = 'form[action="/admin/inventory/import"]';
    await page.click(`${importForm} button[name=dryRun]`);
    await page.waitForSelector('[data-preview]');
    expect(await page.textContent('[data-preview] [data-added]')).toBe('4');
    expect(await page.textContent('[data-preview] [data-in-file]')).toBe('1');
    expect((await stockCell())?.trim()).toMatch(/^0\b/);
    await page.click(`${importForm} button[type=submit]:not([name=dryRun])`);
    await page.waitForSelector('[data-report]');
    expect(await page.textContent('[data-added]')).toBe('4');
    expect(await page.textContent('[data-duplicates]')).toBe('1');
    await shot(page, 'import-report');
    await page.goto(`${t.url}/admin/inventory`);
    expect((await stockCell())?.trim()).toMatch(/^4\b/);
    // The dashboard's stock table says the same.
    await page.goto(`${t.url}/admin`);
    expect(await page.textContent(`tr[data-stock="${code}"]`)).toContain('4');
    await shot(page, 'dashboard-after-import');

    // Refund the buyer's order to its wallet.
    await page.goto(`${t.url}/admin/orders/${order}`);
    await page.selectOption('#to', 'wallet');
    await page.fill('#reason', '买家误购');
    await page.click(`form[action$="/${order}/refund"] button[type=submit]`);
    await page.waitForURL(/done=refunded/);
    expect((await t.shop.db.knex('orders').where('no', order).first('status')).status).toBe('refunded');
    await shot(page, 'order-refunded');

    // Pay out the withdrawal with the transfer's reference.
    await page.goto(`${t.url}/admin/withdrawals`);
    const row = page.locator(`tr[data-withdrawal="${withdrawal}"]`);
    await row.locator('input[name=payoutRef]').fill('ALIPAY-20261203-0001');
    await row.locator('form:has(input[name=payoutRef]) button[type=submit]').click();
    await page.waitForURL(/saved=1/);
    expect((await t.shop.db.knex('withdrawals').where('id', withdrawal).first('status')).status).toBe('paid');
    await shot(page, 'withdrawal-paid');

    // The buyer's page has it all: the refund credited, the withdrawal paid out, the audit trail.
    await page.goto(`${t.url}/admin/users/${buyer.id}`);
    expect(await page.textContent('[data-balance]')).toBe('¥70.00'); // 100 - 20 bought + 20 refunded - 30 paid out
    await shot(page, 'user');

    // On a phone: the pages an operator uses on the go fit the screen.
    await page.setViewportSize({ width: 360, height: 740 });
    for (const p of ['/admin/inventory', `/admin/inventory/${code}`, `/admin/users/${buyer.id}`, '/admin/catalog']) {
      await page.goto(`${t.url}${p}`);
      expect(await fitsWidth(page), p).toBe(true);
    }
    await shot(page, 'phone-catalog');
    await context.close();
  });
});
