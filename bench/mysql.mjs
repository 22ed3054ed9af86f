// MySQL scale-out: wallet checkouts (1 key each) through `cardshop start --workers N` (N app
// processes behind one port, node:cluster) on one MariaDB database, for N in BENCH_PROCESSES
// (1,2,4), beside a bare koa "hello" server; after each run: no key in two orders, stock counter
// == available keys, `verifyLedger`. Exits 1 if a check fails.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCategory, createProduct, createShop, createSku, createUser, adjustWallet, importKeys, stockOf, verifyLedger } from '../core/dist/index.js';
import { createMysqlDatabase } from '../core/dist/testing/index.js';
import { CONNECTIONS, SECONDS, figures, helloServer, load, num, table, watchdog } from './lib.mjs';

const PROCESSES = (process.env.BENCH_PROCESSES ?? '1,2,4').split(',').map(Number);
const KEYS = num('BENCH_KEYS', 200_000);
const BUYERS = num('BENCH_BUYERS', 200);
const SKU = 'BENCH-CARD';
const BIN = fileURLToPath(new URL('../core/dist/cli/main.js', import.meta.url));
watchdog((SECONDS * (PROCESSES.length + 1) * 2 + 900) * 1000);

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** CPU seconds used so far by a process and its children (utime + stime, cutime + cstime). */
function cpuOf(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
  } catch {
    return 0;
  }
}
const childrenOf = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
};
/** MariaDB's process, for its CPU (0 when it is not on this machine or its pid file is elsewhere). */
const mariadb = () => {
  try {
    return Number(readFileSync('/run/mysqld/mysqld.pid', 'utf8').trim());
  } catch {
    return 0;
  }
};

const hello = await helloServer();
const h = figures(await load({ url: hello.url, expect: 200 }));
await hello.close();

const db = await createMysqlDatabase();
const folder = mkdtempSync(path.join(tmpdir(), 'cardshop-bench-mysql-'));
const env = { ...process.env, CARDSHOP_DATABASE: db.url, CARDSHOP_SECRET: randomBytes(32).toString('hex'), CARDSHOP_LOG_LEVEL: 'warn', CARDSHOP_LOCALE: 'en' };
const shop = createShop({ root: folder, database: db.url, secret: env.CARDSHOP_SECRET, logLevel: 'warn' });
const rows = [['processes', 'delivered orders/s', 'of hello', 'scaling', 'p50 / p99 ms', 'other statuses', 'CPU cores: app processes / MariaDB / load']];
const checks = [];
try {
  await shop.ready();
  let started = Date.now();
  const category = await createCategory(shop, { slug: 'bench', name: 'Bench' });
  const product = await createProduct(shop, { categoryId: category, slug: 'bench-card', name: 'Bench card', type: 'card' });
  await createSku(shop, { productId: product, code: SKU, name: 'One key', price: 100 });
  const salt = randomBytes(4).toString('hex');
  await importKeys(shop, { sku: SKU, lines: (function* () { for (let i = 0; i < KEYS; i++) yield `BENCH-${salt}-${String(i).padStart(8, '0')}`; })() });
  const buyers = [];
  for (let i = 0; i < BUYERS; i++) {
    const password = `bench-${randomBytes(6).toString('hex')}`;
    const user = await createUser(shop, { email: `buyer${i}-${salt}@bench.local`, password });
    await adjustWallet(shop, { userId: user.id, amount: 1e12, reason: 'bench', ref: `bench:${user.id}` });
    buyers.push({ email: user.email, password });
  }
  console.log(`setup (MariaDB ${db.url.replace(/\/\/[^@]*@/, '//')}): ${KEYS} keys, ${BUYERS} buyers in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  let base;
  for (const n of PROCESSES) {
    const port = await freePort();
    const child = spawn(process.execPath, [BIN, 'start', '--workers', String(n), '--port', String(port)], { cwd: folder, env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    await new Promise((resolve, reject) => {
      child.stdout.on('data', (d) => {
        out += d;
        if ((out.match(/serving /g) ?? []).length >= n) resolve();
      });
      child.once('exit', (code) => reject(new Error(`cardshop start --workers ${n} exited ${code}: ${out}`)));
    });
    const url = `http://127.0.0.1:${port}`;
    const cookies = [];
    for (const b of buyers) {
      const r = await fetch(`${url}/api/store/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) });
      cookies.push(r.headers.getSetCookie().map((c) => c.split(';')[0]).join('; '));
    }
    const processes = [child.pid, ...childrenOf(child.pid)];
    const before = { app: processes.reduce((s, p) => s + cpuOf(p), 0), db: cpuOf(mariadb()), at: performance.now() };
    console.log(`${n} process${n > 1 ? 'es' : ''}: ${CONNECTIONS} connections, ${SECONDS} s against ${url}`);
    const raw = await load({ url, method: 'POST', path: '/api/store/checkout', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sku: SKU, quantity: 1, payment: 'wallet' }), cookies, expect: 201, expectText: '"status":"delivered"' });
    const seconds = (performance.now() - before.at) / 1000;
    const cpu = { app: (processes.reduce((s, p) => s + cpuOf(p), 0) - before.app) / seconds, db: (cpuOf(mariadb()) - before.db) / seconds };
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    const c = figures(raw, 201);
    base ??= c.okPerSec;
    for (const [status, text] of Object.entries(raw.errorBodies)) console.log(`  ${status}: ${text}`);
    rows.push([n, c.okPerSec, `${((c.okPerSec / h.okPerSec) * 100).toFixed(1)}%`, `${(c.okPerSec / base).toFixed(2)}x`, `${c.p50} / ${c.p99}`, c.otherCodes, `${cpu.app.toFixed(2)} / ${cpu.db.toFixed(2)} / ${raw.cpu.load.toFixed(2)}`]);

    // The whole database after each run: what every process wrote together.
    const knex = shop.db.knex;
    const one = async (q) => Number(Object.values(await q)[0] ?? 0);
    const twice = await one(knex.raw('select count(*) as n from (select fingerprint from card_keys where order_id is not null group by sku_id, fingerprint having count(*) > 1) d').then((r) => r[0][0]));
    const wrong = await one(knex('orders').whereRaw('quantity <> (select count(*) from card_keys k where k.order_id = orders.id)').count({ n: '*' }).first());
    const stock = await stockOf(shop, SKU);
    const ledger = await verifyLedger(shop);
    checks.push(
      [`${n}: a key in two orders`, twice, twice === 0],
      [`${n}: orders whose key count != quantity`, wrong, wrong === 0],
      [`${n}: stock counter == available keys`, `${stock.counter} == ${stock.available}`, stock.counter === stock.available],
      [`${n}: verifyLedger ok`, `${ledger.ok} (${ledger.transactions} txns)`, ledger.ok],
    );
  }
} finally {
  await shop.close();
  await db.drop();
  rmSync(folder, { recursive: true, force: true });
}
console.log('');
console.log(`koa hello, the same load: ${h.okPerSec.toFixed(0)} req/s, p50 ${h.p50} / p99 ${h.p99} ms`);
table(rows);
console.log('');
table([['check', 'value', 'result'], ...checks.map(([name, v, ok]) => [name, v, ok ? 'ok' : 'FAIL'])]);
const two = rows.find((r) => r[0] === 2);
if (two) console.log(`\nscaling from 1 to 2 processes: ${two[3]} (target >= 1.7x)`);
process.exitCode = checks.every(([, , ok]) => ok) ? 0 : 1;
