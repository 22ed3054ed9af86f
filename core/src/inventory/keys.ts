import type { Knex } from 'knex';
import { audit } from '../audit/audit.js';
import type { Deps } from '../context.js';
import { affected, caseById, ConflictRetry, rowsChanged, transaction } from '../db/dialect.js';
import { errors } from '../errors.js';
import { randomBytes } from 'node:crypto';
import { decrypt, encrypt, hmacHex, IV_BYTES } from '../security/keys.js';
import { deserializeKey, lineParser, serializeKey, type CardKey, type KeyFormat } from './parse.js';

export interface ImportProgress {
  lines: number;
  added: number;
  duplicates: number;
  rejected: number;
}

export interface ImportInput {
  /** SKU code or id; the SKU must sell cards. */
  sku: string | number;
  lines: AsyncIterable<string> | Iterable<string>;
  format?: KeyFormat;
  onProgress?: (p: ImportProgress) => void;
  /** Who imports (the console): each batch's audit row is written in the batch's transaction. */
  actor?: { id: number; ip?: string };
}

export interface ImportReport extends ImportProgress {
  sku: string;
  /** The first rejected lines with their reason (all are counted in `rejected`). */
  rejections: Array<{ line: number; reason: string }>;
}

const BATCH = 2000;
// knex writes a multi-row SQLite insert as a compound SELECT, which SQLite caps at 500 terms.
const INSERT_ROWS = 500;
const MAX_REJECTIONS_KEPT = 100;
const CLAIM_CHUNK = 2000;

async function cardSku(deps: Deps, codeOrId: string | number) {
  const key = String(codeOrId);
  const row = await deps.db
    .knex('skus')
    .join('products', 'products.id', 'skus.product_id')
    .where((q) => (/^\d+$/.test(key) ? q.where('skus.id', Number(key)) : q.where('skus.code', key)))
    .first('skus.id', 'skus.code', 'skus.dedupe', 'products.type');
  if (!row) throw errors.notFound('error.sku_not_found');
  if (row.type !== 'card') throw errors.validation({ sku: 'field.invalid' });
  return { id: Number(row.id), code: String(row.code), dedupe: Boolean(row.dedupe) };
}

type ImportSku = Awaited<ReturnType<typeof cardSku>>;

interface SealedKey {
  fingerprint: string;
  secret: string;
  /** Dedupe off: the fingerprint this key takes if it is a further copy of one already there. */
  copy?: string;
}

/** What the unique index (sku_id, fingerprint) tells keys apart by. */
const fingerprintOf = (deps: Deps, text: string) => hmacHex(deps.keys.fingerprint, text, 16);

/**
 * Fingerprints and encrypts a batch. Pure CPU, outside any transaction. With dedupe on, repeats
 * within it are dropped (and the unique index drops keys the SKU holds); off, every key is kept,
 * with a second fingerprint salted by its IV for when it turns out to be a copy (`placeCopies`).
 */
function seal(deps: Deps, batch: CardKey[], dedupe = true): SealedKey[] {
  const sealed: SealedKey[] = [];
  const seen = new Set<string>();
  const ivs = randomBytes(IV_BYTES * batch.length); // one call to the RNG per batch, not per key
  batch.forEach((k, i) => {
    const text = serializeKey(k);
    const iv = ivs.subarray(i * IV_BYTES, (i + 1) * IV_BYTES);
    const print = fingerprintOf(deps, text);
    if (dedupe && seen.has(print)) return;
    seen.add(print);
    sealed.push({ fingerprint: print, secret: encrypt(deps.keys.encryption, text, iv), ...(dedupe ? {} : { copy: fingerprintOf(deps, `copy:${iv.toString('hex')}:${text}`) }) });
  });
  return sealed;
}

/**
 * Dedupe off: the first copy of a key keeps its own fingerprint, so a later import with dedupe on
 * still finds it; further copies (in the batch, or of a key the SKU holds) take their salted one.
 * Runs after the SKU row is written, so no other import of the SKU changes its keys meanwhile.
 */
async function placeCopies(trx: Knex.Transaction, skuId: number, keys: SealedKey[]): Promise<SealedKey[]> {
  const taken = new Set<string>();
  for (let i = 0; i < keys.length; i += INSERT_ROWS) {
    const prints = keys.slice(i, i + INSERT_ROWS).map((k) => k.fingerprint);
    for (const print of await trx('card_keys').where('sku_id', skuId).whereIn('fingerprint', prints).pluck('fingerprint')) taken.add(print);
  }
  return keys.map((k) => {
    if (!taken.has(k.fingerprint)) return taken.add(k.fingerprint), k;
    return { ...k, fingerprint: k.copy! };
  });
}

