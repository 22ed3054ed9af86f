// Storefront reads: GET / (the theme's home page) and GET /api/store/products on a catalog of
// CATEGORIES x PRODUCTS products, each with two card SKUs and a few keys.
import { createCategory, createProduct, createSku, importKeys } from '../core/dist/index.js';
import { startTestShop } from '../core/dist/testing/index.js';
import { CONNECTIONS, SECONDS, figures, load, num, profiled, settle, table, watchdog } from './lib.mjs';

const CATEGORIES = num('BENCH_CATEGORIES', 10);
const PRODUCTS = num('BENCH_PRODUCTS', 20); // per category
watchdog((SECONDS * 2 + 300) * 1000);

const t = await startTestShop();
const { shop } = t;
try {
  const started = Date.now();
  for (let c = 1; c <= CATEGORIES; c++) {
    const categoryId = await createCategory(shop, { slug: `cat-${c}`, name: `Category ${c}`, sort: c });
    for (let p = 1; p <= PRODUCTS; p++) {
      const slug = `product-${c}-${p}`;
      const productId = await createProduct(shop, { categoryId, slug, name: `Product ${c}-${p}`, description: 'A gift card.', type: 'card', sort: p });
      for (const [i, price] of [[1, 1000], [2, 5000]]) {
        const code = `P${c}-${p}-${i}`;
        await createSku(shop, { productId, code, name: `Value ${price / 100}`, price });
        await importKeys(shop, { sku: code, lines: [1, 2, 3].map((k) => `${code}-KEY-${k}`) });
      }
    }
  }
  console.log(`setup: ${CATEGORIES * PRODUCTS} products, ${CATEGORIES * PRODUCTS * 2} SKUs in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const rows = [['endpoint', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'non-200', 'errors', 'KB/resp']];
  for (const path of ['/', '/api/store/products']) {
    console.log(`GET ${path}: ${CONNECTIONS} connections, ${SECONDS} s`);
    const raw = await profiled(path === '/' ? 'home' : 'products', () => load({ url: t.url, path, expect: 200 }));
    await settle(shop);
    const f = figures(raw, 200);
    for (const [status, text] of Object.entries(raw.errorBodies)) console.log(`  ${status}: ${text}`);
    rows.push([`GET ${path}`, f.okPerSec, f.p50, f.p99, f.max, f.otherCodes, f.errors + f.timeouts, raw.throughput.total / raw.requests.total / 1024]);
  }
  console.log('');
  table(rows);
} finally {
  await t.close();
}
