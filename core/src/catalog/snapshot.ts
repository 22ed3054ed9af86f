import type { Deps } from '../context.js';
import type { Database } from '../db/connect.js';
import { errors } from '../errors.js';
import { invalidatePricing } from '../pricing/pricing.js';
import type { CategoryView, ProductType, ProductView, SkuView } from './catalog.js';
import { stockBoard } from './stock-board.js';
import type { InputField } from './fields.js';

/**
 * The storefront reads the catalog from an in-memory snapshot, reloaded (three queries) at most
 * once a second or as soon as this process changes the catalog. Another process's change shows
 * within a second. A reload that finds nothing changed keeps the snapshot it had (and its
 * `version`, which page caches key on). Stock is not taken from the snapshot: listings overlay the
 * counters of the stock board (stock-board.ts), and checkout decides on its own figures.
 */

const TTL_MS = 1000;

function groupBy<T, K>(items: T[], key: (item: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const item of items) {
    const list = out.get(key(item));
    if (list) list.push(item);
    else out.set(key(item), [item]);
  }
  return out;
}

export interface Snapshot {
  /** Changes only when what the snapshot holds does. */
  version: number;
  categories: CategoryView[];
  products: ProductView[];
  /** By id and by slug. */
  productByKey: Map<string, ProductView>;
  categoryByKey: Map<string, CategoryView>;
  /** By SKU id and by SKU code. */
  skuByKey: Map<string, { product: ProductView; sku: SkuView }>;
}

const cache = new WeakMap<Database, { loadedAt: number; snapshot: Promise<Snapshot> }>();
/** The last snapshot loaded, with what it was built from, so an unchanged reload keeps it. */
const last = new WeakMap<Database, { rows: string; snapshot: Snapshot }>();

export function invalidateCatalog(deps: Deps): void {
  cache.delete(deps.db);
  // Prices are resolved from the SKUs' figures: a new or changed SKU is priced at once too.
  invalidatePricing(deps);
}

interface SkuRow {
  id: number;
  product_id: number;
  code: string;
  name: string;
  price: number | string;
  min_quantity: number;
  max_quantity: number | null;
}

/** A SKU as the snapshot keeps it: a card's stock is filled in from the stock board where shown. */
function skuView(row: SkuRow, type: ProductType): SkuView {
  const counted = type === 'card';
  return {
    id: row.id,
    code: row.code,
    name: row.name,
    price: Number(row.price),
    stock: counted ? 0 : null,
    inStock: !counted,
    minQuantity: row.min_quantity,
    maxQuantity: row.max_quantity,
  };
}

async function load(deps: Deps): Promise<Snapshot> {
  const knex = deps.db.read;
  const [categoryRows, productRows, skuRows] = await Promise.all([
    knex('categories').where('enabled', true).orderBy([{ column: 'sort' }, { column: 'id' }]),
    knex('products')
      .select('products.*')
      .join('categories', 'categories.id', 'products.category_id')
      .where('products.enabled', true)
      .andWhere('categories.enabled', true)
      .orderBy([{ column: 'products.sort' }, { column: 'products.id' }]),
    knex('skus')
      .where('enabled', true)
      .orderBy([{ column: 'sort' }, { column: 'id' }])
      .select('id', 'product_id', 'code', 'name', 'price', 'min_quantity', 'max_quantity') as Promise<SkuRow[]>,
  ]);
  const rows = JSON.stringify([categoryRows, productRows, skuRows]);
  const before = last.get(deps.db);
  if (before?.rows === rows) return before.snapshot;
  const skusOf = groupBy(skuRows, (s) => s.product_id);
  const products: ProductView[] = [];
  for (const p of productRows) {
    const skus = (skusOf.get(p.id) ?? []).map((s) => skuView(s, p.type));
    if (!skus.length) continue; // nothing to sell
    products.push({
      id: p.id,
      categoryId: p.category_id,
      slug: p.slug,
      name: p.name,
      description: p.description ?? '',
      imageUrl: p.image_url,
      type: p.type,
      fields: p.fields ? (JSON.parse(p.fields) as InputField[]) : [],
      skus,
      priceFrom: Math.min(...skus.map((s) => s.price)),
      inStock: skus.some((s) => s.inStock),
    });
  }
  const productsOf = groupBy(products, (p) => p.categoryId);
  const categories: CategoryView[] = categoryRows.map((c: Record<string, any>) => ({
    id: c.id,
    slug: c.slug,
    name: c.name,
    description: c.description ?? '',
    imageUrl: c.image_url,
    products: productsOf.get(c.id) ?? [],
  }));
  const snapshot: Snapshot = { version: (before?.snapshot.version ?? 0) + 1, categories, products, productByKey: new Map(), categoryByKey: new Map(), skuByKey: new Map() };
  for (const c of categories) snapshot.categoryByKey.set(String(c.id), c).set(c.slug, c);
  for (const p of products) {
    snapshot.productByKey.set(String(p.id), p).set(p.slug, p);
    for (const sku of p.skus) snapshot.skuByKey.set(String(sku.id), { product: p, sku }).set(sku.code, { product: p, sku });
  }
  last.set(deps.db, { rows, snapshot });
  return snapshot;
}

