// Checkout throughput: delivered wallet orders per second on SQLite through one app process, next to
// a bare koa "hello" server measured in the same run, then the key, stock and ledger checks.
// Three loads, each on a fresh shop:
//   (a) BENCH_CONNECTIONS (1,000) connections as fast as they go: throughput and latency;
//   (b) the same connections offering BENCH_RATE (5,000) orders/s between them: the latency at that rate;
//   (c) BENCH_FLOOD (10,000) connections on BENCH_FLOOD_KEYS (20,000) keys, so it sells out: every
//       answer must be a 201 or a 409 out_of_stock, with no socket error or timeout.
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { createCategory, createProduct, createSku, importKeys, stockOf, verifyLedger } from '../core/dist/index.js';
import { startTestShop } from '../core/dist/testing/index.js';
import { SECONDS, figures, helloServer, load, num, profiled, settle, table, watchdog } from './lib.mjs';

const CONNECTIONS = num('BENCH_CONNECTIONS', 1000);
const RATE = num('BENCH_RATE', 5000);
const FLOOD = num('BENCH_FLOOD', 10_000);
const KEYS = num('BENCH_KEYS', 400_000);
const FLOOD_KEYS = num('BENCH_FLOOD_KEYS', 20_000);
const BUYERS = num('BENCH_BUYERS', 200);
const SKU = 'BENCH-CARD';

// The server's end of every connection is in this process: raise the descriptor limit (as root
// the hard one too) by starting again, once, under a shell that raised it as far as it could.
const need = FLOOD + 1024;
const fdLimit = () => Number(spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim());
if (fdLimit() < need && !process.env.BENCH_FD_RAISED) {
  const again = spawnSync('sh', ['-c', `ulimit -Hn ${need} 2>/dev/null; ulimit -n ${need} 2>/dev/null; exec "$0" "$@"`, process.execPath, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_FD_RAISED: '1' },
  });
  process.exit(again.status ?? 1);
}
const flood = Math.min(FLOOD, fdLimit() - 1024);
if (flood < FLOOD) console.log(`descriptor limit ${fdLimit()}: the flood uses ${flood} connections, not ${FLOOD}`);
watchdog((SECONDS * 4 + 900) * 1000);

const hello = await helloServer();
console.log(`hello: ${CONNECTIONS} connections, ${SECONDS} s against ${hello.url}`);
const h = figures(await load({ url: hello.url, expect: 200, connections: CONNECTIONS }));
await hello.close();

/** A fresh shop with one card SKU of `keys` keys and BUYERS logged-in buyers; runs `load` on it and checks it. */
async function run(name, { keys, connections, rate, allowed = [] }) {
  const t = await startTestShop();
  const { shop } = t;
  try {
    let started = Date.now();
    const category = await createCategory(shop, { slug: 'bench', name: 'Bench' });
    const product = await createProduct(shop, { categoryId: category, slug: 'bench-card', name: 'Bench card', type: 'card' });
    await createSku(shop, { productId: product, code: SKU, name: 'One key', price: 100 });
    const salt = randomBytes(4).toString('hex');
    const imported = await importKeys(shop, { sku: SKU, lines: (function* () { for (let i = 0; i < keys; i++) yield `BENCH-${salt}-${String(i).padStart(8, '0')}`; })() });
    const cookies = [];
    for (let i = 0; i < BUYERS; i += 8) {
      await Promise.all(
        Array.from({ length: Math.min(8, BUYERS - i) }, async () => {
          const u = await t.createUser({ balance: 1e12 });
          cookies.push((await t.client().login(u.email, u.password)).cookieHeader);
        }),
      );
    }
    console.log(`${name}: ${imported.added} keys, ${cookies.length} buyers ready in ${((Date.now() - started) / 1000).toFixed(1)} s; ${connections} connections${rate ? `, ${rate} orders/s offered` : ''}, ${SECONDS} s`);

    // Diagnostics, read-only: the group-commit batches.
    const queue = shop.checkout.queue;
    const commit = queue.run.bind(queue);
    const batches = { n: 0, items: 0, ms: 0 };
    queue.run = async (items) => {
      const t0 = performance.now();
      try {
        return await commit(items);
      } finally {
        batches.n++, (batches.items += items.length), (batches.ms += performance.now() - t0);
      }
    };
    started = performance.now();
    const raw = await profiled(name, () =>
      load({
        url: t.url,
        method: 'POST',
        path: '/api/store/checkout',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ sku: SKU, quantity: 1, payment: 'wallet' }),
        cookies,
        connections,
        rate,
        expect: 201,
        expectText: '"status":"delivered"',
      }),
    );
    const c = figures(raw, 201);
    await settle(shop); // count only after the checkouts still in flight have committed

    const knex = shop.db.knex;
    const one = async (q) => Number(Object.values(await q)[0] ?? 0);
    const delivered = await one(knex('orders').where('status', 'delivered').count({ n: '*' }).first());
    const quantities = await one(knex('orders').sum({ n: 'quantity' }).first());
    const soldKeys = await one(knex('card_keys').whereNotNull('order_id').count({ n: '*' }).first());
    const twice = await one(knex.raw('select count(*) as n from (select fingerprint from card_keys where order_id is not null group by sku_id, fingerprint having count(*) > 1) d').then((r) => r[0]));
    const wrongOrders = await one(knex('orders').whereRaw('quantity <> (select count(*) from card_keys k where k.order_id = orders.id)').count({ n: '*' }).first());
    const stock = await stockOf(shop, SKU);
    const ledger = await verifyLedger(shop);
    const refused = Object.entries(raw.errorBodies).filter(([status, text]) => !allowed.some((a) => status === String(a.status) && text.includes(a.code)));
    const answers = { other: refused.map(([s]) => s).join(' ') || 'none', ok: refused.length === 0 && c.errors === 0 && c.timeouts === 0 };
    const checks = [
      ['delivered orders in DB (>= 201s)', delivered, delivered >= c.ok],
      ['201 bodies without a delivered order', raw.bad, raw.bad === 0],
      ['keys with an order == sum of quantities', `${soldKeys} == ${quantities}`, soldKeys === quantities],
      ['a key in two orders', twice, twice === 0],
      ['orders whose key count != quantity', wrongOrders, wrongOrders === 0],
      ['stock counter == available keys', `${stock.counter} == ${stock.available}`, stock.counter === stock.available],
      ['verifyLedger ok', `${ledger.ok} (${ledger.accounts} accounts, ${ledger.transactions} txns)`, ledger.ok],
    ];
    if (Object.keys(raw.errorBodies).length) {
      console.log(`  non-201 responses (first body of each status):`);
      for (const [status, text] of Object.entries(raw.errorBodies)) console.log(`    ${status}: ${text}`);
    }
    console.log(
      `  group commit: ${batches.n} batches, ${(batches.items / batches.n).toFixed(1)} orders/batch, ${(batches.ms / batches.n).toFixed(1)} ms/batch`,
    );
    return { name, c, checks, answers };
  } finally {
    await t.close();
  }
}

