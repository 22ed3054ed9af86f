import knexFactory, { type Knex } from 'knex';
import { z } from 'zod';
import type { Deps } from '../context.js';
import { mysqlConnection } from '../db/connect.js';
import { transaction } from '../db/dialect.js';
import { OPENING_ACCOUNT, write, type Written } from './writers.js';
import { doneIds, remember } from './map.js';
import type { ImportReport, TableReport } from './report.js';
import type { ImportRecord, PaymentRecord, Skip, Source, Step } from './source.js';
import { dujiaoka } from './dujiaoka.js';
import { acgFaka } from './acg-faka.js';

export { renderReport, type ImportReport } from './report.js';

export const IMPORT_SOURCES = ['dujiaoka', 'acg-faka'] as const;

export const importOptionsSchema = z.object({
  source: z.enum(IMPORT_SOURCES, { error: 'import.err.source' }),
  from: z
    .string({ error: 'import.err.from' })
    .refine((s) => {
      try {
        const u = new URL(s);
        return u.protocol === 'mysql:' && !!u.hostname && u.pathname.length > 1;
      } catch {
        return false;
      }
    }, 'import.err.from'),
  apply: z.boolean().default(false),
  /** acg-faka's table prefix, chosen at its install (acg_ by default). */
  prefix: z.string().regex(/^[A-Za-z0-9_]{0,32}$/, 'import.err.prefix').default('acg_'),
  batch: z.number().int().min(1).max(10_000).default(1000),
});

export type ImportOptions = z.input<typeof importOptionsSchema>;

export interface ImportProgress {
  table: string;
  /** Rows read so far, of all tables, and the rows there are. */
  done: number;
  total: number;
}

/**
 * The old shop's database, read-only: the session refuses writes, and only SELECTs are sent.
 * DECIMALs come back as strings (cents() splits them exactly), dates as text.
 */
export function openSource(url: string): Knex {
  const u = new URL(url);
  return knexFactory({
    client: 'mysql2',
    connection: { ...mysqlConnection(u), dateStrings: true, bigNumberStrings: true },
    pool: {
      min: 0,
      max: 1,
      afterCreate(conn: { query(sql: string, cb: (err: Error | null) => void): void }, done: (err: Error | null, conn: unknown) => void) {
        conn.query('SET SESSION TRANSACTION READ ONLY', (err) => done(err, conn));
      },
    },
  });
}

const SOURCES = { dujiaoka, 'acg-faka': acgFaka } as const;

/**
 * Brings an old shop over. Dry (the default) it reads and maps every row and writes nothing; with
 * `apply` each batch is written in one transaction with its import_map rows, so a batch already
 * there is skipped and a run killed half way, run again, finishes with nothing twice.
 */
export async function runImport(deps: Deps, input: ImportOptions, onProgress?: (p: ImportProgress) => void): Promise<ImportReport> {
  const options = importOptionsSchema.parse(input);
  const source: Source = SOURCES[options.source](options);
  const started = Date.now();
  const db = openSource(options.from);
  try {
    await source.check(db);
    const totals = await Promise.all(source.steps.map((s) => s.count(db)));
    const total = totals.reduce((a, b) => a + b, 0);
    const report: ImportReport = { source: source.name, apply: options.apply, tables: [], payments: [], rows: 0, ms: 0 };
    const mapped = options.apply || (await deps.db.knex.schema.hasTable('import_map'));
    if (options.apply) {
      await deps.db.knex('accounts').insert({ code: OPENING_ACCOUNT, kind: 'platform', balance: 0, currency: deps.config.shop.currency, created_at: deps.now() }).onConflict('code').ignore();
    }
    for (const [i, step] of source.steps.entries()) {
      const line: TableReport = { table: step.table, total: totals[i]!, imported: 0, before: 0, skipped: {}, notes: {} };
      report.tables.push(line);
      // The next batch is read from the old shop while this one is written.
      let reading = step.read(db, null, options.batch);
      for (;;) {
        const rows = await reading;
        if (!rows.length) break;
        reading = rows.length < options.batch ? Promise.resolve([]) : step.read(db, step.id(rows[rows.length - 1]!), options.batch);
        reading.catch(() => undefined); // awaited next turn; a failed write must not leave it unhandled
        const batch = await (options.apply ? applyBatch(deps, source.name, step, rows) : dryBatch(deps, source.name, step, rows, mapped));
        line.before += batch.before;
        line.imported += batch.imported;
        add(line.skipped, batch.skipped);
        add(line.notes, batch.notes);
        report.payments.push(...batch.payments);
        report.rows += rows.length;
        onProgress?.({ table: step.table, done: report.rows, total });
      }
    }
    report.ms = Date.now() - started;
    return report;
  } finally {
    await db.destroy();
  }
}

interface BatchResult extends Omit<Written, 'mapped'> {
  before: number;
  payments: PaymentRecord[];
}

const isSkip = (r: ImportRecord | Skip): r is Skip => 'skip' in r;

function add(into: Record<string, number>, from: Record<string, number>) {
  for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n;
}

function split(step: Step, rows: Array<Record<string, unknown>>, done: Set<string>) {
  const items: Array<{ oldId: string; rec: ImportRecord }> = [];
  const skips: Array<{ oldId: string; reason: string }> = [];
  for (const row of rows) {
    const oldId = step.id(row);
    if (done.has(oldId)) continue;
    const rec = step.map(row);
    if (isSkip(rec)) skips.push({ oldId, reason: rec.skip });
    else items.push({ oldId, rec });
  }
  const skipped: Record<string, number> = {};
  for (const s of skips) skipped[s.reason] = (skipped[s.reason] ?? 0) + 1;
  const payments = items.flatMap((i) => (i.rec.kind === 'payment' ? [i.rec] : []));
  return { items, skips, skipped, payments };
}

async function applyBatch(deps: Deps, source: string, step: Step, rows: Array<Record<string, unknown>>): Promise<BatchResult> {
  const ids = rows.map((r) => step.id(r));
  // The batch and its map rows commit together; a retried transaction starts over from the map.
  return transaction(deps.db, async (trx) => {
    const done = await doneIds(trx, source, step.table, ids);
    const { items, skips, skipped, payments } = split(step, rows, done);
    const written: Written = items.length ? await write({ deps, source, table: step.table, now: deps.now() }, trx, items) : { mapped: [], imported: 0, skipped: {}, notes: {} };
    await remember(trx, source, step.table, [...written.mapped, ...skips.map((s) => ({ oldId: s.oldId, newId: null }))]);
    add(skipped, written.skipped);
    return { before: done.size, imported: written.imported, skipped, notes: written.notes, payments };
  });
}

async function dryBatch(deps: Deps, source: string, step: Step, rows: Array<Record<string, unknown>>, mapped: boolean): Promise<BatchResult> {
  const done = mapped ? await doneIds(deps.db.knex, source, step.table, rows.map((r) => step.id(r))) : new Set<string>();
  const { items, skipped, payments } = split(step, rows, done);
  return { before: done.size, imported: items.length, skipped, notes: {}, payments };
}
