import { z } from 'zod';
import { audit } from '../audit/audit.js';
import type { Deps } from '../context.js';
import { affected, transaction } from '../db/dialect.js';
import { invalidateCatalog } from '../catalog/snapshot.js';
import { errors, fromZod } from '../errors.js';
import { decrypt } from '../security/keys.js';
import { deserializeKey, type CardKey } from './parse.js';
import { PICK_SHOWN, pickRuleOf } from './picks.js';
import { pageNumber } from '../db/paging.js';

/**
 * The operator's view of card stock: SKUs with their counters and low-stock settings, each SKU's
 * keys (masked; revealing one is audited), and voiding keys that must not be sold.
 */

type Actor = { id: number; ip?: string };

export const KEY_STATUSES = ['available', 'reserved', 'sold', 'void'] as const;
export type KeyStatus = (typeof KEY_STATUSES)[number];

/** Enough of a key to tell it from its neighbours, never enough to use it. */
export function maskKey(text: string): string {
  const shown = text.length >= 12 ? 4 : text.length >= 6 ? 2 : 0;
  return `${'•'.repeat(6)}${text.slice(text.length - shown)}`;
}

async function cardSkuByCode(deps: Deps, code: string): Promise<Record<string, any>> {
  const row = await deps.db
    .read('skus')
    .join('products', 'products.id', 'skus.product_id')
    .where('skus.code', code)
    .first('skus.id', 'skus.code', 'skus.name', 'skus.stock', 'skus.sold', 'skus.low_stock', 'skus.restock_target', 'skus.dedupe', 'skus.key_mode', 'skus.pick_shown', 'skus.pick_chars', 'skus.pick_surcharge', 'products.name as product', 'products.type');
  if (!row || row.type !== 'card') throw errors.notFound('error.sku_not_found');
  return row;
}

/** A SKU that sells card keys, by code; 404 for any other. */
export async function requireCardSku(deps: Deps, code: string): Promise<{ id: number; code: string; stock: number }> {
  const row = await cardSkuByCode(deps, code);
  return { id: Number(row.id), code: String(row.code), stock: Number(row.stock) };
}

const toLevels = (r: Record<string, any>) => {
  const stock = Number(r.stock);
  const lowStock = r.low_stock === null ? null : Number(r.low_stock);
  const restockTarget = r.restock_target === null ? null : Number(r.restock_target);
  return {
    stock,
    lowStock,
    restockTarget,
    /** At or under its threshold. */
    low: lowStock !== null && stock <= lowStock,
    /** Keys to add to reach the restock target. */
    toRestock: restockTarget !== null && stock < restockTarget ? restockTarget - stock : 0,
  };
};

const PAGE = 50;

/**
 * Card SKUs with their stock, low ones first, a page at a time. `q` matches a SKU code or name
 * (a prefix of the code, or any part of the name).
 */
export async function stockList(deps: Deps, opts: { page?: number; q?: string; lowOnly?: boolean } = {}) {
  const page = pageNumber(opts.page);
  const lowFirst = 'CASE WHEN skus.low_stock IS NOT NULL AND skus.stock <= skus.low_stock THEN 0 ELSE 1 END';
  const scope = () => {
    const q = deps.db.read('skus').join('products', 'products.id', 'skus.product_id').where('products.type', 'card');
    const text = opts.q?.trim();
    if (text) {
      const like = text.replace(/[%_\\]/g, (c) => `\\${c}`);
      q.where((w) => w.where('skus.code', 'like', `${like}%`).orWhere('skus.name', 'like', `%${like}%`).orWhere('products.name', 'like', `%${like}%`));
    }
    if (opts.lowOnly) q.whereNotNull('skus.low_stock').andWhereRaw('skus.stock <= skus.low_stock');
    return q;
  };
  const [rows, count] = await Promise.all([
    scope()
      .orderByRaw(`${lowFirst}, skus.stock, skus.id`)
      .limit(PAGE)
      .offset((page - 1) * PAGE)
      .select('skus.id', 'skus.code', 'skus.name', 'skus.stock', 'skus.sold', 'skus.enabled', 'skus.low_stock', 'skus.restock_target', 'products.name as product'),
    scope().count({ n: '*' }).first(),
  ]);
  const total = Number(count?.n ?? 0);
  return {
    page,
    pages: Math.max(1, Math.ceil(total / PAGE)),
    total,
    skus: rows.map((r: Record<string, any>) => ({
      id: Number(r.id),
      code: String(r.code),
      name: String(r.name),
      product: String(r.product),
      sold: Number(r.sold),
      enabled: Boolean(r.enabled),
      ...toLevels(r),
    })),
  };
}