const runs = [
  await run(`(a) ${CONNECTIONS} connections`, { keys: KEYS, connections: CONNECTIONS }),
  await run(`(b) ${CONNECTIONS} connections at ${RATE}/s`, { keys: KEYS, connections: CONNECTIONS, rate: RATE }),
  await run(`(c) ${flood} connections, ${FLOOD_KEYS} keys`, { keys: FLOOD_KEYS, connections: flood, allowed: [{ status: 409, code: 'out_of_stock' }] }),
];

console.log('');
const ratio = (x) => `${((x / h.okPerSec) * 100).toFixed(1)}%`;
table([
  ['', `koa hello (${CONNECTIONS})`, ...runs.map((r) => r.name)],
  ['ok responses/s (200 / 201)', h.okPerSec, ...runs.map((r) => r.c.okPerSec)],
  ['as a share of hello', '100%', ...runs.map((r) => ratio(r.c.okPerSec))],
  ['ok responses', h.ok, ...runs.map((r) => r.c.ok)],
  ['other statuses', h.otherCodes, ...runs.map((r) => r.c.otherCodes)],
  ['socket errors / timeouts', `${h.errors} / ${h.timeouts}`, ...runs.map((r) => `${r.c.errors} / ${r.c.timeouts}`)],
  ['latency p50 / p99 / max ms', `${h.p50} / ${h.p99} / ${h.max}`, ...runs.map((r) => `${r.c.p50} / ${r.c.p99} / ${r.c.max}`)],
  ['CPU cores: server main thread / server other threads / load generator', h.cpu, ...runs.map((r) => r.c.cpu)],
]);
for (const r of runs) {
  console.log('');
  table([[`check: ${r.name}`, 'value', 'result'], ...r.checks.map(([n, v, ok]) => [n, v, ok ? 'ok' : 'FAIL'])]);
}
const [a, b] = runs.map((r) => r.c);
const targets = [
  [`(a) delivered orders/s >= 5,000 at ${CONNECTIONS} connections`, a.okPerSec.toFixed(0), a.okPerSec >= 5000],
  [`(b) p99 < 50 ms with ${RATE} orders/s offered by ${CONNECTIONS} connections`, `${b.p99} ms at ${b.okPerSec.toFixed(0)}/s`, b.p99 < 50 && b.okPerSec >= RATE * 0.98],
  ...runs.map((r) => [`${r.name}: no answer but 201${r === runs[2] ? ' or 409 out_of_stock' : ''}, no socket error, no timeout`, `others: ${r.answers.other}; ${r.c.errors} errors, ${r.c.timeouts} timeouts`, r.answers.ok]),
];
console.log('');
table([['target', 'measured', 'result'], ...targets.map(([n, v, ok]) => [n, v, ok ? 'met' : 'MISSED'])]);
process.exitCode = runs.every((r) => r.checks.every(([, , ok]) => ok)) ? 0 : 1;
