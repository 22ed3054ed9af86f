// The operator's console at scale: seeds BENCH_ORDERS (1,000,000) orders, BENCH_AGENTS (10,000)
// agents in a tree, their customers, wallets with journal entries, margins and supplier orders with
// multi-row inserts straight into the tables, then times the console's pages over HTTP as an admin.
// SQLite by default; BENCH_DIALECT=mysql runs it on the MariaDB test server.
import { createCategory, createProduct, createSku } from '../core/dist/index.js';
import { startTestShop } from '../core/dist/testing/index.js';
import { num, table, watchdog } from './lib.mjs';

const ORDERS = Math.min(num('BENCH_ORDERS', 1_000_000), 1_000_000); // the numbers table holds a million
const AGENTS = num('BENCH_AGENTS', 10_000);
const CUSTOMERS = num('BENCH_CUSTOMERS', 40_000);
const GUESTS = num('BENCH_GUESTS', 100_000); // distinct guest contacts
const SKUS = 200; // 10 % of them top-ups filled by two suppliers
const SITES = 500;
const RUNS = num('BENCH_RUNS', 3);
const DAY = 86_400_000;
watchdog(num('BENCH_TIMEOUT', 1800) * 1000);

// A seeded generator, so every run builds the same shop.
let seed = 42;
const random = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
  return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
};
const pick = (n) => Math.floor(random() * n);

const t = await startTestShop({ dialect: process.env.BENCH_DIALECT === 'mysql' ? 'mysql' : 'sqlite' });
const { shop } = t;
const knex = shop.db.knex;
const seconds = (since) => ((Date.now() - since) / 1000).toFixed(1);

/** Inserts rows `size` at a time, in transactions of `perTxn` rows. */
async function insertAll(tableName, rows, size = 500, perTxn = 20_000) {
  for (let i = 0; i < rows.length; i += perTxn) {
    await knex.transaction(async (trx) => {
      for (let j = i; j < Math.min(i + perTxn, rows.length); j += size) await trx(tableName).insert(rows.slice(j, Math.min(j + size, i + perTxn, rows.length)));
    });
  }
}
const nextId = async (tableName) => Number((await knex(tableName).max({ m: 'id' }).first()).m ?? 0) + 1;

