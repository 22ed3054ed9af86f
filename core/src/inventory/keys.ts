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
    .first('skus.id', 'skus.code', 'products.type');
  if (!row) throw errors.notFound('error.sku_not_found');
  if (row.type !== 'card') throw errors.validation({ sku: 'field.invalid' });
  return { id: Number(row.id), code: String(row.code) };
}

interface SealedKey {
  fingerprint: string;
  secret: string;
}

/** Fingerprints and encrypts a batch, dropping repeats within it. Pure CPU, outside any transaction. */
function seal(deps: Deps, batch: CardKey[]): SealedKey[] {
  const sealed = new Map<string, SealedKey>();
  const ivs = randomBytes(IV_BYTES * batch.length); // one call to the RNG per batch, not per key
  batch.forEach((k, i) => {
    const text = serializeKey(k);
    const print = hmacHex(deps.keys.fingerprint, text, 16);
    if (!sealed.has(print)) {
      sealed.set(print, { fingerprint: print, secret: encrypt(deps.keys.encryption, text, ivs.subarray(i * IV_BYTES, (i + 1) * IV_BYTES)) });
    }
  });
  return [...sealed.values()];
}

/**
 * Adds one batch of sealed keys to a SKU and raises its stock counter by exactly the number added.
 * The SKU row is written first: on MySQL that locks it, on SQLite it takes the write lock, so two
 * imports into the same SKU cannot both count the same new key. Keys already there are skipped by
 * the unique index (sku_id, fingerprint); the database says how many rows each insert added.
 */
async function insertBatch(deps: Deps, sku: { id: number; code: string }, keys: SealedKey[], actor?: ImportInput['actor']): Promise<number> {
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
  let added = 0;
  for (let i = 0; i < keys.length; i += INSERT_ROWS) {
    const rows = keys
      .slice(i, i + INSERT_ROWS)
      .map((k) => ({ sku_id: skuId, secret: k.secret, fingerprint: k.fingerprint, status: 'available', created_at: now }));
    await trx('card_keys').insert(rows).onConflict(['sku_id', 'fingerprint']).ignore();
    added += await rowsChanged(deps.db, trx);
  }
  if (added) await trx('skus').where('id', skuId).increment('stock', added);
  return added;
}

/** Adds keys bought from a supplier to a SKU's stock in the caller's transaction, as an import would (duplicates skipped). */
export function stockKeys(deps: Deps, trx: Knex.Transaction, skuId: number, keys: CardKey[]): Promise<number> {
  return addSealedKeys(deps, trx, skuId, seal(deps, keys));
}

/**
 * Streams keys into a SKU: lines are read, parsed, fingerprinted, deduplicated against the file
 * and the SKU's existing keys, encrypted and inserted a batch at a time, so memory stays flat
 * whatever the file's size. While one batch is written the next is read and sealed. Each batch
 * commits on its own; a bad line is reported, not fatal.
 */
export async function importKeys(deps: Deps, input: ImportInput): Promise<ImportReport> {
  const sku = await cardSku(deps, input.sku);
  return streamKeys(deps, sku, input);
}

async function streamKeys(deps: Deps, sku: { id: number; code: string }, input: ImportInput): Promise<ImportReport> {
  const parse = lineParser(input.format ?? 'text');
  const report: ImportReport = { sku: sku.code, lines: 0, added: 0, duplicates: 0, rejected: 0, rejections: [] };
  let batch: CardKey[] = [];
  let writing: Promise<void> = Promise.resolve();
  const flush = async () => {
    if (!batch.length) return;
    const size = batch.length;
    const sealed = seal(deps, batch);
    batch = [];
    await writing;
    writing = insertBatch(deps, sku, sealed, input.actor).then((added) => {
      report.added += added;
      report.duplicates += size - added;
      input.onProgress?.({ lines: report.lines, added: report.added, duplicates: report.duplicates, rejected: report.rejected });
    });
  };
  for await (const line of input.lines) {
    report.lines++;
    const parsed = parse(line);
    if ('key' in parsed) batch.push(parsed.key);
    else if ('error' in parsed) {
      report.rejected++;
      if (report.rejections.length < MAX_REJECTIONS_KEPT) report.rejections.push({ line: report.lines, reason: parsed.error });
    }
    if (batch.length >= BATCH) await flush();
  }
  await flush();
  await writing;
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