function snapshot(deps: Deps): Promise<Snapshot> {
  const now = Date.now();
  const hit = cache.get(deps.db);
  if (hit && now - hit.loadedAt < TTL_MS) return hit.snapshot;
  const fresh = load(deps);
  cache.set(deps.db, { loadedAt: now, snapshot: fresh });
  fresh.catch(() => cache.delete(deps.db));
  return fresh;
}

/** The version of the catalog as this process holds it now (page caches key on it). */
export async function catalogVersion(deps: Deps): Promise<number> {
  return (await snapshot(deps)).version;
}

/** Copies of the products with each card SKU's stock as of now (stock-board.ts). */
async function withLiveStock(deps: Deps, products: ProductView[]): Promise<ProductView[]> {
  const { stock } = await stockBoard(deps);
  return products.map((p) => {
    if (p.type !== 'card') return p;
    const skus = p.skus.map((s) => {
      const n = stock.get(s.id) ?? 0;
      return { ...s, stock: n, inStock: n > 0 };
    });
    return { ...p, skus, inStock: skus.some((s) => s.inStock) };
  });
}

/** Enabled products (with enabled SKUs), in category order, stock as of now. */
export async function listProducts(deps: Deps, filter: { categoryId?: number } = {}): Promise<ProductView[]> {
  const snap = await snapshot(deps);
  const products = filter.categoryId ? (snap.categoryByKey.get(String(filter.categoryId))?.products ?? []) : snap.categories.flatMap((c) => c.products);
  return withLiveStock(deps, products);
}

/** The storefront: enabled categories that have something to sell, each with its products. */
export async function listStorefront(deps: Deps): Promise<CategoryView[]> {
  const snap = await snapshot(deps);
  const live = new Map((await withLiveStock(deps, snap.products)).map((p) => [p.id, p]));
  return snap.categories
    .filter((c) => c.products.length)
    .map((c) => ({ ...c, products: c.products.map((p) => live.get(p.id)!) }));
}

export async function getCategory(deps: Deps, slugOrId: string): Promise<CategoryView> {
  const category = (await snapshot(deps)).categoryByKey.get(slugOrId);
  if (!category) throw errors.notFound();
  return { ...category, products: await withLiveStock(deps, category.products) };
}

/** One enabled product by id or slug, with its enabled SKUs. */
export async function getProduct(deps: Deps, idOrSlug: string | number): Promise<ProductView> {
  const product = (await snapshot(deps)).productByKey.get(String(idOrSlug));
  if (!product) throw errors.notFound();
  return (await withLiveStock(deps, [product]))[0]!;
}

/**
 * An enabled SKU by code or id, with its product, for validating a purchase. Its stock may be a
 * second old: the checkout transaction decides.
 */
export async function findSku(deps: Deps, codeOrId: string | number): Promise<{ product: ProductView; sku: SkuView }> {
  const found = (await snapshot(deps)).skuByKey.get(String(codeOrId));
  if (!found) throw errors.notFound('error.sku_not_found');
  return found;
}
