import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { setRoute, verifyLedger } from '@cardshop/core';
import { startTestShop, TEST_DIALECTS, type TestShop } from '@cardshop/core/testing';
import { startFakeSupplier, type FakeSupplier } from '@cardshop/plugin-supplier-http/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { otherSku } from './fixtures.js';

const BIN = path.resolve('core/dist/cli/main.js');
const PLUGIN = pathToFileURL(path.resolve('plugins/supplier-http/dist/index.js')).href;

/** Waits for a condition the processes under test bring about; fails after `ms`. */
async function until(what: string, check: () => Promise<boolean> | boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Real `cardshop worker` processes on one database: the first is killed (SIGKILL) while it waits
 * for a slow supplier; two more take over when the dead one's leases run out. Every order ends
 * delivered, each placed at the supplier once and delivered once.
 */
describe.each(TEST_DIALECTS)('a worker process killed mid-delivery (%s)', (dialect) => {
  let fake: FakeSupplier;
  let t: TestShop;
  let root: string;
  const workers: ChildProcess[] = [];

  const startWorker = () => {
    const child = spawn(process.execPath, [BIN, 'worker'], {
      cwd: root,
      env: { ...process.env, CARDSHOP_SECRET: t.shop.config.secret, CARDSHOP_DATABASE: t.shop.config.database, CARDSHOP_LOCALE: 'en' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    workers.push(child);
    return { child, output: () => output };
  };

  beforeAll(async () => {
    fake = await startFakeSupplier();
    fake.delayMs = 30_000; // far longer than a run may take: the first worker dies waiting
    // Not listening: this process writes the orders, the workers under test deliver them.
    t = await startTestShop({ dialect, listen: false });
    root = mkdtempSync(path.join(tmpdir(), 'cardshop-workers-'));
    const settings = { id: 'kachong', baseUrl: fake.url, merchantId: '10086', secret: 'fake-supplier-secret', timeoutMs: 20_000, response: { notFoundCodes: ['404'] } };
    writeFileSync(
      path.join(root, 'cardshop.config.mjs'),
      `import httpSupplier from ${JSON.stringify(PLUGIN)};\n` +
        `export default { logLevel: 'error', publicUrl: 'http://127.0.0.1:9', delivery: { concurrency: 4, supplierConcurrency: 4, pollMs: 100, timeoutMs: 3000, backoffMs: 0, maxAttempts: 20 }, plugins: [httpSupplier(${JSON.stringify(settings)})] };\n`,
    );
    await otherSku(t.shop, 'direct', 'SLOW', 1000);
    await otherSku(t.shop, 'direct', 'QUICK', 1000);
    await setRoute(t.shop, 'SLOW', { supplier: 'kachong', supplierSku: 'timeout', cost: 850 });
    await setRoute(t.shop, 'QUICK', { supplier: 'kachong', supplierSku: 'success', cost: 850 });
  });

  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
    await t?.close();
    await fake?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('ends every order delivered exactly once after the worker holding them died', async () => {
    const buyer = await t.createUser({ balance: 100_000 });
    const nos: string[] = [];
    for (const sku of ['SLOW', 'QUICK', 'SLOW', 'QUICK', 'SLOW', 'QUICK']) {
      const { order } = await t.shop.checkout(buyer, { sku, quantity: 2, fields: { phone: '13800138000' }, payment: 'wallet' });
      nos.push(order.no);
    }
    const slow = nos.filter((_, i) => i % 2 === 0);

    const first = startWorker();
    await until(`the first worker to call the supplier for the slow orders (${first.output()})`, () => slow.every((no) => fake.placed.includes(no)));
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    const stuck = await t.shop.db.knex('delivery_jobs').whereIn('ref', slow).pluck('status');
    expect(stuck).toEqual(['running', 'running', 'running']);

    // The supplier has made the slow orders; their answers will never reach the dead worker.
    fake.delayMs = 0;
    const others = [startWorker(), startWorker()];
    const statuses = () => t.shop.db.knex('orders').whereIn('no', nos).pluck('status');
    await until(`every order to be delivered (${others.map((w) => w.output()).join(' | ')})`, async () => (await statuses()).every((s) => s === 'delivered'));
    for (const w of others) w.child.kill('SIGTERM');
    await Promise.all(others.map((w) => new Promise((r) => (w.child.exitCode === null ? w.child.once('exit', r) : r(null)))));

    for (const no of nos) {
      expect(fake.placed.filter((r) => r === no), no).toHaveLength(1);
      const order = await t.shop.db.knex('orders').where('no', no).first('id');
      expect(Number((await t.shop.db.knex('card_keys').where('order_id', order.id).count({ n: '*' }).first())?.n)).toBe(2);
      expect(await t.shop.db.knex('journal_transactions').where('id', `order:${no}:cost`).count({ n: '*' }).first()).toMatchObject({ n: 1 });
    }
    // The slow ones were found by asking, after the lease of the dead worker ran out.
    for (const no of slow) expect(fake.queries).toContain(no);
    expect((await verifyLedger(t.shop)).ok).toBe(true);
  });
});