/** One card SKU's figures and a page of its keys (of one status, or all), masked, newest first. */
export async function skuKeys(deps: Deps, code: string, opts: { status?: KeyStatus; beforeId?: number; limit?: number } = {}) {
  const sku = await cardSkuByCode(deps, code);
  const limit = Math.min(opts.limit ?? PAGE, 200);
  const q = deps.db.read('card_keys').where('sku_id', sku.id).orderBy('id', 'desc').limit(limit).select('id', 'secret', 'status', 'order_id', 'created_at', 'sold_at');
  if (opts.status) q.andWhere('status', opts.status);
  if (opts.beforeId) q.andWhere('id', '<', opts.beforeId);
  // Available and sold are the SKU's counters; only the few reserved and void keys are counted.
  const [rows, counts] = await Promise.all([
    q,
    deps.db.read('card_keys').where('sku_id', sku.id).whereIn('status', ['reserved', 'void']).groupBy('status').select('status').count({ n: '*' }),
  ]);
  return {
    sku: { id: Number(sku.id), code: String(sku.code), name: String(sku.name), product: String(sku.product), sold: Number(sku.sold), ...toLevels(sku), ...keyOptionsOf(sku) },
    counts: Object.fromEntries(counts.map((c: Record<string, any>) => [String(c.status), Number(c.n)])) as Partial<Record<KeyStatus, number>>,
    keys: rows.map((r: Record<string, any>) => {
      const key = deserializeKey(decrypt(deps.keys.encryption, r.secret));
      return {
        id: Number(r.id),
        card: maskKey(key.card),
        password: key.password === undefined ? null : maskKey(key.password),
        status: String(r.status) as KeyStatus,
        orderId: r.order_id === null ? null : Number(r.order_id),
        createdAt: Number(r.created_at),
        soldAt: r.sold_at === null ? null : Number(r.sold_at),
      };
    }),
    older: rows.length === limit ? Number(rows.at(-1).id) : null,
  };
}

/** A key of a SKU in full, for an admin. The audit row is written in the transaction that reads it. */
export async function revealKey(deps: Deps, input: { sku: string; keyId: number }, actor: Actor): Promise<CardKey> {
  return transaction(deps.db, async (trx) => {
    const row = await trx('card_keys')
      .join('skus', 'skus.id', 'card_keys.sku_id')
      .where({ 'card_keys.id': input.keyId, 'skus.code': input.sku })
      .first('card_keys.secret', 'card_keys.status', 'card_keys.order_id');
    if (!row) throw errors.notFound();
    await audit(deps, trx, { actorId: actor.id, action: 'key.reveal', targetType: 'key', targetId: input.keyId, after: { sku: input.sku, status: row.status, order: row.order_id }, ip: actor.ip });
    return deserializeKey(decrypt(deps.keys.encryption, row.secret));
  });
}

/**
 * Voids keys that must not be sold (leaked, returned by the supplier). Only available keys move, by
 * a guarded UPDATE; the stock counter falls by the rows the database says it changed, in the same
 * transaction, after the SKU row is written first: the order every stock change takes, so a
 * checkout and a void of the same SKU queue instead of counting one key twice.
 */
export async function voidKeys(deps: Deps, input: { sku: string; keyIds: number[]; reason: string }, actor: Actor): Promise<number> {
  const ids = [...new Set(input.keyIds)].filter((id) => Number.isSafeInteger(id) && id > 0);
  if (!ids.length) throw errors.validation({ keys: 'field.required' });
  if (ids.length > 2000) throw errors.validation({ keys: 'field.too_long' });
  const reason = input.reason.trim();
  if (!reason) throw errors.validation({ reason: 'field.required' });
  const sku = await cardSkuByCode(deps, input.sku);
  return transaction(deps.db, async (trx) => {
    await trx('skus').where('id', sku.id).update({ updated_at: deps.now() });
    const n = affected(await trx('card_keys').whereIn('id', ids).andWhere({ sku_id: sku.id, status: 'available' }).update({ status: 'void' }));
    // A shared SKU's stock is the count its operator sets, not its keys.
    if (n && sku.key_mode !== 'shared') {
      const down = await trx('skus').where('id', sku.id).andWhere('stock', '>=', n).decrement('stock', n);
      if (affected(down) !== 1) throw new Error(`stock counter of sku ${sku.code} is behind its keys`);
    }
    await audit(deps, trx, { actorId: actor.id, action: 'keys.void', targetType: 'sku', targetId: sku.code, after: { voided: n, asked: ids.length, reason: reason.slice(0, 200) }, ip: actor.ip });
    return n;
  });
}

const level = z.union([z.null(), z.number({ error: 'field.integer' }).int('field.integer').min(0, 'field.min').max(10_000_000, 'field.max')]);
export const stockLevelsInput = z.object({ lowStock: level, restockTarget: level }).strict();

