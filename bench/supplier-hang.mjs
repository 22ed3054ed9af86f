// Page views while a supplier hangs: a product page and GET /api/store/products, measured with the
// supplier answering at once and again while HANGING top-up orders each wait 35 s for it (the
// delivery workers hold every slot). The workers wait on sockets, so the figures should match.
import { fileURLToPath } from 'node:url';
import { setRoute } from '../core/dist/index.js';
import { startTestShop } from '../core/dist/testing/index.js';
import httpSupplier from '../plugins/supplier-http/dist/index.js';
import { startFakeSupplier } from '../plugins/supplier-http/dist/testing/fake-supplier.js';
import { createCategory, createProduct, createSku } from '../core/dist/index.js';
import { figures, load, num, table, watchdog } from './lib.mjs';

const HANG_MS = num('BENCH_HANG_MS', 35_000);
const HANGING = num('BENCH_HANGING', 20);
watchdog(10 * 60_000);

const fake = await startFakeSupplier();
const settings = { id: 'kachong', baseUrl: fake.url, merchantId: '10086', secret: 'fake-supplier-secret', timeoutMs: HANG_MS + 10_000, response: { notFoundCodes: ['404'] } };
const t = await startTestShop({ config: { plugins: [httpSupplier(settings)], delivery: { concurrency: 4, timeoutMs: HANG_MS + 20_000 } } });
const { shop } = t;
const categoryId = await createCategory(shop, { slug: 'topups', name: 'Top-ups' });
const productId = await createProduct(shop, { categoryId, slug: 'phone', name: 'Phone top-up', type: 'direct', fields: [{ name: 'phone', label: { 'zh-CN': '手机号', en: 'Phone' }, type: 'phone' }] });
await createSku(shop, { productId, code: 'PHONE-50', name: '50', price: 5000 });
await setRoute(shop, 'PHONE-50', { supplier: 'kachong', supplierSku: 'timeout', cost: 4900 });

const rows = [['supplier', 'endpoint', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'non-200', 'errors']];
const measure = async (label) => {
  for (const path of ['/product/phone', '/api/store/products']) {
    const f = figures(await load({ url: t.url, path, expect: 200 }));
    rows.push([label, path, f.okPerSec, f.p50, f.p99, f.max, f.otherCodes, f.errors + f.timeouts]);
  }
};

fake.delayMs = 0;
await measure('answering');
fake.delayMs = HANG_MS;
const buyer = await t.createUser({ balance: 10_000_000 });
for (let i = 0; i < HANGING; i++) await shop.checkout(buyer, { sku: 'PHONE-50', fields: { phone: '13800138000' }, payment: 'wallet' });
const waiting = async () => Number((await shop.db.knex('delivery_jobs').where('status', 'running').count({ n: '*' }).first()).n);
while ((await waiting()) < 4) await new Promise((r) => setTimeout(r, 100));
await measure(`hanging ${HANG_MS / 1000} s (${await waiting()} jobs waiting)`);
console.log(table(rows));
fake.delayMs = 0;
process.exit(0);