/**
 * Adds one batch of sealed keys to a SKU and raises its stock counter by exactly the number added.
 * The SKU row is written first: on MySQL that locks it, on SQLite it takes the write lock, so two
 * imports into the same SKU cannot both count the same new key. Keys already there are skipped by
 * the unique index (sku_id, fingerprint); the database says how many rows each insert added.
 */
async function insertBatch(deps: Deps, sku: ImportSku, keys: SealedKey[], actor?: ImportInput['actor']): Promise<number> {
  return transaction(deps.db, async (trx) => {
    const added = await addSealedKeys(deps, trx, sku.id, keys);
    if (actor) await audit(deps, trx, { actorId: actor.id, action: 'keys.import', targetType: 'sku', targetId: sku.code, after: { added }, ip: actor.ip });
    return added;
  });
}

/** The body of an import batch, in the caller's transaction; returns how many keys were new. */
async function addSealedKeys(deps: Deps, trx: Knex.Transaction, skuId: number, keys: SealedKey[]): Promise<number> {
  const now = deps.now();
  await trx('skus').where('id', skuId).update({ updated_at: now });
  if (keys.some((k) => k.copy)) keys = await placeCopies(trx, skuId, keys);
  let added = 0;
  for (let i = 0; i < keys.length; i += INSERT_ROWS) {
    const rows = keys
      .slice(i, i + INSERT_ROWS)
      .map((k) => ({ sku_id: skuId, secret: k.secret, fingerprint: k.fingerprint, status: 'available', created_at: now }));
    await trx('card_keys').insert(rows).onConflict(['sku_id', 'fingerprint']).ignore();
    added += await rowsChanged(deps.db, trx);
  }
  // A shared SKU's stock is the count its operator sets, not its keys.
  if (added && !(await isShared(trx, skuId))) await trx('skus').where('id', skuId).increment('stock', added);
  return added;
}

/** Adds keys bought from a supplier to a SKU's stock in the caller's transaction, as an import would (duplicates skipped). */
export function stockKeys(deps: Deps, trx: Knex.Transaction, skuId: number, keys: CardKey[]): Promise<number> {
  return addSealedKeys(deps, trx, skuId, seal(deps, keys));
}

/**
 * Streams keys into a SKU: lines are read, parsed, fingerprinted, deduplicated against the file
 * and the SKU's existing keys (unless the SKU's dedupe is off), encrypted and inserted a batch at a
 * time, so memory stays flat whatever the file's size. While one batch is written the next is read
 * and sealed. Each batch commits on its own; a bad line is reported, not fatal.
 */
export async function importKeys(deps: Deps, input: ImportInput): Promise<ImportReport> {
  const sku = await cardSku(deps, input.sku);
  const report: ImportReport = { sku: sku.code, lines: 0, added: 0, duplicates: 0, rejected: 0, rejections: [] };
  let writing: Promise<void> = Promise.resolve();
  for await (const batch of keyBatches(input, report)) {
    const sealed = seal(deps, batch, sku.dedupe);
    await writing;
    writing = insertBatch(deps, sku, sealed, input.actor).then((added) => {
      report.added += added;
      report.duplicates += batch.length - added;
      input.onProgress?.({ lines: report.lines, added: report.added, duplicates: report.duplicates, rejected: report.rejected });
    });
  }
  await writing;
  return report;
}

/** Reads an import's lines into batches of keys, counting the lines and the rejected ones into `count`. */
async function* keyBatches(input: Pick<ImportInput, 'lines' | 'format'>, count: Pick<ImportReport, 'lines' | 'rejected' | 'rejections'>): AsyncGenerator<CardKey[]> {
  const parse = lineParser(input.format ?? 'text');
  let batch: CardKey[] = [];
  for await (const line of input.lines) {
    count.lines++;
    const parsed = parse(line);
    if ('key' in parsed) batch.push(parsed.key);
    else if ('error' in parsed) {
      count.rejected++;
      if (count.rejections.length < MAX_REJECTIONS_KEPT) count.rejections.push({ line: count.lines, reason: parsed.error });
    }
    if (batch.length >= BATCH) yield batch.splice(0);
  }
  if (batch.length) yield batch;
}