/** Sets when a SKU counts as low on stock and how many keys a restock should bring it to. */
export async function setStockLevels(deps: Deps, code: string, input: z.input<typeof stockLevelsInput>, actor: Actor): Promise<void> {
  const levels = stockLevelsInput.parse(input);
  if (levels.lowStock !== null && levels.restockTarget !== null && levels.restockTarget <= levels.lowStock) {
    throw errors.validation({ restockTarget: 'field.target_below_low' });
  }
  const sku = await cardSkuByCode(deps, code);
  await transaction(deps.db, async (trx) => {
    await trx('skus').where('id', sku.id).update({ low_stock: levels.lowStock, restock_target: levels.restockTarget });
    await audit(deps, trx, {
      actorId: actor.id,
      action: 'sku.stock_levels',
      targetType: 'sku',
      targetId: sku.code,
      before: { lowStock: sku.low_stock === null ? null : Number(sku.low_stock), restockTarget: sku.restock_target === null ? null : Number(sku.restock_target) },
      after: levels,
      ip: actor.ip,
    });
  });
}

/** How a SKU takes and sells its keys; a field left out stays as it was. */
export const keyOptionsInput = z
  .object({
    /** Skip keys already in the SKU or repeated in the file when importing (on by default). */
    dedupe: z.boolean({ error: 'field.invalid' }).optional(),
    /** `unique` (each key to one buyer) or `shared` (循环卡密: every buyer gets a copy of the SKU's key). */
    mode: z.enum(['unique', 'shared'], { error: 'field.invalid' }).optional(),
    /** A shared SKU's stock: how many more copies may be sold. */
    stock: z.number({ error: 'field.integer' }).int('field.integer').min(0, 'field.min').max(10_000_000, 'field.max').optional(),
    /** Key pre-selection (卡密预选) of unique keys: what buyers see of each key, what a pick costs; null turns it off. */
    pick: z
      .union([
        z.null(),
        z
          .object({
            shown: z.enum(PICK_SHOWN, { error: 'field.invalid' }),
            chars: z.number({ error: 'field.integer' }).int('field.integer').min(1, 'field.min').max(32, 'field.max').default(4),
            surcharge: z.number({ error: 'field.integer' }).int('field.integer').min(0, 'field.min').max(1e9, 'field.max').default(0),
          })
          .strict(),
      ])
      .optional(),
  })
  .strict();

const keyOptionsOf = (r: Record<string, any>) => ({ dedupe: Boolean(r.dedupe), mode: r.key_mode === 'shared' ? ('shared' as const) : ('unique' as const), pick: pickRuleOf(r) });

/** Changes a card SKU's key options (audited). */
export async function setKeyOptions(deps: Deps, code: string, input: z.input<typeof keyOptionsInput>, actor: Actor): Promise<void> {
  const parsed = keyOptionsInput.safeParse(input);
  if (!parsed.success) throw fromZod(parsed.error);
  const sku = await cardSkuByCode(deps, code);
  const options = parsed.data;
  await transaction(deps.db, async (trx) => {
    // The SKU row first, as every stock change does: checkouts and imports of it queue behind this.
    await trx('skus').where('id', sku.id).update({ updated_at: deps.now(), ...(options.dedupe === undefined ? {} : { dedupe: options.dedupe }) });
    const before = keyOptionsOf(await trx('skus').where('id', sku.id).first('dedupe', 'key_mode', 'pick_shown', 'pick_chars', 'pick_surcharge'));
    const mode = options.mode ?? before.mode;
    if (options.stock !== undefined && mode !== 'shared') throw errors.validation({ stock: 'keys.stock_unique' });
    // A shared key is everybody's: there is nothing to pick.
    if ((options.pick === undefined ? before.pick : options.pick) && mode === 'shared') throw errors.validation({ pick: 'keys.pick_shared' });
    if (options.pick !== undefined) {
      const pick = options.pick;
      await trx('skus').where('id', sku.id).update({ pick_shown: pick?.shown ?? null, pick_chars: pick?.chars ?? 4, pick_surcharge: pick?.surcharge ?? 0 });
    }
    if (mode !== before.mode) {
      // Keys held by unpaid orders or orders under review were taken the old way: settle them first.
      if (await trx('card_keys').where({ sku_id: sku.id, status: 'reserved' }).first('id')) throw errors.validation({ mode: 'keys.mode_reserved' });
      // Unique again: the stock is the keys in stock.
      const available = mode === 'unique' ? await trx('card_keys').where({ sku_id: sku.id, status: 'available' }).count({ n: '*' }).first() : undefined;
      await trx('skus').where('id', sku.id).update({ key_mode: mode, stock: Number(available?.n ?? 0) });
    }
    if (options.stock !== undefined) await trx('skus').where('id', sku.id).update({ stock: options.stock });
    await audit(deps, trx, { actorId: actor.id, action: 'sku.key_options', targetType: 'sku', targetId: sku.code, before, after: options, ip: actor.ip });
  });
  invalidateCatalog(deps);
}
