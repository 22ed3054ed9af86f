import type { Knex } from 'knex';
import { z } from 'zod';
import type { Deps } from '../context.js';
import { errors } from '../errors.js';
import { inputFieldsSchema, type InputField } from './fields.js';

export const PRODUCT_TYPES = ['card', 'direct', 'manual'] as const;
export type ProductType = (typeof PRODUCT_TYPES)[number];

const slug = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'lowercase letters, digits and dashes');

export const categoryInput = z.object({
  slug,
  name: z.string().min(1).max(120),
  description: z.string().max(5000).optional(),
  imageUrl: z.url().max(500).optional(),
  sort: z.number().int().default(0),
  enabled: z.boolean().default(true),
});

export const productInput = z.object({
  categoryId: z.number().int().positive(),
  slug,
  name: z.string().min(1).max(200),
  description: z.string().max(20000).optional(),
  imageUrl: z.url().max(500).optional(),
  type: z.enum(PRODUCT_TYPES),
  fields: inputFieldsSchema.default([]),
  sort: z.number().int().default(0),
  enabled: z.boolean().default(true),
});

export const skuInput = z.object({
  productId: z.number().int().positive(),
  code: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, dot, dash, underscore'),
  name: z.string().min(1).max(120),
  price: z.number().int().min(0).max(1e12),
  minQuantity: z.number().int().min(1).default(1),
  maxQuantity: z.number().int().min(1).optional(),
  sort: z.number().int().default(0),
  enabled: z.boolean().default(true),
});

export interface SkuView {
  id: number;
  code: string;
  name: string;
  price: number;
  /** Keys in stock for `card` SKUs; null where stock is not counted (top-ups, manual goods). */
  stock: number | null;
  inStock: boolean;
  minQuantity: number;
  maxQuantity: number | null;
}

export interface ProductView {
  id: number;
  categoryId: number;
  slug: string;
  name: string;
  description: string;
  imageUrl: string | null;
  type: ProductType;
  fields: InputField[];
  skus: SkuView[];
  priceFrom: number;
  inStock: boolean;
}

export interface CategoryView {
  id: number;
  slug: string;
  name: string;
  description: string;
  imageUrl: string | null;
  products: ProductView[];
}

export async function createCategory(deps: Deps, input: z.input<typeof categoryInput>, trx: Knex = deps.db.knex) {
  const c = categoryInput.parse(input);
  const [id] = await trx('categories').insert({
    slug: c.slug,
    name: c.name,
    description: c.description ?? null,
    image_url: c.imageUrl ?? null,
    sort: c.sort,
    enabled: c.enabled,
    created_at: deps.now(),
  });
  return Number(id);
}

export async function createProduct(deps: Deps, input: z.input<typeof productInput>, trx: Knex = deps.db.knex) {
  const p = productInput.parse(input);
  const now = deps.now();
  const [id] = await trx('products').insert({
    category_id: p.categoryId,
    slug: p.slug,
    name: p.name,
    description: p.description ?? null,
    image_url: p.imageUrl ?? null,
    type: p.type,
    fields: JSON.stringify(p.fields),
    sort: p.sort,
    enabled: p.enabled,
    created_at: now,
    updated_at: now,
  });
  return Number(id);
}

