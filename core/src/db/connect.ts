import { mkdirSync } from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';

export type Dialect = 'sqlite' | 'mysql';

export interface Database {
  /** Writes, and reads that must see this transaction's own writes. */
  readonly knex: Knex;
  /**
   * Reads that need only committed data (pages, lookups). On SQLite these are separate read-only
   * connections, which WAL lets run while the writer commits; on MySQL it is the same pool.
   */
  readonly read: Knex;
  readonly dialect: Dialect;
  /** A short description without credentials, for logs. */
  readonly label: string;
  close(): Promise<void>;
}

interface Sqlite3Connection {
  run(sql: string, cb: (err: Error | null) => void): void;
}

function sqlitePool(filename: string, size: number, pragmas: string[], min: number): Knex {
  return knexFactory({
    client: 'sqlite3',
    connection: { filename },
    useNullAsDefault: true,
    pool: {
      min,
      max: size,
      idleTimeoutMillis: Number.MAX_SAFE_INTEGER,
      afterCreate(conn: Sqlite3Connection, done: (err: Error | null, conn: unknown) => void) {
        const next = (i: number): void => {
          if (i === pragmas.length) return done(null, conn);
          conn.run(pragmas[i]!, (err) => (err ? done(err, conn) : next(i + 1)));
        };
        next(0);
      },
    },
  });
}

const sqlitePragmas = (busyMs: number) => [
  'PRAGMA journal_mode = WAL',
  'PRAGMA synchronous = NORMAL',
  `PRAGMA busy_timeout = ${busyMs}`,
  'PRAGMA foreign_keys = ON',
  // 64 MiB of page cache: random-keyed indexes (key fingerprints) stay in memory on big imports.
  'PRAGMA cache_size = -65536',
  // The checkout's guard table (db/raw.ts) and sorts never touch a temporary file.
  'PRAGMA temp_store = MEMORY',
];

/**
 * The writer checkpoints the WAL itself only past ~40 MB: a reader connection copies it back every
 * second (`PRAGMA wal_checkpoint(PASSIVE)` waits for no one), so commits do not stop to copy pages,
 * and a page written by many commits is copied once. The WAL file is cut back to 64 MB after a reset.
 */
const WRITER_PRAGMAS = ['PRAGMA wal_autocheckpoint = 10000', 'PRAGMA journal_size_limit = 67108864'];
const CHECKPOINT_MS = 1000;


async function checkpoint(pool: Knex): Promise<void> {
  const client = pool.client as { acquireConnection(): Promise<Sqlite3Connection>; releaseConnection(c: unknown): Promise<unknown> };
  const conn = await client.acquireConnection();
  try {
    await new Promise<void>((resolve, reject) => conn.run('PRAGMA wal_checkpoint(PASSIVE)', (err) => (err ? reject(err) : resolve())));
  } finally {
    await client.releaseConnection(conn);
  }
}

/** The mysql2 connection a `mysql://user:password@host:port/database` URL names (the shop's, or an old shop's to import). */
export function mysqlConnection(u: URL) {
  return {
    host: u.hostname,
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.slice(1)),
    charset: 'utf8mb4',
    // BIGINT money comes back as a JS number while it is safe, as a string beyond that.
    supportBigNumbers: true,
  };
}

/**
 * Opens `sqlite:<file>` or `mysql://user:pass@host:port/db`.
 *
 * SQLite writes through one connection: it has one writer anyway, and a single connection keeps a
 * write transaction from ever meeting SQLITE_BUSY from inside the same process. Reads go to a small
 * read-only pool, so pages and lookups never queue behind a commit. The busy timeout covers other
 * processes (a CLI import while the shop runs).
 */
export function connect(url: string, root = process.cwd()): Database {
  if (url.startsWith('sqlite:')) {
    // `?busyTimeout=<ms>`: how long a statement waits for a lock another process holds (default
    // 10 s); past it the request is answered 503 (db/dialect.ts).
    const [rest = '', query = ''] = url.slice('sqlite:'.length).split('?');
    const busyMs = Number(new URLSearchParams(query).get('busyTimeout') ?? 10_000);
    if (!Number.isSafeInteger(busyMs) || busyMs < 0) throw new Error(`busyTimeout must be a number of milliseconds: ${url}`);
    const filename = rest === ':memory:' ? rest : path.resolve(root, rest);
    if (filename !== ':memory:') mkdirSync(path.dirname(filename), { recursive: true });
    const pragmas = sqlitePragmas(busyMs);
    const knex = sqlitePool(filename, 1, [...pragmas, ...WRITER_PRAGMAS], 1);
    // An in-memory database exists once per connection, so it cannot have a separate reader.
    // Readers open on first use: a short-lived command (a CLI call) then never opens one it does not need.
    const read = filename === ':memory:' ? knex : sqlitePool(filename, 3, [...pragmas.slice(2), 'PRAGMA query_only = ON'], 0);
    let checkpointing: Promise<unknown> = Promise.resolve();
    const checkpoints =
      read === knex
        ? undefined
        : setInterval(() => {
            // On a reader's own connection, not as one of the shop's queries; one that fails (the
            // file is busy, closing) is simply the next one's work.
            checkpointing = checkpoint(read).catch(() => undefined);
          }, CHECKPOINT_MS).unref();
    return {
      knex,
      read,
      dialect: 'sqlite',
      label: `sqlite:${filename}`,
      async close() {
        clearInterval(checkpoints);
        await checkpointing;
        await knex.destroy();
        if (read !== knex) await read.destroy();
      },
    };
  }
  if (url.startsWith('mysql://')) {
    const u = new URL(url);
    const knex = knexFactory({
      client: 'mysql2',
      connection: { ...mysqlConnection(u), timezone: 'Z' },
      pool: { min: 0, max: Number(u.searchParams.get('pool') ?? 10) },
    });
    return {
      knex,
      read: knex,
      dialect: 'mysql',
      label: `mysql://${u.hostname}:${u.port || 3306}${u.pathname}`,
      close: () => knex.destroy(),
    };
  }
  throw new Error(`unsupported database URL: ${url}`);
}
