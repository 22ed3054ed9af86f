// Storefront reads as a browser asks for them (brotli or gzip accepted, no cookie: a guest), beside
// a bare koa "hello" server measured in the same run: the home page and a product page of both
// themes, and GET /api/store/products, on a catalog of CATEGORIES x PRODUCTS products, each with
// two card SKUs and a few keys. Pages come from the page cache (core/src/http/page-cache.ts).
import { fileURLToPath } from 'node:url';
import { createCategory, createProduct, createSku, importKeys } from '../core/dist/index.js';
import { startTestShop } from '../core/dist/testing/index.js';
import { CONNECTIONS, SECONDS, figures, helloServer, load, num, profiled, settle, table, watchdog } from './lib.mjs';

const CATEGORIES = num('BENCH_CATEGORIES', 10);
const PRODUCTS = num('BENCH_PRODUCTS', 20); // per category
const BROWSER = { 'accept-encoding': 'gzip, deflate, br', 'accept-language': 'zh-CN,zh;q=0.9' };
watchdog((SECONDS * 12 + 600) * 1000);

const hello = await helloServer();
console.log(`hello: ${CONNECTIONS} connections, ${SECONDS} s against ${hello.url}`);
const h = figures(await load({ url: hello.url, expect: 200 }));
await hello.close();

const rows = [['endpoint', 'req/s', 'of hello', 'p50 ms', 'p99 ms', 'max ms', 'non-200', 'errors', 'KB/resp', 'CPU: main / other / load']];
rows.push(['koa hello', h.okPerSec, '100%', h.p50, h.p99, h.max, h.otherCodes, h.errors + h.timeouts, '-', h.cpu]);

// The themes by folder: the bench is not a package that depends on them.
for (const theme of ['default', 'wholesale']) {
  const t = await startTestShop({ config: { theme: fileURLToPath(new URL(`../themes/${theme}`, import.meta.url)) } });
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
    console.log(`${theme}: ${CATEGORIES * PRODUCTS} products, ${CATEGORIES * PRODUCTS * 2} SKUs in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const paths = ['/', `/product/product-${Math.ceil(CATEGORIES / 2)}-${Math.ceil(PRODUCTS / 2)}`, ...(theme === 'default' ? ['/api/store/products'] : [])];
    for (const path of paths) {
      console.log(`GET ${path}: ${CONNECTIONS} connections, ${SECONDS} s`);
      const name = `${theme}${path.replaceAll('/', '_')}`;
      const raw = await profiled(name, () => load({ url: t.url, path, headers: BROWSER, expect: 200 }));
      await settle(shop);
      const f = figures(raw, 200);
      for (const [status, text] of Object.entries(raw.errorBodies)) console.log(`  ${status}: ${text}`);
      rows.push([`${theme} GET ${path}`, f.okPerSec, `${((f.okPerSec / h.okPerSec) * 100).toFixed(1)}%`, f.p50, f.p99, f.max, f.otherCodes, f.errors + f.timeouts, raw.throughput.total / raw.requests.total / 1024, f.cpu]);
    }
  } finally {
    await t.close();
  }
}
console.log('');
table(rows);
const missed = rows.slice(2).filter((r) => !(r[1] >= 5000 && r[4] < 50));
console.log('');
console.log(missed.length ? `targets (>= 5,000 req/s, p99 < 50 ms) missed by: ${missed.map((r) => r[0]).join(', ')}` : 'targets (>= 5,000 req/s, p99 < 50 ms): met by every page and the product list');