export interface ImportPreview extends ImportReport {
  /** Whether the SKU skips duplicates; off, they are imported as copies and `duplicates` is 0. */
  dedupe: boolean;
  /** Repeats of an earlier line of the same file. */
  duplicatesInFile: number;
  /** Keys the SKU already holds (in stock, sold or void). */
  duplicatesInStock: number;
}

/**
 * What `importKeys` would do with these lines, writing nothing: the keys it would add, the
 * duplicates (within the file, and against the SKU's keys) and the malformed lines.
 */
export async function previewImport(deps: Deps, input: Pick<ImportInput, 'sku' | 'lines' | 'format'>): Promise<ImportPreview> {
  const sku = await cardSku(deps, input.sku);
  const report: ImportPreview = { sku: sku.code, dedupe: sku.dedupe, lines: 0, added: 0, duplicates: 0, duplicatesInFile: 0, duplicatesInStock: 0, rejected: 0, rejections: [] };
  const seen = new Set<string>();
  let valid = 0;
  for await (const batch of keyBatches(input, report)) {
    valid += batch.length;
    const prints: string[] = [];
    for (const key of batch) {
      const print = fingerprintOf(deps, serializeKey(key));
      if (seen.has(print)) report.duplicatesInFile++;
      else seen.add(print), prints.push(print);
    }
    for (let i = 0; i < prints.length; i += INSERT_ROWS) {
      const held = await deps.db.read('card_keys').where('sku_id', sku.id).whereIn('fingerprint', prints.slice(i, i + INSERT_ROWS)).count({ n: '*' }).first();
      report.duplicatesInStock += Number(held?.n ?? 0);
    }
  }
  report.duplicates = sku.dedupe ? report.duplicatesInFile + report.duplicatesInStock : 0;
  report.added = valid - report.duplicates;
  return report;
}

/** A key as the buyer gets it, from its sealed form. */
export const openKey = (deps: Deps, secret: string): CardKey => deserializeKey(decrypt(deps.keys.encryption, secret));

export interface PickedKey {
  id: number;
  secret: string;
}

/**
 * Up to `limit` available keys of a SKU, oldest first: the candidates a claim takes from. On
 * MySQL they are locked, skipping rows another transaction holds.
 */
export async function pickKeys(deps: Deps, trx: Knex, skuId: number, limit: number): Promise<PickedKey[]> {
  let q = trx('card_keys').select('id', 'secret').where({ sku_id: skuId, status: 'available' }).orderBy('id').limit(limit);
  if (deps.db.dialect === 'mysql') q = q.forUpdate().skipLocked();
  return ((await q) as Array<{ id: number | string; secret: string }>).map((r) => ({ id: Number(r.id), secret: r.secret }));
}

/**
 * Gives picked keys to orders inside the caller's transaction; the caller has already taken the
 * units off the stock counter. The UPDATE re-checks `status = 'available'` and its row count
 * must match, so a key can never reach two orders. Returns each order's keys, decrypted for the
 * buyer's response.
 */
export async function claimKeys(
  deps: Deps,
  trx: Knex,
  skuId: number,
  picked: PickedKey[],
  claims: Array<{ orderId: number; quantity: number }>,
): Promise<Map<number, CardKey[]>> {
  const total = claims.reduce((s, c) => s + c.quantity, 0);
  if (picked.length < total) throw new Error(`stock counter of sku ${skuId} is ahead of its keys (${picked.length} < ${total})`);
  const pairs: Array<[number, number]> = [];
  const keys = new Map<number, CardKey[]>();
  let at = 0;
  for (const c of claims) {
    const mine = picked.slice(at, at + c.quantity);
    for (const k of mine) pairs.push([k.id, c.orderId]);
    keys.set(c.orderId, mine.map((k) => openKey(deps, k.secret)));
    at += c.quantity;
  }
  // Chunks keep each statement well under SQLite's limit on bound parameters.
  for (let i = 0; i < pairs.length; i += CLAIM_CHUNK) {
    const chunk = pairs.slice(i, i + CLAIM_CHUNK);
    const n = await trx('card_keys')
      .whereIn('id', chunk.map(([id]) => id))
      .andWhere('status', 'available')
      .update({ status: 'sold', sold_at: deps.now(), order_id: caseById(trx, chunk) });
    if (affected(n) !== chunk.length) throw new ConflictRetry(`claimed ${affected(n)} of ${chunk.length} keys of sku ${skuId}`);
  }
  return keys;
}

