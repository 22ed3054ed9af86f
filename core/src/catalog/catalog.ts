import type { Knex } from 'knex';
import { z } from 'zod';
import { audit } from '../audit/audit.js';
import type { Deps } from '../context.js';
import { isUniqueViolation, transaction } from '../db/dialect.js';
import { errors } from '../errors.js';
import { inputFieldsSchema, type InputField } from './fields.js';
import { invalidateCatalog } from './snapshot.js';
import { flashOf, tiersOf } from '../pricing/pricing.js';
import { limitOf, type BuyerLimit } from '../orders/limits.js';

export const PRODUCT_TYPES = ['card', 'direct', 'manual'] as const;
/**
 * What the catalog sells: the core's types, `topup` (the hidden product wallet top-ups are orders
 * of), and types plugins add (delivery/product-type.ts).
 */
export type ProductType = (typeof PRODUCT_TYPES)[number] | 'topup' | (string & {});

/**
 * Who sees a product or SKU: `listed` everywhere; `link` only by its address (its page, its
 * checkout, the API by its code), never in a list or a search; `hidden` nowhere (404).
 */
export const VISIBILITY = ['listed', 'link', 'hidden'] as const;
export type Visibility = (typeof VISIBILITY)[number];
const visibility = z.enum(VISIBILITY, { error: 'field.invalid' });

const slug = z.string({ error: 'field.required' }).regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'field.slug');
// http(s) only: a `javascript:` or `data:` address is no picture of a product.
const imageUrl = z.url({ protocol: /^https?$/, error: 'field.url' }).max(500, 'field.too_long').optional();
const sort = z.number({ error: 'field.integer' }).int('field.integer').min(-1e6, 'field.min').max(1e6, 'field.max').default(0);

export const categoryInput = z.object({
  slug,
  name: z.string({ error: 'field.required' }).min(1, 'field.required').max(120, 'field.too_long'),
  description: z.string().max(5000, 'field.too_long').optional(),
  imageUrl,
  sort,
  enabled: z.boolean().default(true),
});

export const productInput = z.object({
  categoryId: z.number({ error: 'field.required' }).int('field.invalid').positive('field.required'),
  slug,
  name: z.string({ error: 'field.required' }).min(1, 'field.required').max(200, 'field.too_long'),
  description: z.string().max(20000, 'field.too_long').optional(),
  imageUrl,
  // card, direct, manual, or a type a plugin registers (orders of an unknown type wait in the dead letter).
  type: z.string({ error: 'field.required' }).regex(/^[a-z][a-z0-9-]{1,15}$/, 'field.invalid'),
  fields: inputFieldsSchema.default([]),
  sort,
  enabled: z.boolean().default(true),
  /** Left out of an update, it stays as it was (`setVisibility` changes it alone). */
  visibility: visibility.optional(),
});

export const skuInput = z.object({
  productId: z.number({ error: 'field.required' }).int('field.invalid').positive('field.required'),
  code: z.string({ error: 'field.required' }).regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'field.sku_code'),
  name: z.string({ error: 'field.required' }).min(1, 'field.required').max(120, 'field.too_long'),
  price: z.number({ error: 'field.invalid' }).int('field.invalid').min(0, 'field.min').max(1e12, 'field.max'),
  minQuantity: z.number({ error: 'field.integer' }).int('field.integer').min(1, 'field.min').max(1e6, 'field.max').default(1),
  maxQuantity: z.number({ error: 'field.integer' }).int('field.integer').min(1, 'field.min').max(1e6, 'field.max').optional(),
  sort,
  enabled: z.boolean().default(true),
  /** A payment that finds no keys left: `refund` (to the wallet, or owed to a guest; the default) or `backorder`. */
  oversell: z.enum(['refund', 'backorder'], { error: 'field.invalid' }).optional(),
  visibility: visibility.optional(),
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
  /** `listed`, or `link` (shown only where its code was asked for). Hidden SKUs are never in a view. */
  visibility: Exclude<Visibility, 'hidden'>;
  /** A card SKU whose key every buyer gets a copy of (循环卡密); its stock is a count the operator sets. */
  shared: boolean;
  /** A SKU whose buyers may pick their keys (卡密预选): what each key picked adds to the price; null where they may not. */
  pick: { surcharge: number } | null;
  /** The units one buyer may have (限购), per day or ever; null: no limit. */
  buyerLimit: BuyerLimit | null;
  /** At the buyer's prices (pricing.ts `priceProducts`): the wholesale brackets, deepest last (批发价). */
  tiers?: Array<{ minQuantity: number; percentOff: number; price: number }>;
  /** At the buyer's prices: a flash sale (限时秒杀) not over yet, with the units left at its price. */
  flash?: { price: number; startsAt: number; endsAt: number; left: number; perBuyer: number | null } | null;
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
  /** `listed`, or `link`: reachable only by its address. */
  visibility: Exclude<Visibility, 'hidden'>;
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
    visibility: p.visibility ?? 'listed',
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
    oversell: s.oversell ?? 'refund',
    visibility: s.visibility ?? 'listed',
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

/*
 * The operator's changes to the catalog (the console, /api/admin). Each runs in one transaction
 * with its audit row, and the snapshot is reloaded after the commit.
 */

type Actor = { id: number; ip?: string };

/** The hidden category of the wallet top-up product, which the console does not list. */
const SYSTEM_CATEGORY = '_system';

/** A unique column (slug, code) that is taken reads as that field's error, not a 500. */
async function uniqueAs<T>(field: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (isUniqueViolation(err)) throw errors.validation({ [field]: 'field.taken' });
    throw err;
  }
}

