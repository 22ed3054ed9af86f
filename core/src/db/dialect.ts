import type { Knex } from 'knex';
import type { Database } from './connect.js';

/**
 * Row locking for claims: MySQL/MariaDB skip rows another transaction holds, so parallel
 * workers never wait on each other; SQLite has one writer, so the plain SELECT inside the
 * write transaction is already exclusive.
 */
export function forUpdateSkipLocked<T extends Knex.QueryBuilder>(db: Database, query: T): T {
  return db.dialect === 'mysql' ? (query.forUpdate().skipLocked() as T) : query;
}

/**
 * Thrown when a guarded UPDATE finds a row changed since this transaction read it (another
 * process got there first): the transaction rolls back and runs again.
 */
export class ConflictRetry extends Error {
  override name = 'ConflictRetry';
}

/** Transient errors after which the whole transaction may simply run again. */
export function isRetryable(err: unknown): boolean {
  const e = err as { code?: string; errno?: number; message?: string };
  return (
    err instanceof ConflictRetry ||
    e?.code === 'SQLITE_BUSY' ||
    e?.code === 'ER_LOCK_DEADLOCK' ||
    e?.code === 'ER_LOCK_WAIT_TIMEOUT' ||
    e?.errno === 1213 ||
    e?.errno === 1205 ||
    /database is locked/.test(e?.message ?? '')
  );
}

/** mysql2's codes for a server that cannot be reached or dropped the connection (with `fatal` set). */
const CONNECTION_LOST = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT']);
/** Codes of a database that is up but takes no work for now: too many connections, shutting down, locked, read-only. */
const REFUSING = new Set(['ER_CON_COUNT_ERROR', 'ER_SERVER_SHUTDOWN', 'SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_READONLY', 'SQLITE_CANTOPEN', 'SQLITE_IOERR']);

/**
 * The database is away or refuses work for a while (after the retries above): not a bug, and
 * nothing was written, so the caller gets a 503 and may try again. Network codes count only on a
 * database driver's error (`fatal`), so a supplier's reset connection is not taken for one.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; name?: string; fatal?: boolean };
  return REFUSING.has(e?.code ?? '') || (e?.fatal === true && CONNECTION_LOST.has(e.code ?? '')) || e?.name === 'KnexTimeoutError';
}

/** The disk (or the table space) is full: SQLite's SQLITE_FULL, MySQL's "table is full", ENOSPC. */
export function isStorageFull(err: unknown): boolean {
  const e = err as { code?: string };
  return e?.code === 'SQLITE_FULL' || e?.code === 'ENOSPC' || e?.code === 'ER_RECORD_FILE_FULL' || e?.code === 'ER_DISK_FULL';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `work` in a transaction, running it again on a deadlock or lock timeout. The work must be
 * a pure function of the database: nothing it did survives a rollback.
 */
export async function transaction<T>(
  db: Database,
  work: (trx: Knex.Transaction) => Promise<T>,
  attempts = 5,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.knex.transaction(work);
    } catch (err) {
      if (!isRetryable(err) || attempt >= attempts) throw err;
      await sleep(Math.random() * 10 * attempt);
    }
  }
}

/** `CASE id WHEN ? THEN ? … END`: one value per row, for UPDATEs that set each row differently. */
export function caseById(knex: Knex, pairs: Array<[number, number]>): Knex.Raw {
  return knex.raw(`(CASE id ${pairs.map(() => 'WHEN ? THEN ?').join(' ')} END)`, pairs.flat());
}

/** A duplicate key: the database refused a second row where one may exist only once. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === 'ER_DUP_ENTRY' || (e?.code === 'SQLITE_CONSTRAINT' && /UNIQUE|PRIMARY KEY/.test(e.message ?? ''));
}

/** Rows that the previous INSERT, UPDATE or DELETE on this transaction's connection changed. */
export async function rowsChanged(db: Database, trx: Knex.Transaction): Promise<number> {
  if (db.dialect === 'mysql') {
    const [rows] = await trx.raw('SELECT ROW_COUNT() AS n');
    return Number(rows[0].n);
  }
  const rows = await trx.raw('SELECT changes() AS n');
  return Number(rows[0].n);
}

/** Number of rows a knex update/delete reports, on both drivers. */
export function affected(result: unknown): number {
  return typeof result === 'number' ? result : Number((result as { affectedRows?: number })?.affectedRows ?? 0);
}