/** Whether a SKU sells shared keys (循环卡密). */
export async function isShared(trx: Knex, skuId: number): Promise<boolean> {
  return (await trx('skus').where('id', skuId).first('key_mode'))?.key_mode === 'shared';
}

/** How many of a shared SKU's keys the sales go round. */
export const POOL_SIZE = 100;

/** A shared SKU's keys, oldest first: its available ones, of which every buyer gets copies. */
export async function sharedPool(trx: Knex, skuId: number): Promise<PickedKey[]> {
  const rows = await trx('card_keys').where({ sku_id: skuId, status: 'available' }).orderBy('id').limit(POOL_SIZE).select('id', 'secret');
  return rows.map((r: { id: number | string; secret: string }) => ({ id: Number(r.id), secret: r.secret }));
}

/**
 * The pool's keys an order gets: the unit that takes the stock counter down from s gets the key at
 * s mod n, so the sales go round the pool. `stockAt` is the counter before this order took its units.
 */
export function poolTurns(pool: PickedKey[], stockAt: number, quantity: number): PickedKey[] {
  return Array.from({ length: quantity }, (_, j) => pool[(stockAt - j) % pool.length]!);
}

/**
 * The rows that give an order copies of shared keys (the caller sets `order_id`): sealed as the
 * pool holds them, with a fingerprint per order and unit, so they never collide with the pool.
 */
export function copyRows(deps: Deps, skuId: number, orderNo: string, keys: PickedKey[], status: 'sold' | 'reserved', now: number) {
  return keys.map((k, j) => ({
    sku_id: skuId,
    secret: k.secret,
    fingerprint: hmacHex(deps.keys.fingerprint, `shared:${orderNo}:${j}`, 16),
    status,
    created_at: now,
    sold_at: status === 'sold' ? now : null,
  }));
}

/**
 * Gives an order copies of keys from its shared SKU's pool (not empty) in the caller's
 * transaction, which has just taken the units off the stock counter: the SKU row is locked, and
 * its counter tells which turn of the pool this is.
 */
export async function shareKeys(deps: Deps, trx: Knex, order: { id: number; no: string; skuId: number; quantity: number }, pool: PickedKey[], status: 'sold' | 'reserved'): Promise<void> {
  const { stock } = await trx('skus').where('id', order.skuId).first('stock');
  const rows = copyRows(deps, order.skuId, order.no, poolTurns(pool, Number(stock) + order.quantity, order.quantity), status, deps.now());
  for (let i = 0; i < rows.length; i += INSERT_ROWS) await trx('card_keys').insert(rows.slice(i, i + INSERT_ROWS).map((r) => ({ ...r, order_id: order.id })));
}

/**
 * Stores keys an order was delivered from elsewhere (a supplier, a plugin) as sold to it, sealed
 * like stock. They never were stock, so their fingerprint is per order and position: a supplier
 * that sells the same shared key to two orders cannot collide with itself or with imported stock.
 */
export async function recordDeliveredKeys(deps: Deps, trx: Knex, skuId: number, orderId: number, keys: CardKey[]): Promise<void> {
  const now = deps.now();
  const rows = keys.map((k, i) => {
    const text = serializeKey(k);
    return {
      sku_id: skuId,
      secret: encrypt(deps.keys.encryption, text),
      fingerprint: hmacHex(deps.keys.fingerprint, `delivered:${orderId}:${i}:${text}`, 16),
      status: 'sold',
      order_id: orderId,
      created_at: now,
      sold_at: now,
    };
  });
  for (let i = 0; i < rows.length; i += INSERT_ROWS) await trx('card_keys').insert(rows.slice(i, i + INSERT_ROWS));
}

/** Decrypts an order's keys, for its buyer or an admin only. */
export async function keysOfOrder(deps: Deps, orderId: number): Promise<CardKey[]> {
  const rows = await deps.db.read('card_keys').where('order_id', orderId).orderBy('id').select('secret');
  return rows.map((r: { secret: string }) => deserializeKey(decrypt(deps.keys.encryption, r.secret)));
}

export async function stockOf(deps: Deps, skuCode: string): Promise<{ counter: number; available: number }> {
  const sku = await deps.db.knex('skus').where('code', skuCode).first('id', 'stock');
  if (!sku) throw errors.notFound('error.sku_not_found');
  const row = await deps.db.knex('card_keys').where({ sku_id: sku.id, status: 'available' }).count({ n: '*' }).first();
  return { counter: Number(sku.stock), available: Number(row?.n ?? 0) };
}
