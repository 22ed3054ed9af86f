import type { Knex } from 'knex';
import { z } from 'zod';
import type { Deps } from '../context.js';
import { inputFieldsSchema, type InputField } from './fields.js';
import { invalidateCatalog } from './snapshot.js';

export const PRODUCT_TYPES = ['card', 'direct', 'manual'] as const;
/**
 * What the catalog sells: the core's types, `topup` (the hidden product wallet top-ups are orders
 * of), and types plugins add (delivery/product-type.ts).
 */
export type ProductType = (typeof PRODUCT_TYPES)[number] | 'topup' | (string & {});

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
  // card, direct, manual, or a type a plugin registers (orders of an unknown type wait in the dead letter).
  type: z.string().regex(/^[a-z][a-z0-9-]{1,15}$/, 'card, direct, manual or a plugin product type'),
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
  invalidateCatalog(deps);
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
  invalidateCatalog(deps);
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
  invalidateCatalog(deps);
  return Number(id);
}

/** The input fields of a SKU's product, even when it is no longer on sale (for old orders). */
export async function fieldsOfSku(deps: Deps, skuId: number): Promise<InputField[]> {
  const row = await deps.db.read('skus').join('products', 'products.id', 'skus.product_id').where('skus.id', skuId).first('products.fields');
  return row?.fields ? (JSON.parse(row.fields) as InputField[]) : [];
}