try {
  const started = Date.now();
  const now = Date.now();
  const admin = await t.createUser({ role: 'admin' });

  // Catalog: 200 SKUs, the first 180 cards, the rest top-ups.
  const skus = [];
  for (let c = 0; c < 20; c++) {
    const categoryId = await createCategory(shop, { slug: `c${c}`, name: `Category ${c}` });
    for (let p = 0; p < SKUS / 20; p++) {
      const n = c * (SKUS / 20) + p;
      const type = n < SKUS * 0.9 ? 'card' : 'direct';
      const productId = await createProduct(shop, { categoryId, slug: `p${n}`, name: `Product ${n}`, type });
      const price = 500 + pick(20) * 500;
      await createSku(shop, { productId, code: `SKU-${n}`, name: `SKU ${n}`, price });
      skus.push({ code: `SKU-${n}`, type, price, productId });
    }
  }
  const skuRows = await knex('skus').whereIn('code', skus.map((s) => s.code)).select('id', 'code');
  for (const s of skus) s.id = skuRows.find((r) => r.code === s.code).id;
  // Stock counters only (the console reads the counters, not the keys); every tenth SKU watched at 20.
  for (const s of skus) await knex('skus').where('id', s.id).update({ stock: s.type === 'card' ? pick(500) : 0, cost: Math.round(s.price * 0.8), ...(s.id % 10 === 0 ? { low_stock: 20 } : {}) });

  // Agents in a tree (the first hundred at the top), then customers, 60 % below an agent.
  let t0 = Date.now();
  const firstUser = await nextId('users');
  const users = [];
  for (let i = 0; i < AGENTS + CUSTOMERS; i++) {
    const agent = i < AGENTS;
    const upline = agent ? (i < 100 ? null : firstUser + pick(i)) : random() < 0.6 ? firstUser + pick(AGENTS) : null;
    users.push({ email: `${agent ? 'agent' : 'customer'}${i}@bench.test`, password_hash: 'x', role: agent ? 'agent' : 'customer', created_at: now - 400 * DAY, upline_id: upline, spend_total: 0 });
  }
  await insertAll('users', users, 200);
  const userCount = Number((await knex('users').where('id', '>=', firstUser).count({ n: '*' }).first()).n);
  if (userCount !== users.length) throw new Error(`users: ${userCount} inserted, expected ${users.length}`);
  const uplineOf = (uid) => users[uid - firstUser].upline_id;

  const firstSite = await nextId('sites');
  await insertAll(
    'sites',
    Array.from({ length: SITES }, (_, i) => ({ owner_id: firstUser + i, code: `site-${i}`, name: `Site ${i}`, created_at: now, updated_at: now })),
  );

  // Wallets with a balance each, credited by one journal transaction against platform:adjustments.
  const firstAccount = await nextId('accounts');
  const wallets = users.map((_, i) => ({ code: `wallet:${firstUser + i}`, kind: 'wallet', user_id: firstUser + i, balance: pick(100_000), currency: 'CNY', created_at: now }));
  await insertAll('accounts', wallets);
  const adjustments = (await knex('accounts').where('code', 'platform:adjustments').first('id')).id;
  await insertAll('journal_transactions', wallets.map((w, i) => ({ id: `seed:${firstUser + i}`, kind: 'admin_credit', created_at: now })));
  await insertAll(
    'journal_entries',
    wallets.flatMap((w, i) => [
      { txn_id: `seed:${firstUser + i}`, account_id: firstAccount + i, amount: w.balance, created_at: now },
      { txn_id: `seed:${firstUser + i}`, account_id: adjustments, amount: -w.balance, created_at: now },
    ]),
  );
  await knex('accounts').where('id', adjustments).update({ balance: -wallets.reduce((s, w) => s + w.balance, 0) });
  console.log(`setup: ${users.length.toLocaleString()} users, ${SITES} sites, wallets in ${seconds(t0)} s`);

  // Orders over the last year, oldest first, generated by the database itself (INSERT … SELECT over
  // a numbers table): nothing crosses from JS per row. Hashes of the row number stand in for random
  // choices; popular SKUs sell more (the SKU index is skewed by its square).
  t0 = Date.now();
  const mysql = shop.db.dialect === 'mysql';
  const concat = (...parts) => (mysql ? `CONCAT(${parts.join(', ')})` : parts.join(' || '));
  const pad = (expr, n) => (mysql ? `LPAD(${expr}, ${n}, '0')` : `printf('%0${n}d', ${expr})`);
  const yymmdd = (ms) => (mysql ? `DATE_FORMAT(FROM_UNIXTIME(${ms} DIV 1000), '%y%m%d')` : `substr(strftime('%Y%m%d', ${ms} / 1000, 'unixepoch'), 3)`);
  const div = (a, b) => (mysql ? `(${a}) DIV (${b})` : `(${a}) / (${b})`);
  const hash = (k) => `((seq.i * ${[2654435761, 2246822519, 3266489917, 668265263, 374761393][k]} + ${k * 7919}) % 1000003)`;
  await knex.schema.createTable('bench_seq', (tb) => tb.integer('i').primary());
  await insertAll('bench_seq', Array.from({ length: 1000 }, (_, i) => ({ i })), 100);
  const firstOrder = await nextId('orders');
  const firstSku = skus[0].id;
  const createdAt = `${now - 365 * DAY} + ${div(`seq.i * ${365 * DAY}`, ORDERS)}`;
  const status = `CASE WHEN ${hash(3)} % 100 < 86 THEN 'delivered' WHEN ${hash(3)} % 100 < 89 THEN 'refunded' WHEN ${hash(3)} % 100 < 93 THEN 'expired' WHEN ${hash(3)} % 100 < 95 THEN 'cancelled' WHEN ${hash(3)} % 100 < 96 THEN 'failed' WHEN ${hash(3)} % 100 < 97 THEN 'partial' ELSE 'delivered' END`;
  const member = `${hash(1)} % 10 < 7`;
  const buyer = `CASE WHEN ${member} THEN (CASE WHEN ${hash(2)} % 10 < 8 THEN ${firstUser + AGENTS} + ${hash(4)} % ${CUSTOMERS} ELSE ${firstUser} + ${hash(4)} % ${AGENTS} END) END`;
  const quantity = `(CASE WHEN ${hash(2)} % 5 = 0 THEN 1 + ${hash(4)} % 5 ELSE 1 END)`;
  const CHUNK = 100_000;
  for (let start = 0; start < ORDERS; start += CHUNK) {
    const end = Math.min(start + CHUNK, ORDERS) - 1;
    await knex.raw(`INSERT INTO orders (no, token_hash, user_id, sku_id, product_id, product_type, title, quantity, unit_price, amount, currency, status, payment, contact, site_id, created_at, paid_at, delivered_at, updated_at)
      SELECT ${concat(yymmdd('x.created_at'), "'-'", pad('x.i', 10))}, 'x', x.buyer, k.id, k.product_id, p.type, ${concat("'Product - '", 'k.code')}, x.quantity, k.price, k.price * x.quantity, 'CNY', x.status,
        CASE WHEN x.buyer IS NOT NULL AND x.h % 10 < 6 THEN 'wallet' ELSE 'dummy' END,
        CASE WHEN x.buyer IS NULL THEN ${concat("'guest'", `(x.h % ${GUESTS})`, "'@bench.test'")} END,
        CASE WHEN x.h % 100 < 8 THEN ${firstSite} + x.h % ${SITES} END,
        x.created_at, CASE WHEN x.status NOT IN ('expired', 'cancelled') THEN x.created_at + 5000 END,
        CASE WHEN x.status IN ('delivered', 'partial') THEN x.created_at + 6000 END, x.created_at + 6000
      FROM (SELECT seq.i, ${createdAt} AS created_at, ${buyer} AS buyer, ${status} AS status, ${quantity} AS quantity,
              ${firstSku} + ${div(`(${hash(0)} % 1000) * (${hash(0)} % 1000) * ${SKUS}`, 1_000_000)} AS sku, ${hash(4)} AS h
            FROM (SELECT a.i * 1000 + b.i AS i FROM bench_seq a CROSS JOIN bench_seq b WHERE a.i BETWEEN ${start / 1000} AND ${Math.floor(end / 1000)} AND a.i * 1000 + b.i <= ${end}) seq) x
      JOIN skus k ON k.id = x.sku JOIN products p ON p.id = k.product_id
      ORDER BY x.i`);
    process.stdout.write(`\rorders: ${(end + 1).toLocaleString()} (${seconds(t0)} s)`);
  }
  // InnoDB may leave gaps in the ids of an INSERT … SELECT: count, do not compute.
  const inserted = Number((await knex('orders').where('id', '>=', firstOrder).count({ n: '*' }).first()).n);
  if (inserted !== ORDERS) throw new Error(`orders: ${inserted} inserted, expected ${ORDERS}`);
  // Each member below an agent pays it 5 % of the sale; top-ups went to one of two suppliers.
  await knex.raw(`INSERT INTO order_margins (order_id, agent_id, via_user_id, amount, sale, status, created_at)
    SELECT o.id, u.upline_id, o.user_id, ${div('o.amount * 5', 100)}, o.amount,
      CASE WHEN o.status IN ('delivered', 'partial') THEN 'credited' WHEN o.status = 'refunded' THEN 'reversed' ELSE 'pending' END, o.created_at
    FROM orders o JOIN users u ON u.id = o.user_id
    WHERE o.id >= ${firstOrder} AND u.upline_id IS NOT NULL AND o.status NOT IN ('expired', 'cancelled')`);
  await knex.raw(`INSERT INTO supplier_orders (order_id, supplier, supplier_sku, status, cost, created_at, updated_at)
    SELECT o.id, CASE WHEN o.id % 2 = 0 THEN 'sup-a' ELSE 'sup-b' END, ${concat("'S-'", 'o.sku_id')},
      CASE WHEN o.status IN ('failed', 'refunded') THEN 'failed' ELSE 'delivered' END, ${div('o.amount * 8', 10)}, o.paid_at, o.paid_at + 200 + (o.id * 7919) % 5000
    FROM orders o WHERE o.id >= ${firstOrder} AND o.product_type = 'direct' AND o.paid_at IS NOT NULL`);
  await knex.schema.dropTable('bench_seq');
  const count = async (tableName) => Number((await knex(tableName).count({ n: '*' }).first()).n);
  console.log(`\nseeded ${ORDERS.toLocaleString()} orders, ${(await count('order_margins')).toLocaleString()} margins, ${(await count('supplier_orders')).toLocaleString()} supplier orders in ${seconds(t0)} s (all set up in ${seconds(started)} s)`);

  if (process.env.BENCH_KEEP && !mysql) {
    await knex.raw('VACUUM INTO ?', [process.env.BENCH_KEEP]);
    console.log(`a copy of the seeded database: ${process.env.BENCH_KEEP}`);
  }

  // The pages, as the admin's browser asks for them.
  const browser = await t.client().login(admin.email, admin.password);
  const middle = await knex('orders').where('id', '>=', firstOrder).orderBy('id').offset(Math.floor(ORDERS / 2)).first('id', 'no', 'created_at');
  const day = new Date(Number(middle.created_at) + 8 * 3_600_000).toISOString().slice(0, 10);
  const guest = (await knex('orders').whereNotNull('contact').where('id', '>', firstOrder + 1000).first('contact')).contact;
  const customer = (await knex('users').where('id', (await knex('orders').whereNotNull('user_id').where('id', '>', firstOrder + 2000).first('user_id')).user_id).first('email')).email;
  const topAgent = (await knex('order_margins').where('agent_id', '<', firstUser + 100).groupBy('agent_id').select('agent_id').count({ n: '*' }).orderBy('n', 'desc').first()).agent_id;
  const pages = [
    ['dashboard, by day (computed)', '/admin?period=day&refresh=1'],
    ['dashboard, by day (cached)', '/admin?period=day'],
    ['dashboard, by month (computed)', '/admin?period=month&refresh=1'],
    ['orders, first page', '/admin/orders'],
    ['orders, deep page (the middle)', `/admin/orders?before=${middle.id}`],
    ['orders, popular SKU + delivered', '/admin/orders?sku=SKU-0&status=delivered'],
    ['orders, rare SKU', `/admin/orders?sku=SKU-${SKUS - 1}`],
    ['orders, failed', '/admin/orders?status=failed'],
    ['orders, a guest contact', `/admin/orders?contact=${encodeURIComponent(guest)}`],
    ['orders, a customer e-mail', `/admin/orders?contact=${encodeURIComponent(customer)}`],
    ['orders, a top agent', `/admin/orders?agent=%23${topAgent}`],
    ['orders, a sub-shop', '/admin/orders?site=site-7'],
    ['orders, one day', `/admin/orders?from=${day}&to=${day}`],
    ['orders, one day + rare SKU', `/admin/orders?from=${day}&to=${day}&sku=SKU-${SKUS - 1}`],
    ['orders, number prefix', `/admin/orders?no=${middle.no.slice(0, 9)}`],
    ['order page', `/admin/orders/${middle.no}`],
    ['customers (computed)', '/admin/insight?refresh=1'],
    ['customers (cached), page 100', '/admin/insight?page=100'],
    ['CSV, popular SKU (streamed)', '/admin/orders/export.csv?sku=SKU-0'],
  ];
  const rows = [['page', 'first ms', `median of ${RUNS} ms`, 'KB', 'rows']];
  for (const [name, path] of pages) {
    const times = [];
    let size = 0;
    let count = 0;
    for (let run = 0; run < RUNS; run++) {
      const t1 = performance.now();
      const r = await browser.get(path);
      times.push(performance.now() - t1);
      if (r.status !== 200) throw new Error(`${path}: ${r.status} ${r.text.slice(0, 300)}`);
      size = r.text.length;
      count = path.includes('.csv') ? r.text.split('\r\n').length - 2 : (r.text.match(/<tr data-(order|customer)=/g) ?? []).length;
    }
    const sorted = [...times].sort((a, b) => a - b);
    rows.push([name, Math.round(times[0]), Math.round(sorted[Math.floor(sorted.length / 2)]), Math.round(size / 1024), count]);
  }
  console.log('');
  table(rows);
} finally {
  await t.close();
}
