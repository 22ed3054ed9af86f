// Checkout throughput: delivered wallet orders per second on SQLite under 100 connections, next to
// a bare koa "hello" server on the same machine, then the ledger and key-integrity checks.
import { randomBytes } from 'node:crypto';
import { createCategory, createProduct, createSku, importKeys, stockOf, verifyLedger } from '../core/dist/index.js';
import { startTestShop } from '../core/dist/testing/index.js';
import { CONNECTIONS, SECONDS, figures, helloServer, load, num, profiled, settle, table, watchdog } from './lib.mjs';

const KEYS = num('BENCH_KEYS', 400_000);
const BUYERS = num('BENCH_BUYERS', 200);
const SKU = 'BENCH-CARD';
watchdog((SECONDS * 2 + 600) * 1000);

// (a) the ceiling: koa with nothing in it
const hello = await helloServer();
console.log(`hello: ${CONNECTIONS} connections, ${SECONDS} s against ${hello.url}`);
const h = figures(await load({ url: hello.url, expect: 200 }));
await hello.close();

// (b) the shop: one card SKU with KEYS keys, BUYERS logged-in buyers with a large balance
const t = await startTestShop();
const { shop } = t;
try {
  let started = Date.now();
  const category = await createCategory(shop, { slug: 'bench', name: 'Bench' });
  const product = await createProduct(shop, { categoryId: category, slug: 'bench-card', name: 'Bench card', type: 'card' });
  await createSku(shop, { productId: product, code: SKU, name: 'One key', price: 100 });
  const salt = randomBytes(4).toString('hex');
  function* keys() {
    for (let i = 0; i < KEYS; i++) yield `BENCH-${salt}-${String(i).padStart(8, '0')}`;
  }
  const imported = await importKeys(shop, { sku: SKU, lines: keys() });
  console.log(`setup: ${imported.added} keys imported in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  started = Date.now();
  const cookies = [];
  for (let i = 0; i < BUYERS; i += 8) {
    const batch = Array.from({ length: Math.min(8, BUYERS - i) }, async () => {
      const u = await t.createUser({ balance: 1e12 });
      cookies.push((await t.client().login(u.email, u.password)).cookieHeader);
    });
    await Promise.all(batch);
  }
  console.log(`setup: ${cookies.length} buyers logged in in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  // Diagnostics, read-only: batches of the group-commit queue and SQL statements per order.
  const queue = shop.checkout.queue;
  const run = queue.run.bind(queue);
  const batches = { n: 0, items: 0, ms: 0 };
  queue.run = async (items) => {
    const t0 = performance.now();
    try {
      return await run(items);
    } finally {
      batches.n++, (batches.items += items.length), (batches.ms += performance.now() - t0);
    }
  };
  let statements = 0;
  shop.db.knex.on('query', () => statements++);

  console.log(`checkout: ${CONNECTIONS} connections, ${SECONDS} s against ${t.url}`);
  const raw = await profiled('checkout', () =>
    load({
      url: t.url,
      method: 'POST',
      path: '/api/store/checkout',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sku: SKU, quantity: 1, payment: 'wallet' }),
      cookies,
      expect: 201,
      expectText: '"status":"delivered"',
    }),
  );
  const c = figures(raw, 201);
  await settle(shop); // count only after the checkouts still in flight have committed

  const knex = shop.db.knex;
  const loadStatements = statements;
  const one = async (q) => Number(Object.values(await q)[0] ?? 0);
  const delivered = await one(knex('orders').where('status', 'delivered').count({ n: '*' }).first());
  const quantities = await one(knex('orders').sum({ n: 'quantity' }).first());
  const soldKeys = await one(knex('card_keys').whereNotNull('order_id').count({ n: '*' }).first());
  const wrongOrders = await one(
    knex('orders').whereRaw('quantity <> (select count(*) from card_keys k where k.order_id = orders.id)').count({ n: '*' }).first(),
  );
  const stock = await stockOf(shop, SKU);
  const ledger = await verifyLedger(shop);

  console.log('');
  console.log(
    `group commit: ${batches.n} batches, ${(batches.items / batches.n).toFixed(1)} orders/batch, ` +
      `${(batches.ms / batches.n).toFixed(1)} ms/batch, in a batch ${((batches.ms / 1000 / c.duration) * 100).toFixed(0)}% of the run; ` +
      `${(loadStatements / delivered).toFixed(1)} SQL statements per delivered order`,
  );
  if (Object.keys(raw.errorBodies).length) {
    console.log('non-201 responses (first body of each status):');
    for (const [status, text] of Object.entries(raw.errorBodies)) console.log(`  ${status}: ${text}`);
  }
  table([
    ['', 'koa hello', 'shop checkout'],
    ['ok responses/s (200 / 201)', h.okPerSec, c.okPerSec],
    ['ok responses', h.ok, c.ok],
    ['other statuses', h.otherCodes, c.otherCodes],
    ['socket errors / timeouts', `${h.errors} / ${h.timeouts}`, `${c.errors} / ${c.timeouts}`],
    ['latency p50 ms', h.p50, c.p50],
    ['latency p99 ms', h.p99, c.p99],
    ['latency max ms', h.max, c.max],
    ['CPU, cores: server main thread / load generator / other threads', h.cpu, c.cpu],
  ]);
  const checks = [
    ['delivered orders in DB (>= 201s)', delivered, delivered >= c.ok],
    ['201 bodies without a delivered order', raw.bad, raw.bad === 0],
    ['keys with an order == sum of quantities', `${soldKeys} == ${quantities}`, soldKeys === quantities],
    ['orders whose key count != quantity', wrongOrders, wrongOrders === 0],
    ['stock counter == available keys', `${stock.counter} == ${stock.available}`, stock.counter === stock.available],
    ['verifyLedger ok', `${ledger.ok} (${ledger.accounts} accounts, ${ledger.transactions} txns)`, ledger.ok],
  ];
  const targets = [
    ['delivered orders/s >= 1,000', c.okPerSec.toFixed(0), c.okPerSec >= 1000],
    ['checkout p99 < 100 ms', c.p99, c.p99 < 100],
  ];
  console.log('');
  table([['check', 'value', 'result'], ...checks.map(([n, v, ok]) => [n, v, ok ? 'ok' : 'FAIL'])]);
  console.log('');
  table([['target', 'measured', 'result'], ...targets.map(([n, v, ok]) => [n, v, ok ? 'met' : 'MISSED'])]);
  process.exitCode = checks.every(([, , ok]) => ok) ? 0 : 1;
} finally {
  await t.close();
}
