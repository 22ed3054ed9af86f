// The delivery engine and the Agent API: (a) delivery jobs/s through one process's worker (direct
// orders, each placed at an in-memory supplier, delivered, its cost booked, in its own transaction);
// (b) signed POST /api/v1/orders per second (cards delivered inline), the client in a worker thread.
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { createApiKey, createCategory, createProduct, createSku, importKeys, setRoute, verifyLedger } from '../core/dist/index.js';
import { createDummySupplier, startTestShop } from '../core/dist/testing/index.js';
import { CONNECTIONS, SECONDS, num, table, watchdog } from './lib.mjs';

const JOBS = num('BENCH_JOBS', 5000);
const WORKERS = num('BENCH_WORKER_CONCURRENCY', 8);
const DIALECT = process.env.BENCH_DIALECT === 'mysql' ? 'mysql' : 'sqlite';
watchdog((SECONDS + 600) * 1000);

const count = async (q) => Number(Object.values(await q.count({ n: '*' }).first())[0]);

// (a) delivery jobs through the worker
const supplier = createDummySupplier('bench-supplier');
let t = await startTestShop({ dialect: DIALECT, listen: false, config: { plugins: [supplier.plugin], delivery: { concurrency: WORKERS } } });
let jobs;
try {
  const { shop } = t;
  const category = await createCategory(shop, { slug: 'bench-topups', name: 'Top-ups' });
  const product = await createProduct(shop, { categoryId: category, slug: 'bench-topup', name: 'Top-up', type: 'direct' });
  await createSku(shop, { productId: product, code: 'BENCH-TOPUP', name: '10', price: 1000 });
  await setRoute(shop, 'BENCH-TOPUP', { supplier: 'bench-supplier', supplierSku: 'S', cost: 900 });
  const buyer = await t.createUser({ balance: 1e12 });
  let started = Date.now();
  for (let i = 0; i < JOBS; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, JOBS - i) }, () => shop.checkout(buyer, { sku: 'BENCH-TOPUP', payment: 'wallet' })));
  }
  console.log(`setup: ${JOBS} paid direct orders (${DIALECT}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  started = performance.now();
  shop.delivery.worker.start();
  const done = () => count(shop.db.knex('delivery_jobs').where('status', 'done'));
  while ((await done()) < JOBS) await new Promise((r) => setTimeout(r, 50));
  const seconds = (performance.now() - started) / 1000;
  await shop.delivery.worker.stop();
  const delivered = await count(shop.db.knex('orders').where('status', 'delivered'));
  const costs = await count(shop.db.knex('journal_transactions').where('kind', 'supplier_cost'));
  const ledger = await verifyLedger(shop);
  jobs = { seconds, perSec: JOBS / seconds, delivered, costs, placed: supplier.calls.length, ledger: ledger.ok };
} finally {
  await t.close();
}

// (b) the Agent API: signed wallet orders of an in-stock card, each with its own Idempotency-Key
t = await startTestShop({ dialect: DIALECT });
let api;
try {
  const { shop } = t;
  const category = await createCategory(shop, { slug: 'bench-cards', name: 'Cards' });
  const product = await createProduct(shop, { categoryId: category, slug: 'bench-card', name: 'Card', type: 'card' });
  await createSku(shop, { productId: product, code: 'BENCH-CARD', name: '1', price: 100 });
  const salt = randomBytes(4).toString('hex');
  await importKeys(shop, { sku: 'BENCH-CARD', lines: (function* () { for (let i = 0; i < 300_000; i++) yield `API-${salt}-${i}`; })() });
  const agent = await t.createUser({ balance: 1e12 });
  const credentials = await createApiKey(shop, agent.id);
  console.log(`api: ${CONNECTIONS} concurrent clients, ${SECONDS} s against ${t.url}`);
  const result = await new Promise((resolve, reject) => {
    const w = new Worker(new URL('./api-load-worker.mjs', import.meta.url), { workerData: { url: t.url, credentials, connections: CONNECTIONS, seconds: SECONDS } });
    w.once('message', resolve);
    w.once('error', reject);
  });
  const orders = await count(shop.db.knex('orders').where('user_id', agent.id));
  const ledger = await verifyLedger(shop);
  api = { ...result, orders, ledger: ledger.ok };
} finally {
  await t.close();
}

console.log('');
table([
  ['figure', 'value'],
  [`delivery jobs/s (${WORKERS} at a time, ${DIALECT})`, jobs.perSec],
  ['jobs done / orders delivered / costs booked / supplier calls', `${JOBS} / ${jobs.delivered} / ${jobs.costs} / ${jobs.placed}`],
  ['API orders/s (201, delivered)', api.created / api.seconds],
  ['API p50 / p99 ms', `${api.p50} / ${api.p99}`],
  ['API other answers', api.other],
  ['orders in the database == 201s', `${api.orders} == ${api.created}`],
  ['verifyLedger', `${jobs.ledger} / ${api.ledger}`],
]);
const ok = jobs.delivered === JOBS && jobs.costs === JOBS && jobs.placed === JOBS && api.orders === api.created && jobs.ledger && api.ledger;
process.exitCode = ok ? 0 : 1;
