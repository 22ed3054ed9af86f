import type { Deps } from '../context.js';
import type { Database } from '../db/connect.js';
import { errors } from '../errors.js';
import { invalidatePricing } from '../pricing/pricing.js';
import type { CategoryView, ProductType, ProductView, SkuView } from './catalog.js';
import type { InputField } from './fields.js';

/**
 * The storefront reads the catalog from an in-memory snapshot, reloaded (three queries) at most
 * once a second or as soon as this process changes the catalog. Another process's change shows
 * within a second. Stock is not taken from the snapshot: pages overlay the live counters
 * (`withLiveStock`), and checkout re-reads price and stock inside its transaction.
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

interface Snapshot {
  categories: CategoryView[];
  products: ProductView[];
  /** By id and by slug. */
  productByKey: Map<string, ProductView>;
  categoryByKey: Map<string, CategoryView>;
  /** By SKU id and by SKU code. */
  skuByKey: Map<string, { product: ProductView; sku: SkuView }>;
}

const cache = new WeakMap<Database, { loadedAt: number; snapshot: Promise<Snapshot> }>();

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
  stock: number;
  min_quantity: number;
  max_quantity: number | null;
}

function skuView(row: SkuRow, type: ProductType): SkuView {
  const counted = type === 'card';
  return {
    id: row.id,
    code: row.code,
    name: row.name,
    price: Number(row.price),
    stock: counted ? row.stock : null,
    inStock: counted ? row.stock > 0 : true,
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
    knex('skus').where('enabled', true).orderBy([{ column: 'sort' }, { column: 'id' }]) as Promise<SkuRow[]>,
  ]);
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
  const snapshot: Snapshot = { categories, products, productByKey: new Map(), categoryByKey: new Map(), skuByKey: new Map() };
  for (const c of categories) snapshot.categoryByKey.set(String(c.id), c).set(c.slug, c);
  for (const p of products) {
    snapshot.productByKey.set(String(p.id), p).set(p.slug, p);
    for (const sku of p.skus) snapshot.skuByKey.set(String(sku.id), { product: p, sku }).set(sku.code, { product: p, sku });
  }
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

/** Copies of the products with each card SKU's stock read now (one query). */
async function withLiveStock(deps: Deps, products: ProductView[]): Promise<ProductView[]> {
  const ids = products.filter((p) => p.type === 'card').flatMap((p) => p.skus.map((s) => s.id));
  const stock = new Map<number, number>();
  for (let i = 0; i < ids.length; i += 900) {
    const rows = await deps.db.read('skus').whereIn('id', ids.slice(i, i + 900)).select('id', 'stock');
    for (const r of rows as Array<{ id: number; stock: number }>) stock.set(r.id, Number(r.stock));
  }
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
