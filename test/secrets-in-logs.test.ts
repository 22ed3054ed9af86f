import { formatWithOptions } from 'node:util';
import { CORE_VERSION, createApiKey, definePlugin } from '@cardshop/core';
import { DUMMY_SECRET, dummyPayments, startTestShop, TEST_DIALECTS, type TestResponse, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { cardSku } from './fixtures.js';

const PASSWORD = 'Secret-Pw-7f3a91';
const WRONG_PASSWORD = 'Wrong-Pw-c0ffee42';
const ID_NUMBER = '11010519491231002X';
const PLUGIN_SECRET = 'plugin-secret-9d8e7f6a';

/**
 * A KYC provider that verifies anyone, and a plugin with a secret setting and a route that fails
 * (an error page from deep inside), as real plugins have.
 */
const helpers = definePlugin({
  name: 'log-probe',
  version: '1.0.0',
  core: `^${CORE_VERSION}`,
  setup(ctx) {
    ctx.kycProvider({ id: 'probe-kyc', label: { 'zh-CN': '测试', en: 'Test' }, verify: async () => ({ status: 'verified', reference: 'ref-1' }) });
    ctx.routes((r) => {
      r.get('/boom', () => {
        throw new Error('the upstream answered garbage');
      });
    });
  },
});

/**
 * Every line the shop logs (at debug level, errors with their stacks) during a full scenario:
 * registration, sign-in and a failed one, a top-up through a gateway, keys bought, an Agent API
 * order (and a mis-signed one), real-name verification with an ID number, a bad form and a 500.
 * None of them, nor any error page, holds a key, a password, an API or plugin secret, the shop's
 * secret, an ID number or a session cookie.
 */
describe.each(TEST_DIALECTS)('no secret in any log line or error page (%s)', (dialect) => {
  let t: TestShop;
  const lines: string[] = [];
  const pages: TestResponse[] = [];
  const secrets: Record<string, string> = {};
  const spies: Array<ReturnType<typeof vi.spyOn>> = [];

  beforeAll(async () => {
    for (const method of ['log', 'error', 'warn', 'info', 'debug'] as const) {
      spies.push(vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void lines.push(formatWithOptions({ depth: 10 }, ...args))));
    }
    t = await startTestShop({ dialect, config: { logLevel: 'debug', plugins: [dummyPayments(), helpers()] } });
    secrets.shopSecret = t.shop.config.secret;
    secrets.pluginSecret = DUMMY_SECRET;
    const { keys } = await cardSku(t.shop, { code: 'LOG-CARD', keys: 5, price: 1_000 });
    keys.forEach((k, i) => (secrets[`key${i}`] = k));

    // A buyer registers, signs in (once wrong), tops up through the gateway and buys keys.
    const buyer = t.client();
    const email = `logs-${dialect}@example.com`;
    expect((await buyer.post('/api/store/auth/register', { email, password: PASSWORD })).status).toBe(201);
    const wrong = await t.client().post('/api/store/auth/login', { email, password: WRONG_PASSWORD });
    expect(wrong.status).toBe(401);
    pages.push(wrong);
    const form = t.client();
    pages.push(await form.request('POST', '/login', new URLSearchParams({ _csrf: await form.csrf('/login'), email, password: WRONG_PASSWORD })));
    await buyer.login(email, PASSWORD);
    secrets.session = /cs_session=([^;]+)/.exec(buyer.cookieHeader)![1]!;
    const topup = await buyer.post('/api/store/wallet/topup', { amount: 5_000, payment: 'dummy' });
    expect(topup.status, topup.text).toBe(201);
    expect((await t.notify({ orderNo: topup.body.order.no, amount: 5_000 })).text).toBe('ok');
    // A notify signed with the wrong secret: refused, and the right secret is not in the complaint.
    pages.push(await t.notify({ orderNo: topup.body.order.no, amount: 5_000 }, 'not-the-secret'));
    const bought = await buyer.post('/api/store/checkout', { sku: 'LOG-CARD', quantity: 2, payment: 'wallet' });
    expect(bought.status, bought.text).toBe(201);
    expect(bought.text).toContain(keys[0]!.slice(0, 8));

    // Real-name verification with an ID number.
    const kyc = await buyer.post('/api/store/kyc', { name: '张三', idNumber: ID_NUMBER });
    expect(kyc.status, kyc.text).toBe(200);
    secrets.idNumber = ID_NUMBER;

    // An agent orders over the signed API; a request signed with another secret is refused.
    const user = (await buyer.get('/api/store/me')).body.user as { id: number };
    const credentials = await createApiKey(t.shop, user.id, 'logs');
    secrets.apiSecret = credentials.secret;
    const api = t.apiClient(credentials);
    const order = await api.post('/orders', { sku: 'LOG-CARD', quantity: 1 }, { 'idempotency-key': `logs-${dialect}-1` });
    expect(order.status, order.text).toBe(201);
    pages.push(await t.apiClient({ ...credentials, secret: 'cs_wrong' }).get('/wallet'));

    // Error pages: a bad form, a page that does not exist, and a failure deep inside a plugin.
    pages.push(await buyer.request('POST', '/account/kyc', new URLSearchParams({ _csrf: await buyer.csrf('/account/kyc'), name: '', idNumber: `${ID_NUMBER}!` })));
    pages.push(await buyer.get('/no-such-page'));
    const boom = await buyer.get('/plugins/log-probe/boom');
    expect(boom.status).toBe(500);
    pages.push(boom);
    secrets.password = PASSWORD;
    secrets.wrongPassword = WRONG_PASSWORD;
  });
  afterAll(async () => {
    await t?.close();
    for (const spy of spies) spy.mockRestore();
  });

  it('logged the scenario (the failure with its stack), so the search below looked at something', () => {
    expect(lines.some((l) => l.includes('the upstream answered garbage') && l.includes('at '))).toBe(true);
    expect(lines.length).toBeGreaterThan(3);
  });

  it('logs none of the secrets', () => {
    for (const [what, secret] of Object.entries(secrets)) {
      const line = lines.find((l) => l.includes(secret));
      expect(line, `${what} in a log line`).toBeUndefined();
    }
  });

  it('shows none of them on an error page', () => {
    expect(pages.length).toBeGreaterThan(5);
    for (const page of pages) {
      expect(page.status).toBeGreaterThanOrEqual(400);
      for (const [what, secret] of Object.entries(secrets)) expect(page.text, `${what} on a ${page.status} page`).not.toContain(secret);
      expect(page.text).not.toMatch(/\bat .*\.(ts|js):\d+/); // no stack trace
    }
  });
});

