import type { Deps } from '../context.js';
import type { Database } from '../db/connect.js';
import { errors } from '../errors.js';
import { invalidatePricing } from '../pricing/pricing.js';
import type { CategoryView, ProductType, ProductView, SkuView } from './catalog.js';
import { stockBoard } from './stock-board.js';
import { pickRuleOf } from '../inventory/picks.js';
import { limitOf } from '../orders/limits.js';
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
  /** Enabled categories, each with its listed products (as `shown`). */
  categories: CategoryView[];
  /** The listed products with something listed to sell, in category order: what lists and search show. */
  products: ProductView[];
  /** By id and by slug: every product on sale, listed or by link only. */
  productByKey: Map<string, Entry>;
  categoryByKey: Map<string, CategoryView>;
  /** By SKU id and by SKU code: every SKU on sale, with its product as seen through it. */
  skuByKey: Map<string, { product: ProductView; sku: SkuView }>;
  /** Per listed product, its searchable text (catalog/search.ts). */
  searchable: Array<{ product: ProductView; name: string; skus: string; description: string }>;
}

/** A product with all its SKUs on sale (`all`), and as lists show it: its listed SKUs only. */
interface Entry {
  all: ProductView;
  shown: ProductView | undefined;
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
  visibility: SkuView['visibility'];
  key_mode: string;
  pick_shown: string | null;
  pick_chars: number;
  pick_surcharge: number | string;
  buyer_limit: number | null;
  buyer_limit_per: string | null;
}

/** A SKU as the snapshot keeps it: a card's stock is filled in from the stock board where shown. */
function skuView(row: SkuRow, type: ProductType): SkuView {
  const counted = type === 'card';
  const pick = counted ? pickRuleOf(row) : null;
  return {
    id: row.id,
    code: row.code,
    name: row.name,
    price: Number(row.price),
    stock: counted ? 0 : null,
    inStock: !counted,
    minQuantity: row.min_quantity,
    maxQuantity: row.max_quantity,
    visibility: row.visibility,
    shared: row.key_mode === 'shared',
    pick: pick && { surcharge: pick.surcharge },
    buyerLimit: limitOf(row),
  };
}

/** The product with only these of its SKUs (its price and stock summary follow them). */
function withSkus(product: ProductView, skus: SkuView[]): ProductView {
  return { ...product, skus, priceFrom: Math.min(...skus.map((s) => s.price)), inStock: skus.some((s) => s.inStock) };
}

/** The product as a page shows it: its listed SKUs, and the link-only one asked for by code. */
function seenThrough(entry: Entry, code: string | undefined): ProductView | undefined {
  const asked = code === undefined ? undefined : entry.all.skus.find((s) => s.code === code && s.visibility === 'link');
  if (!asked) return entry.shown;
  return withSkus(entry.all, entry.all.skus.filter((s) => s.visibility === 'listed' || s === asked));
}

/** Text for search: NFKC folds full-width letters and digits (ＳＴＥＡＭ１００ → steam100), then lower case. */
export const searchText = (s: string) => s.normalize('NFKC').toLowerCase();