async function rowOf(trx: Knex, table: string, id: number): Promise<Record<string, unknown>> {
  const row = await trx(table).where('id', id).first();
  if (!row) throw errors.notFound();
  return row;
}

async function afterCommit<T>(deps: Deps, work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  const result = await transaction(deps.db, work);
  invalidateCatalog(deps);
  return result;
}

/** Adds a category (id null) or changes one. Returns its id. */
export function saveCategory(deps: Deps, id: number | null, input: z.input<typeof categoryInput>, actor: Actor): Promise<number> {
  const c = categoryInput.parse(input);
  return uniqueAs('slug', () =>
    afterCommit(deps, async (trx) => {
      let before: unknown = null;
      if (id === null) id = await createCategory(deps, c, trx);
      else {
        before = await rowOf(trx, 'categories', id);
        await trx('categories')
          .where('id', id)
          .update({ slug: c.slug, name: c.name, description: c.description ?? null, image_url: c.imageUrl ?? null, sort: c.sort, enabled: c.enabled });
      }
      await audit(deps, trx, { actorId: actor.id, action: before ? 'category.update' : 'category.create', targetType: 'category', targetId: id, before, after: c, ip: actor.ip });
      return id;
    }),
  );
}

/** Adds a product (id null) or changes one. Its type is chosen once: keys and orders depend on it. */
export function saveProduct(deps: Deps, id: number | null, input: z.input<typeof productInput>, actor: Actor): Promise<number> {
  const p = productInput.parse(input);
  return uniqueAs('slug', () =>
    afterCommit(deps, async (trx) => {
      if (!(await trx('categories').where('id', p.categoryId).first('id'))) throw errors.validation({ categoryId: 'field.invalid' });
      let before: Record<string, unknown> | null = null;
      if (id === null) id = await createProduct(deps, p, trx);
      else {
        before = await rowOf(trx, 'products', id);
        if (before.type !== p.type) throw errors.validation({ type: 'field.type_fixed' });
        await trx('products')
          .where('id', id)
          .update({
            category_id: p.categoryId,
            slug: p.slug,
            name: p.name,
            description: p.description ?? null,
            image_url: p.imageUrl ?? null,
            fields: JSON.stringify(p.fields),
            sort: p.sort,
            enabled: p.enabled,
            ...(p.visibility ? { visibility: p.visibility } : {}),
            updated_at: deps.now(),
          });
      }
      await audit(deps, trx, { actorId: actor.id, action: before ? 'product.update' : 'product.create', targetType: 'product', targetId: id, before, after: p, ip: actor.ip });
      return id;
    }),
  );
}

export const skuUpdate = skuInput.omit({ productId: true, code: true });

function checkQuantities(s: { minQuantity: number; maxQuantity?: number }): void {
  if (s.maxQuantity !== undefined && s.maxQuantity < s.minQuantity) throw errors.validation({ maxQuantity: 'field.below_min' });
}

/** Adds a SKU to a product. Its code is fixed from then on: suppliers, the API and imports use it. */
export function addSku(deps: Deps, input: z.input<typeof skuInput>, actor: Actor): Promise<number> {
  const s = skuInput.parse(input);
  checkQuantities(s);
  return uniqueAs('code', () =>
    afterCommit(deps, async (trx) => {
      await rowOf(trx, 'products', s.productId);
      const id = await createSku(deps, s, trx);
      await audit(deps, trx, { actorId: actor.id, action: 'sku.create', targetType: 'sku', targetId: s.code, after: s, ip: actor.ip });
      return id;
    }),
  );
}