export async function createSku(deps: Deps, input: z.input<typeof skuInput>, trx: Knex = deps.db.knex) {
  const s = skuInput.parse(input);
  const now = deps.now();
  const [id] = await trx('skus').insert({
    product_id: s.productId,
    code: s.code,
    name: s.name,
    price: s.price,
    min_quantity: s.minQuantity,
    max_quantity: s.maxQuantity ?? null,
    sort: s.sort,
    enabled: s.enabled,
    created_at: now,
    updated_at: now,
  });
  return Number(id);
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

interface ProductRow {
  id: number;
  category_id: number;
  slug: string;
  name: string;
  description: string | null;
  image_url: string | null;
  type: ProductType;
  fields: string | null;
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

function productView(row: ProductRow, skus: SkuRow[]): ProductView {
  const views = skus.map((s) => skuView(s, row.type));
  return {
    id: row.id,
    categoryId: row.category_id,
    slug: row.slug,
    name: row.name,
    description: row.description ?? '',
    imageUrl: row.image_url,
    type: row.type,
    fields: row.fields ? (JSON.parse(row.fields) as InputField[]) : [],
    skus: views,
    priceFrom: views.length ? Math.min(...views.map((s) => s.price)) : 0,
    inStock: views.some((s) => s.inStock),
  };
}

const PRODUCT_COLUMNS = ['id', 'category_id', 'slug', 'name', 'description', 'image_url', 'type', 'fields'];
const SKU_COLUMNS = ['id', 'product_id', 'code', 'name', 'price', 'stock', 'min_quantity', 'max_quantity'];

async function skusOf(knex: Knex, productIds: number[]): Promise<Map<number, SkuRow[]>> {
  const byProduct = new Map<number, SkuRow[]>();
  if (!productIds.length) return byProduct;
  const rows: SkuRow[] = await knex('skus')
    .select(SKU_COLUMNS)
    .whereIn('product_id', productIds)
    .andWhere('enabled', true)
    .orderBy([{ column: 'sort' }, { column: 'id' }]);
  for (const r of rows) {
    const list = byProduct.get(r.product_id) ?? [];
    list.push(r);
    byProduct.set(r.product_id, list);
  }
  return byProduct;
}

/** Enabled products with their enabled SKUs, in three queries whatever the catalog's size. */
export async function listProducts(deps: Deps, filter: { categoryId?: number } = {}): Promise<ProductView[]> {
  const knex = deps.db.knex;
  const q = knex('products')
    .select(PRODUCT_COLUMNS.map((c) => `products.${c}`))
    .join('categories', 'categories.id', 'products.category_id')
    .where('products.enabled', true)
    .andWhere('categories.enabled', true)
    .orderBy([{ column: 'categories.sort' }, { column: 'products.sort' }, { column: 'products.id' }]);
  if (filter.categoryId) q.andWhere('products.category_id', filter.categoryId);
  const products: ProductRow[] = await q;
  const skus = await skusOf(knex, products.map((p) => p.id));
  return products.filter((p) => skus.has(p.id)).map((p) => productView(p, skus.get(p.id)!));
}

/** The storefront: enabled categories, each with its products. */
export async function listStorefront(deps: Deps): Promise<CategoryView[]> {
  const [categories, products] = await Promise.all([
    deps.db.knex('categories').select('*').where('enabled', true).orderBy([{ column: 'sort' }, { column: 'id' }]),
    listProducts(deps),
  ]);
  return categories
    .map((c: { id: number; slug: string; name: string; description: string | null; image_url: string | null }) => ({
      id: c.id,
      slug: c.slug,
      name: c.name,
      description: c.description ?? '',
      imageUrl: c.image_url,
      products: products.filter((p) => p.categoryId === c.id),
    }))
    .filter((c) => c.products.length > 0);
}

export async function getCategory(deps: Deps, slugOrId: string): Promise<CategoryView> {
  const row = await deps.db
    .knex('categories')
    .where('enabled', true)
    .andWhere((q) => (/^\d+$/.test(slugOrId) ? q.where('id', Number(slugOrId)) : q.where('slug', slugOrId)))
    .first();
  if (!row) throw errors.notFound();
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    description: row.description ?? '',
    imageUrl: row.image_url,
    products: await listProducts(deps, { categoryId: row.id }),
  };
}

/** One enabled product by id or slug, with its enabled SKUs. */
export async function getProduct(deps: Deps, idOrSlug: string | number): Promise<ProductView> {
  const knex = deps.db.knex;
  const key = String(idOrSlug);
  const row: ProductRow | undefined = await knex('products')
    .select(PRODUCT_COLUMNS.map((c) => `products.${c}`))
    .join('categories', 'categories.id', 'products.category_id')
    .where('products.enabled', true)
    .andWhere('categories.enabled', true)
    .andWhere((q) => (/^\d+$/.test(key) ? q.where('products.id', Number(key)) : q.where('products.slug', key)))
    .first();
  const skus = row ? (await skusOf(knex, [row.id])).get(row.id) : undefined;
  if (!row || !skus) throw errors.notFound();
  return productView(row, skus);
}

/** Finds an enabled SKU by its code or numeric id, with its product. */
export async function findSku(deps: Deps, codeOrId: string | number): Promise<{ product: ProductView; sku: SkuView }> {
  const key = String(codeOrId);
  const row = await deps.db
    .knex('skus')
    .select('product_id', 'id')
    .where('enabled', true)
    .andWhere((q) => (/^\d+$/.test(key) ? q.where('id', Number(key)) : q.where('code', key)))
    .first();
  if (!row) throw errors.notFound('error.sku_not_found');
  const product = await getProduct(deps, row.product_id).catch(() => {
    throw errors.notFound('error.sku_not_found');
  });
  const sku = product.skus.find((s) => s.id === row.id);
  if (!sku) throw errors.notFound('error.sku_not_found');
  return { product, sku };
}

/** The input fields of a SKU's product, even when it is no longer on sale (for old orders). */
export async function fieldsOfSku(deps: Deps, skuId: number): Promise<InputField[]> {
  const row = await deps.db.knex('skus').join('products', 'products.id', 'skus.product_id').where('skus.id', skuId).first('products.fields');
  return row?.fields ? (JSON.parse(row.fields) as InputField[]) : [];
}