async function load(deps: Deps): Promise<Snapshot> {
  const knex = deps.db.read;
  const [categoryRows, productRows, skuRows] = await Promise.all([
    knex('categories').where('enabled', true).orderBy([{ column: 'sort' }, { column: 'id' }]),
    knex('products')
      .select('products.*')
      .join('categories', 'categories.id', 'products.category_id')
      .where('products.enabled', true)
      .andWhere('categories.enabled', true)
      .andWhereNot('products.visibility', 'hidden')
      .orderBy([{ column: 'products.sort' }, { column: 'products.id' }]),
    knex('skus')
      .where('enabled', true)
      .andWhereNot('visibility', 'hidden')
      .orderBy([{ column: 'sort' }, { column: 'id' }])
      .select('id', 'product_id', 'code', 'name', 'price', 'min_quantity', 'max_quantity', 'visibility', 'key_mode', 'pick_shown', 'pick_chars', 'pick_surcharge', 'buyer_limit', 'buyer_limit_per') as Promise<SkuRow[]>,
  ]);
  const rows = JSON.stringify([categoryRows, productRows, skuRows]);
  const before = last.get(deps.db);
  if (before?.rows === rows) return before.snapshot;
  const skusOf = groupBy(skuRows, (s) => s.product_id);
  const entries: Entry[] = [];
  for (const p of productRows) {
    const skus = (skusOf.get(p.id) ?? []).map((s) => skuView(s, p.type));
    if (!skus.length) continue; // nothing to sell
    const all = withSkus(
      {
        id: p.id,
        categoryId: p.category_id,
        slug: p.slug,
        name: p.name,
        description: p.description ?? '',
        imageUrl: p.image_url,
        type: p.type,
        fields: p.fields ? (JSON.parse(p.fields) as InputField[]) : [],
        skus,
        priceFrom: 0,
        inStock: false,
        visibility: p.visibility,
      },
      skus,
    );
    const listed = skus.filter((s) => s.visibility === 'listed');
    entries.push({ all, shown: listed.length === skus.length ? all : listed.length ? withSkus(all, listed) : undefined });
  }
  // Lists show listed products with something listed to sell; a link-only one is never in them.
  const products = entries.flatMap((e) => (e.all.visibility === 'listed' && e.shown ? [e.shown] : []));
  const productsOf = groupBy(products, (p) => p.categoryId);
  const categories: CategoryView[] = categoryRows.map((c: Record<string, any>) => ({
    id: c.id,
    slug: c.slug,
    name: c.name,
    description: c.description ?? '',
    imageUrl: c.image_url,
    products: productsOf.get(c.id) ?? [],
  }));
  const snapshot: Snapshot = {
    version: (before?.snapshot.version ?? 0) + 1,
    categories,
    products: categories.flatMap((c) => c.products),
    productByKey: new Map(),
    categoryByKey: new Map(),
    skuByKey: new Map(),
    searchable: [],
  };
  for (const c of categories) snapshot.categoryByKey.set(String(c.id), c).set(c.slug, c);
  for (const e of entries) {
    snapshot.productByKey.set(String(e.all.id), e).set(e.all.slug, e);
    for (const sku of e.all.skus) {
      const found = { product: seenThrough(e, sku.code)!, sku };
      snapshot.skuByKey.set(String(sku.id), found).set(sku.code, found);
    }
  }
  snapshot.searchable = snapshot.products.map((p) => ({
    product: p,
    name: searchText(p.name),
    skus: searchText(p.skus.map((s) => `${s.name}\n${s.code}`).join('\n')),
    description: searchText(p.description),
  }));
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
export async function withLiveStock(deps: Deps, products: ProductView[]): Promise<ProductView[]> {
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

/** Listed products (with their listed SKUs), in category order, stock as of now. */
export async function listProducts(deps: Deps, filter: { categoryId?: number } = {}): Promise<ProductView[]> {
  const snap = await snapshot(deps);
  const products = filter.categoryId ? (snap.categoryByKey.get(String(filter.categoryId))?.products ?? []) : snap.products;
  return withLiveStock(deps, products);
}

/** The searchable text of every listed product, for catalog/search.ts. */
export async function searchIndex(deps: Deps): Promise<Snapshot['searchable']> {
  return (await snapshot(deps)).searchable;
}

/** The storefront: enabled categories that have something to sell, each with its products. */
export async function listStorefront(deps: Deps): Promise<CategoryView[]> {
  const snap = await snapshot(deps);
  const live = new Map((await withLiveStock(deps, snap.products)).map((p) => [p.id, p]));
  return snap.categories
    .filter((c) => c.products.length)
    .map((c) => ({ ...c, products: c.products.map((p) => live.get(p.id)!) }));
}

/** An enabled category by id or slug, or undefined (no stock is read). */
export async function findCategory(deps: Deps, slugOrId: string | number): Promise<CategoryView | undefined> {
  return (await snapshot(deps)).categoryByKey.get(String(slugOrId));
}

export async function getCategory(deps: Deps, slugOrId: string): Promise<CategoryView> {
  const category = (await snapshot(deps)).categoryByKey.get(slugOrId);
  if (!category) throw errors.notFound();
  return { ...category, products: await withLiveStock(deps, category.products) };
}

/**
 * A product on sale by id or slug, listed or by link only, with its listed SKUs and the link-only
 * one `sku` names (a product whose every SKU is link-only shows only by a SKU's link).
 */
export async function getProduct(deps: Deps, idOrSlug: string | number, opts: { sku?: string } = {}): Promise<ProductView> {
  const entry = (await snapshot(deps)).productByKey.get(String(idOrSlug));
  const product = entry && seenThrough(entry, opts.sku);
  if (!product) throw errors.notFound();
  return (await withLiveStock(deps, [product]))[0]!;
}

/**
 * A SKU on sale by code or id (listed or by link only), with its product as its page shows it, for
 * validating a purchase. Its stock may be a
 * second old: the checkout transaction decides.
 */
export async function findSku(deps: Deps, codeOrId: string | number): Promise<{ product: ProductView; sku: SkuView }> {
  const found = (await snapshot(deps)).skuByKey.get(String(codeOrId));
  if (!found) throw errors.notFound('error.sku_not_found');
  return found;
}