/** Changes a SKU's name, price, quantity limits, order and whether it is on sale. */
export function updateSku(deps: Deps, id: number, input: z.input<typeof skuUpdate>, actor: Actor): Promise<void> {
  const s = skuUpdate.parse(input);
  checkQuantities(s);
  return afterCommit(deps, async (trx) => {
    const before = await rowOf(trx, 'skus', id);
    await trx('skus')
      .where('id', id)
      .update({
        name: s.name,
        price: s.price,
        min_quantity: s.minQuantity,
        max_quantity: s.maxQuantity ?? null,
        sort: s.sort,
        enabled: s.enabled,
        // Left out of a form that does not show it, it stays as it was.
        ...(s.oversell ? { oversell: s.oversell } : {}),
        ...(s.visibility ? { visibility: s.visibility } : {}),
        updated_at: deps.now(),
      });
    await audit(deps, trx, {
      actorId: actor.id,
      action: 'sku.update',
      targetType: 'sku',
      targetId: String(before.code),
      before: { name: before.name, price: Number(before.price), minQuantity: before.min_quantity, maxQuantity: before.max_quantity, sort: before.sort, enabled: Boolean(before.enabled), oversell: before.oversell },
      after: s,
      ip: actor.ip,
    });
  });
}

const TABLES = { category: 'categories', product: 'products', sku: 'skus' } as const;
export type CatalogKind = keyof typeof TABLES;

/** Puts a category, product or SKU on sale or takes it off. */
export function setCatalogEnabled(deps: Deps, kind: CatalogKind, id: number, enabled: boolean, actor: Actor): Promise<void> {
  return afterCommit(deps, async (trx) => {
    const before = await rowOf(trx, TABLES[kind], id);
    if (Boolean(before.enabled) === enabled) return;
    await trx(TABLES[kind]).where('id', id).update({ enabled });
    const target = kind === 'sku' ? String(before.code) : id;
    await audit(deps, trx, { actorId: actor.id, action: `${kind}.${enabled ? 'enable' : 'disable'}`, targetType: kind, targetId: target, before: { enabled: !enabled }, after: { enabled }, ip: actor.ip });
  });
}

/** Lists a product or SKU, makes it reachable only by its link, or hides it from everyone. */
export function setVisibility(deps: Deps, kind: 'product' | 'sku', id: number, input: unknown, actor: Actor): Promise<void> {
  const parsed = visibility.safeParse(input);
  if (!parsed.success) throw errors.validation({ visibility: 'field.invalid' });
  return afterCommit(deps, async (trx) => {
    const before = await rowOf(trx, TABLES[kind], id);
    if (before.visibility === parsed.data) return;
    await trx(TABLES[kind]).where('id', id).update({ visibility: parsed.data });
    const target = kind === 'sku' ? String(before.code) : id;
    await audit(deps, trx, { actorId: actor.id, action: `${kind}.visibility`, targetType: kind, targetId: target, before: { visibility: before.visibility }, after: { visibility: parsed.data }, ip: actor.ip });
  });
}

/** A percentage change in basis points: -99.99 % (not free) to +1000 %. */
export const percentChange = z.number({ error: 'field.invalid' }).int('field.invalid').min(-9999, 'field.min').max(100_000, 'field.max').refine((n) => n !== 0, 'field.invalid');

const BULK_MAX = 5000;
const CHUNK = 500;

/**
 * Changes the retail price of many SKUs by a percentage, rounded to the nearest minor unit (half
 * up), in one transaction with an audit row per SKU. The database computes each new price from
 * the price it holds, in integers: no read-then-write, no float.
 */
export async function bulkPrice(deps: Deps, input: { skuIds: number[]; percentBp: number }, actor: Actor): Promise<Array<{ code: string; before: number; after: number }>> {
  const ids = [...new Set(input.skuIds)].filter((id) => Number.isInteger(id) && id > 0);
  if (!ids.length) throw errors.validation({ skus: 'field.required' });
  if (ids.length > BULK_MAX) throw errors.validation({ skus: 'field.too_long' });
  const checked = percentChange.safeParse(input.percentBp);
  if (!checked.success) throw errors.validation({ percent: checked.error.issues[0]!.message });
  const factor = 10_000 + checked.data;
  // An integer literal keeps the arithmetic in integers on SQLite (a bound number may arrive as a float).
  const newPrice = deps.db.dialect === 'mysql' ? `(price * ${factor} + 5000) DIV 10000` : `(price * ${factor} + 5000) / 10000`;
  return afterCommit(deps, async (trx) => {
    const read = async () => {
      const rows: Array<{ id: number; code: string; price: number | string }> = [];
      for (let i = 0; i < ids.length; i += CHUNK) {
        const q = trx('skus').whereIn('id', ids.slice(i, i + CHUNK)).select('id', 'code', 'price');
        rows.push(...(await (deps.db.dialect === 'mysql' ? q.forUpdate() : q)));
      }
      return new Map(rows.map((r) => [Number(r.id), { code: String(r.code), price: Number(r.price) }]));
    };
    const before = await read();
    if (before.size !== ids.length) throw errors.notFound('error.sku_not_found');
    const now = deps.now();
    for (let i = 0; i < ids.length; i += CHUNK) {
      await trx('skus').whereIn('id', ids.slice(i, i + CHUNK)).update({ price: trx.raw(newPrice), updated_at: now });
    }
    const after = await read();
    const changes = ids.map((id) => ({ code: before.get(id)!.code, before: before.get(id)!.price, after: after.get(id)!.price }));
    for (const c of changes) {
      await audit(deps, trx, { actorId: actor.id, action: 'sku.price', targetType: 'sku', targetId: c.code, before: { price: c.before }, after: { price: c.after, percentBp: checked.data }, ip: actor.ip });
    }
    return changes;
  });
}

