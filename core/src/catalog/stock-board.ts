import type { Deps } from '../context.js';
import type { ProductView, SkuView } from './catalog.js';
import type { Database } from '../db/connect.js';

/**
 * The stock counters of every enabled SKU, as pages and listings show them. A request waits for a
 * read that began after it arrived, so what it shows is never older than the request, yet however
 * many requests come at once they share one read (one short query, one row on SQLite). A new read
 * whose counters all match the last one keeps the last one's versions, so what is cached on them
 * stays valid.
 */
export interface StockBoard {
  /** Units in stock by SKU id. */
  stock: ReadonlyMap<number, number>;
  /** Changes whenever any counter does. */
  version: number;
  /** Changes only when some SKU moves to another stock band (what pages show, `stockBand`). */
  bandVersion: number;
}

/**
 * What pages show of a stock counter: none, the exact count while it is under 10, else 10+, 100+
 * or 1000+ (`plus`). A page cached on the bands stays valid while hundreds of keys sell.
 */
export function stockBand(n: number): { count: number; plus: boolean } {
  if (n < 10) return { count: Math.max(0, n), plus: false };
  return { count: n >= 1000 ? 1000 : n >= 100 ? 100 : 10, plus: true };
}

/** Products as pages show them: each card SKU's stock as its band, `stockPlus` where that is a floor. */
export function shownStock(products: ProductView[]): Array<ProductView & { skus: Array<SkuView & { stockPlus: boolean }> }> {
  return products.map((p) => ({
    ...p,
    skus: p.skus.map((s) => {
      if (s.stock === null) return { ...s, stockPlus: false };
      const band = stockBand(s.stock);
      return { ...s, stock: band.count, stockPlus: band.plus };
    }),
  }));
}

const bandOf = (n: number) => {
  const b = stockBand(n);
  return b.plus ? -b.count : b.count;
};

interface Reader {
  board?: StockBoard;
  raw?: string;
  running?: Promise<StockBoard>;
  /** The read after the running one, which requests arriving meanwhile wait for. */
  queued?: Promise<StockBoard>;
}
const readers = new WeakMap<Database, Reader>();

const COUNTERS = `SELECT group_concat(id || ':' || stock) AS s FROM (SELECT id, stock FROM skus WHERE enabled = 1 ORDER BY id)`;

interface Sqlite3Reader {
  get(sql: string, cb: (err: Error | null, row?: { s: string | null }) => void): void;
}

async function readCounters(deps: Deps): Promise<string> {
  if (deps.db.dialect === 'sqlite') {
    // Straight on a reader's connection: this runs for every burst of page views, and knex's
    // query building would be most of its cost.
    const client = deps.db.read.client as { acquireConnection(): Promise<Sqlite3Reader>; releaseConnection(c: unknown): Promise<unknown> };
    const conn = await client.acquireConnection();
    try {
      const row = await new Promise<{ s: string | null } | undefined>((resolve, reject) => conn.get(COUNTERS, (err, r) => (err ? reject(err) : resolve(r))));
      return row?.s ?? '';
    } finally {
      await client.releaseConnection(conn);
    }
  }
  const rows: Array<{ id: number; stock: number }> = await deps.db.read('skus').where('enabled', true).orderBy('id').select('id', 'stock');
  return rows.map((r) => `${r.id}:${r.stock}`).join(',');
}

function parse(raw: string): Map<number, number> {
  const stock = new Map<number, number>();
  if (!raw) return stock;
  for (const pair of raw.split(',')) {
    const at = pair.indexOf(':');
    stock.set(Number(pair.slice(0, at)), Number(pair.slice(at + 1)));
  }
  return stock;
}

async function refresh(deps: Deps, r: Reader): Promise<StockBoard> {
  const raw = await readCounters(deps);
  const last = r.board;
  if (last && raw === r.raw) return last;
  const stock = parse(raw);
  let moved = !last || last.stock.size !== stock.size;
  if (last && !moved) for (const [id, n] of stock) if (!last.stock.has(id) || bandOf(n) !== bandOf(last.stock.get(id)!)) moved = true;
  r.raw = raw;
  r.board = { stock, version: (last?.version ?? 0) + 1, bandVersion: (last?.bandVersion ?? 0) + (moved ? 1 : 0) };
  return r.board;
}

function run(deps: Deps, reader: Reader): Promise<StockBoard> {
  const read: Promise<StockBoard> = refresh(deps, reader).finally(() => {
    if (reader.running === read) reader.running = undefined;
  });
  reader.running = read;
  return read;
}

export function stockBoard(deps: Deps): Promise<StockBoard> {
  let reader = readers.get(deps.db);
  if (!reader) readers.set(deps.db, (reader = {}));
  const running = reader.running;
  if (!running) return run(deps, reader);
  // A read is under way but began before this request: wait for the one after it.
  const r = reader;
  r.queued ??= running.catch(() => undefined).then(() => {
    r.queued = undefined;
    return run(deps, r);
  });
  return r.queued;
}
