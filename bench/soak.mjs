// Soak: BENCH_SOAK_SECONDS (600) of mixed traffic at BENCH_SOAK_RATE (500) requests/s against one
// SQLite shop served by `cardshop start` (a child process, as an operator runs it): home and product
// pages, wallet checkouts, buyers looking up their orders, Agent API listings and orders
// (soak-worker.mjs). Every 10 s a row: requests, answers, statuses, latency, and the serving
// process's RSS, heap and event-loop delay (soak-probe.mjs, loaded with --import, so the shop
// carries no measuring code). Then the trend of RSS and heap after warm-up (a least-squares line),
// and the integrity checks: no key twice, stock counter == available keys, ledger verified.
// Exits 1 on an integrity failure, a 5xx or a socket error.
import { fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { adjustWallet, createApiKey, createCategory, createProduct, createShop, createSku, createUser, importKeys, stockOf, verifyLedger } from '../core/dist/index.js';
import { helloServer, load, num, table, figures, watchdog } from './lib.mjs';

const SECONDS = num('BENCH_SOAK_SECONDS', 600);
const RATE = num('BENCH_SOAK_RATE', 500);
const WINDOW = num('BENCH_SOAK_WINDOW', 10);
const WARMUP = num('BENCH_SOAK_WARMUP', Math.min(60, SECONDS / 5)); // seconds left out of the trend
const PRODUCTS = 200;
const BUYERS = 100;
const SKU = 'SOAK-CARD';
const BIN = fileURLToPath(new URL('../core/dist/cli/main.js', import.meta.url));
const PROBE = pathToFileURL(fileURLToPath(new URL('./soak-probe.mjs', import.meta.url))).href;
watchdog((SECONDS + 900) * 1000);

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

// The ceiling for this machine in the same run: hello at the same paced rate.
const hello = await helloServer();
const h = figures(await load({ url: hello.url, expect: 200, rate: RATE, seconds: 10 }));
await hello.close();

const folder = mkdtempSync(path.join(tmpdir(), 'cardshop-soak-'));
const probeFile = path.join(folder, 'probe.jsonl');
const secret = randomBytes(32).toString('hex');
const keys = Math.ceil(RATE * SECONDS * 0.2) + 10_000; // checkouts and agent orders are 17 % of the mix
let started = Date.now();
let shop = createShop({ root: folder, secret, logLevel: 'warn' });
await shop.ready();
const products = [];
let first;
for (let c = 1; c <= 10; c++) {
  const categoryId = await createCategory(shop, { slug: `cat-${c}`, name: `分类 ${c}`, sort: c });
  first ??= categoryId;
  for (let p = 1; p <= PRODUCTS / 10; p++) {
    const slug = `product-${c}-${p}`;
    const productId = await createProduct(shop, { categoryId, slug, name: `商品 ${c}-${p}`, description: '点卡', type: 'card', sort: p });
    await createSku(shop, { productId, code: `S${c}-${p}`, name: '面值 10', price: 1000 });
    await importKeys(shop, { sku: `S${c}-${p}`, lines: [1, 2, 3].map((k) => `S${c}-${p}-KEY-${k}`) });
    products.push(`/product/${slug}`);
  }
}
const main = await createProduct(shop, { categoryId: first, slug: 'soak-card', name: 'Soak card', type: 'card' });
await createSku(shop, { productId: main, code: SKU, name: 'One key', price: 100 });
const salt = randomBytes(4).toString('hex');
await importKeys(shop, { sku: SKU, lines: (function* () { for (let i = 0; i < keys; i++) yield `SOAK-${salt}-${String(i).padStart(8, '0')}`; })() });
const buyers = [];
for (let i = 0; i < BUYERS; i++) {
  const password = `soak-${randomBytes(6).toString('hex')}`;
  const user = await createUser(shop, { email: `buyer${i}@soak.local`, password });
  await adjustWallet(shop, { userId: user.id, amount: 1e12, reason: 'soak', ref: `soak:${user.id}` });
  buyers.push({ email: user.email, password, id: user.id });
}
const credentials = await createApiKey(shop, buyers[0].id, 'soak');
await shop.close();
console.log(`setup: ${PRODUCTS} products, ${keys} keys, ${BUYERS} buyers in ${((Date.now() - started) / 1000).toFixed(1)} s`);

const port = await freePort();
// BENCH_SOAK_GC=1: the probe collects all garbage before each sample, so the heap column is what is
// still live (a leak raises its floor) rather than wherever the collector's sawtooth happens to be.
const gc = process.env.BENCH_SOAK_GC === '1';
const env = {
  ...process.env,
  CARDSHOP_SECRET: secret,
  CARDSHOP_LOG_LEVEL: 'warn',
  CARDSHOP_LOCALE: 'en',
  NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${PROBE}${gc ? ' --expose-gc' : ''}`,
  BENCH_PROBE_FILE: probeFile,
  BENCH_PROBE_MS: String(WINDOW * 1000),
  ...(gc ? { BENCH_PROBE_GC: '1' } : {}),
};
const child = spawn(process.execPath, [BIN, 'start', '--port', String(port)], { cwd: folder, env, stdio: ['ignore', 'pipe', 'inherit'] });
const exited = new Promise((r) => child.once('exit', (code, signal) => r(code ?? signal)));
await new Promise((resolve, reject) => {
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
    if (out.includes('serving ')) resolve();
  });
  child.once('exit', (code) => reject(new Error(`cardshop start exited ${code}: ${out}`)));
});
const url = `http://127.0.0.1:${port}`;
const cookies = [];
for (const b of buyers) {
  const r = await fetch(`${url}/api/store/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) });
  if (r.status !== 200) throw new Error(`login ${r.status}: ${await r.text()}`);
  cookies.push(r.headers.getSetCookie().map((c) => c.split(';')[0]).join('; '));
}

console.log(`soak: ${RATE} requests/s for ${SECONDS} s against ${url}, a row every ${WINDOW} s`);
const samples = () =>
  readFileSync(probeFile, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
const rows = [['t s', 'sent/s', 'ok/s', 'non-ok', 'errors', 'skipped', 'p50 / p99 / max ms', 'RSS MB', 'heap MB', 'loop delay p99 / max ms']];
const seen = [];
const totals = { sent: 0, ok: 0, errors: 0, skipped: 0, statuses: {}, firstBodies: {} };
const MB = (b) => Math.round(b / 1048576);
await new Promise((resolve, reject) => {
  const worker = fork(new URL('./soak-worker.mjs', import.meta.url), { execArgv: [] });
  let t = 0;
  worker.on('message', (m) => {
    if (m.done) return resolve(worker.kill());
    const w = m.window;
    t += WINDOW;
    totals.sent += w.sent, (totals.ok += w.ok), (totals.errors += w.errors), (totals.skipped += w.skipped);
    for (const [s, n] of Object.entries(w.statuses)) totals.statuses[s] = (totals.statuses[s] ?? 0) + n;
    Object.assign(totals.firstBodies, { ...w.firstBodies, ...totals.firstBodies });
    const p = samples().at(-1);
    if (p) seen.push({ t, rss: p.rss, heap: p.heap });
    const nonOk = w.answered - w.ok;
    const row = [t, Math.round(w.sent / WINDOW), Math.round(w.ok / WINDOW), nonOk, w.errors, w.skipped, `${w.p50} / ${w.p99} / ${w.max}`, p ? MB(p.rss) : '-', p ? MB(p.heap) : '-', p ? `${p.lagP99} / ${p.lagMax}` : '-'];
    rows.push(row);
    console.log(`  ${row.join('  ')}`);
  });
  worker.once('exit', (code) => code && reject(new Error(`soak worker exited ${code}`)));
  worker.send({ url, rate: RATE, seconds: SECONDS, window: WINDOW, cookies, credentials, products, sku: SKU, maxInFlight: 4000 });
});
child.kill('SIGTERM');
const exit = await exited;

/** Least-squares slope of y over t (per second) and the fitted rise over the span, as a share of the mean. */
function trend(points, y) {
  const n = points.length;
  const mt = points.reduce((s, p) => s + p.t, 0) / n;
  const my = points.reduce((s, p) => s + y(p), 0) / n;
  const slope = points.reduce((s, p) => s + (p.t - mt) * (y(p) - my), 0) / points.reduce((s, p) => s + (p.t - mt) ** 2, 0);
  const span = points.at(-1).t - points[0].t;
  return { perMinute: slope * 60, rise: (slope * span) / my };
}
const steady = seen.filter((p) => p.t > WARMUP);

shop = createShop({ root: folder, secret, logLevel: 'warn' });
await shop.ready();
const knex = shop.db.knex;
const one = async (q) => Number(Object.values(await q)[0] ?? 0);
const twice = await one(knex.raw('select count(*) as n from (select fingerprint from card_keys where order_id is not null group by sku_id, fingerprint having count(*) > 1) d').then((r) => r[0]));
const wrong = await one(knex('orders').whereRaw('quantity <> (select count(*) from card_keys k where k.order_id = orders.id)').count({ n: '*' }).first());
const stuck = await one(knex('orders').whereNot('status', 'delivered').count({ n: '*' }).first());
const stock = await stockOf(shop, SKU);
const ledger = await verifyLedger(shop);
await shop.close();
if (process.env.BENCH_KEEP) console.log(`kept ${folder}`);
else rmSync(folder, { recursive: true, force: true });

console.log('');
console.log(`koa hello at ${RATE} requests/s (10 s): p50 ${h.p50} / p99 ${h.p99} / max ${h.max} ms`);
table(rows);
const fivexx = Object.entries(totals.statuses).filter(([s]) => Number(s) >= 500).reduce((s, [, n]) => s + n, 0);
if (Object.keys(totals.firstBodies).length) {
  console.log('\nunexpected answers (first body of each):');
  for (const [k, v] of Object.entries(totals.firstBodies)) console.log(`  ${k}: ${v}`);
}
const checks = [
  ['statuses', Object.entries(totals.statuses).map(([s, n]) => `${s}x${n}`).join(' '), fivexx === 0],
  ['socket errors', totals.errors, totals.errors === 0],
  ['a key in two orders', twice, twice === 0],
  ['orders whose key count != quantity', wrong, wrong === 0],
  ['orders not delivered', stuck, stuck === 0],
  ['stock counter == available keys', `${stock.counter} == ${stock.available}`, stock.counter === stock.available],
  ['verifyLedger ok', `${ledger.ok} (${ledger.transactions} txns)`, ledger.ok],
  ['the shop stopped on SIGTERM with', exit, exit === 0],
];
console.log('');
table([['check', 'value', 'result'], ...checks.map(([n, v, ok]) => [n, v, ok ? 'ok' : 'FAIL'])]);
if (steady.length >= 3) {
  const rss = trend(steady, (p) => p.rss);
  const heap = trend(steady, (p) => p.heap);
  const flat = (x) => Math.abs(x.rise) < 0.1;
  console.log('');
  table([
    [`trend after ${WARMUP} s (least squares)`, 'per minute', `fitted rise over ${steady.at(-1).t - steady[0].t} s`, 'growth?'],
    ['RSS', `${(rss.perMinute / 1048576).toFixed(2)} MB`, `${(rss.rise * 100).toFixed(1)}%`, flat(rss) ? 'no' : 'YES'],
    ['V8 heap used', `${(heap.perMinute / 1048576).toFixed(2)} MB`, `${(heap.rise * 100).toFixed(1)}%`, flat(heap) ? 'no' : 'YES'],
  ]);
}
if (totals.skipped) console.log(`\n${totals.skipped} requests not sent: 4,000 were already waiting (the shop could not keep up with ${RATE}/s)`);
process.exitCode = checks.every(([, , ok]) => ok) ? 0 : 1;