/** The console's view of the catalog: everything, enabled or not, without the hidden top-up product. */
export async function catalogTree(deps: Deps) {
  const knex = deps.db.read;
  const [categories, products] = await Promise.all([
    knex('categories').whereNot('slug', SYSTEM_CATEGORY).orderBy([{ column: 'sort' }, { column: 'id' }]).select('id', 'slug', 'name', 'description', 'image_url', 'enabled', 'sort'),
    knex('products')
      .whereNot('type', 'topup')
      .leftJoin('skus', 'skus.product_id', 'products.id')
      .groupBy('products.id', 'products.category_id', 'products.slug', 'products.name', 'products.type', 'products.enabled', 'products.visibility', 'products.sort')
      .orderBy([{ column: 'products.sort' }, { column: 'products.id' }])
      .select('products.id', 'products.category_id', 'products.slug', 'products.name', 'products.type', 'products.enabled', 'products.visibility', 'products.sort')
      .count({ skus: 'skus.id' }),
  ]);
  return categories.map((c: Record<string, any>) => ({
    id: Number(c.id),
    slug: String(c.slug),
    name: String(c.name),
    description: (c.description ?? undefined) as string | undefined,
    imageUrl: (c.image_url ?? undefined) as string | undefined,
    sort: Number(c.sort),
    enabled: Boolean(c.enabled),
    products: products
      .filter((p: Record<string, any>) => Number(p.category_id) === Number(c.id))
      .map((p: Record<string, any>) => ({ id: Number(p.id), slug: String(p.slug), name: String(p.name), type: String(p.type), enabled: Boolean(p.enabled), visibility: p.visibility as Visibility, skus: Number(p.skus) })),
  }));
}

/** One product as the console edits it, with all its SKUs (on sale or not). */
export async function productForAdmin(deps: Deps, id: number) {
  const knex = deps.db.read;
  const product = await knex('products').where('id', id).whereNot('type', 'topup').first();
  if (!product) throw errors.notFound();
  const skus = await knex('skus').where('product_id', id).orderBy([{ column: 'sort' }, { column: 'id' }]);
  return {
    id: Number(product.id),
    categoryId: Number(product.category_id),
    slug: String(product.slug),
    name: String(product.name),
    description: (product.description ?? '') as string,
    imageUrl: (product.image_url ?? null) as string | null,
    type: String(product.type) as ProductType,
    fields: product.fields ? (JSON.parse(product.fields) as InputField[]) : [],
    sort: Number(product.sort),
    enabled: Boolean(product.enabled),
    visibility: product.visibility as Visibility,
    skus: skus.map((s: Record<string, any>) => ({
      id: Number(s.id),
      code: String(s.code),
      name: String(s.name),
      price: Number(s.price),
      stock: Number(s.stock),
      sold: Number(s.sold),
      minQuantity: Number(s.min_quantity),
      maxQuantity: s.max_quantity === null ? null : Number(s.max_quantity),
      sort: Number(s.sort),
      enabled: Boolean(s.enabled),
      visibility: s.visibility as Visibility,
      tiers: tiersOf(s.wholesale_tiers),
      buyerLimit: limitOf(s),
      flash: flashOf(s),
    })),
  };
}

/** The SKUs of some products, for a price change of whole products. */
export async function skuIdsOfProducts(deps: Deps, productIds: number[]): Promise<number[]> {
  const ids = productIds.filter((id) => Number.isSafeInteger(id) && id > 0).slice(0, BULK_MAX);
  if (!ids.length) return [];
  const rows = await deps.db.read('skus').whereIn('product_id', ids).select('id');
  return rows.map((r: { id: number }) => Number(r.id));
}

export async function skuCodeOf(deps: Deps, id: number): Promise<string> {
  const row = await deps.db.read('skus').where('id', id).first('code');
  if (!row) throw errors.notFound('error.sku_not_found');
  return String(row.code);
}
