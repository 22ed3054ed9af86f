import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setRoute, verifyLedger } from '@cardshop/core';
import { startTestShop, TEST_DIALECTS, type TestShop } from '@cardshop/core/testing';
import { startFakeSupplier, type FakeSupplier } from '@cardshop/plugin-supplier-http/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku, otherSku } from './fixtures.js';
import { startShopProcess, until, writeConfig, type ShopProcess } from './shop-process.js';

/**
 * `cardshop start` stopped by SIGTERM as a service manager does: the request it is reading and
 * the delivery job it is running both finish, nothing stays claimed, and it exits 0. A second
 * SIGTERM ends it at once.
 */
describe.each(TEST_DIALECTS)('graceful shutdown of cardshop start (%s)', (dialect) => {
  let fake: FakeSupplier;
  let t: TestShop;
  let root: string;
  let running: ShopProcess | undefined;
  let card: string;

  beforeAll(async () => {
    fake = await startFakeSupplier();
    // This process only writes the fixtures and orders; the child process serves and delivers.
    t = await startTestShop({ dialect, listen: false });
    root = mkdtempSync(path.join(tmpdir(), 'cardshop-shutdown-'));
    writeConfig(
      root,
      { logLevel: 'error', publicUrl: 'http://127.0.0.1:9', delivery: { concurrency: 2, pollMs: 50, timeoutMs: 5_000, backoffMs: 0, maxAttempts: 20 } },
      { id: 'kachong', baseUrl: fake.url, merchantId: '10086', secret: 'fake-supplier-secret', timeoutMs: 60_000, response: { notFoundCodes: ['404'] } },
    );
    card = (await cardSku(t.shop, { keys: 5 })).code;
    await otherSku(t.shop, 'direct', 'SLOW', 1000);
    await setRoute(t.shop, 'SLOW', { supplier: 'kachong', supplierSku: 'timeout', cost: 850 });
  });

  afterAll(async () => {
    if (running?.child.exitCode === null && running.child.signalCode === null) running.child.kill('SIGKILL');
    await t?.close();
    await fake?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  const jobStatus = async (no: string) => (await t.shop.db.knex('delivery_jobs').where('ref', no).first('status'))?.status;

  it('finishes the request in flight and the running delivery, then exits 0', async () => {
    const buyer = await t.createUser({ balance: 100_000 });
    fake.delayMs = 1_500; // the supplier answers while the shop is stopping
    const { order: slow } = await t.shop.checkout(buyer, { sku: 'SLOW', quantity: 1, fields: { phone: '13800138000' }, payment: 'wallet' });
    running = await startShopProcess(t, root);
    const shop = running;
    await until(() => `the child to call the supplier (${shop.output()})`, () => fake.placed.includes(slow.no));

    const login = await fetch(`${shop.url}/api/store/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: buyer.email, password: buyer.password }),
    });
    const cookie = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    // A checkout whose body has not arrived yet when the signal comes: the server has read its
    // headers (it answered 100 Continue), so the request is in flight.
    const body = JSON.stringify({ sku: card, payment: 'wallet' });
    const { port } = new URL(shop.url);
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/api/store/checkout', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), cookie, expect: '100-continue' } });
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      });
      req.on('error', reject);
    });
    await new Promise<void>((resolve) => req.once('continue', resolve));

    shop.child.kill('SIGTERM');
    await until(() => `the child to begin stopping (${shop.output()})`, () => /stopping…/.test(shop.output()));
    req.end(body);

    const { status, body: text } = await answer;
    expect(status, text).toBe(201);
    expect(JSON.parse(text).order.keys).toHaveLength(1);
    expect(await shop.exited).toEqual({ code: 0, signal: null });

    expect(await t.shop.db.knex('orders').where('no', slow.no).first('status')).toEqual({ status: 'delivered' });
    expect(await jobStatus(slow.no)).toBe('done');
    expect(await t.shop.db.knex('delivery_jobs').where('status', 'running').count({ n: '*' }).first()).toMatchObject({ n: 0 });
    expect(fake.placed.filter((r) => r === slow.no)).toHaveLength(1);
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });

  it('exits at once on a second signal, leaving the unfinished job to its lease', async () => {
    const buyer = await t.createUser({ balance: 100_000 });
    fake.delayMs = 600_000; // longer than this test may take: only a prompt exit ends the process in time
    const { order } = await t.shop.checkout(buyer, { sku: 'SLOW', quantity: 1, fields: { phone: '13800138000' }, payment: 'wallet' });
    running = await startShopProcess(t, root);
    const shop = running;
    await until(() => `the child to call the supplier (${shop.output()})`, () => fake.placed.includes(order.no));
    shop.child.kill('SIGTERM');
    await until(() => `the child to begin stopping (${shop.output()})`, () => /stopping…/.test(shop.output()));
    shop.child.kill('SIGINT');
    const how = await shop.exited;
    expect(how.code === 0).toBe(false);
    // It did not wait for the supplier: the delivery is still the dead process's claim.
    expect(await t.shop.db.knex('orders').where('no', order.no).first('status')).toEqual({ status: 'delivering' });
    expect(await jobStatus(order.no)).toBe('running');
  });
});
