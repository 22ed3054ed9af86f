import type { Knex } from 'knex';
import type { Ref } from './source.js';

/**
 * import_map: which old row became which new one. Rows are written in their batch's transaction,
 * so what is here is done; a re-run skips it, and references between records resolve through it.
 */

const CHUNK = 400; // under SQLite's 500-term compound insert and its bound-parameter limit

/** The old ids of `ids` already imported from this table (new id, or null if left out). */
export async function doneIds(trx: Knex, source: string, table: string, ids: string[]): Promise<Set<string>> {
  const done = new Set<string>();
  for (let i = 0; i < ids.length; i += CHUNK) {
    const rows = await trx('import_map').where({ source, table }).whereIn('old_id', ids.slice(i, i + CHUNK)).pluck('old_id');
    for (const id of rows) done.add(String(id));
  }
  return done;
}

export async function remember(trx: Knex, source: string, table: string, rows: Array<{ oldId: string; newId: number | null }>): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK) {
    await trx('import_map').insert(rows.slice(i, i + CHUNK).map((r) => ({ source, table, old_id: r.oldId, new_id: r.newId })));
  }
}

/** `${table}:${oldId}` → new id, for the refs that were imported (left-out rows resolve to nothing). */
export async function resolve(trx: Knex, source: string, refs: Ref[]): Promise<Map<string, number>> {
  const byTable = new Map<string, Set<string>>();
  for (const [table, id] of refs) (byTable.get(table) ?? byTable.set(table, new Set()).get(table)!).add(id);
  const found = new Map<string, number>();
  for (const [table, set] of byTable) {
    const ids = [...set];
    for (let i = 0; i < ids.length; i += CHUNK) {
      const rows = await trx('import_map').where({ source, table }).whereIn('old_id', ids.slice(i, i + CHUNK)).whereNotNull('new_id').select('old_id', 'new_id');
      for (const r of rows) found.set(`${table}:${r.old_id}`, Number(r.new_id));
    }
  }
  return found;
}

export const refKey = (ref: Ref) => `${ref[0]}:${ref[1]}`;
