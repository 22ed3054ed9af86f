import { mkdirSync } from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';

export type Dialect = 'sqlite' | 'mysql';

export interface Database {
  readonly knex: Knex;
  readonly dialect: Dialect;
  /** A short description without credentials, for logs. */
  readonly label: string;
}

interface Sqlite3Connection {
  run(sql: string, cb: (err: Error | null) => void): void;
}

/**
 * Opens `sqlite:<file>` or `mysql://user:pass@host:port/db`.
 *
 * SQLite runs with one connection: it has one writer anyway, and a single connection keeps a
 * write transaction from ever meeting SQLITE_BUSY from inside the same process. WAL lets the
 * CLI read while the shop writes; the busy timeout covers other processes (a CLI import).
 */
export function connect(url: string, root = process.cwd()): Database {
  if (url.startsWith('sqlite:')) {
    const rest = url.slice('sqlite:'.length);
    const filename = rest === ':memory:' ? rest : path.resolve(root, rest);
    if (filename !== ':memory:') mkdirSync(path.dirname(filename), { recursive: true });
    const knex = knexFactory({
      client: 'sqlite3',
      connection: { filename },
      useNullAsDefault: true,
      pool: {
        min: 1,
        max: 1,
        idleTimeoutMillis: Number.MAX_SAFE_INTEGER,
        afterCreate(conn: Sqlite3Connection, done: (err: Error | null, conn: unknown) => void) {
          const pragmas = [
            'PRAGMA journal_mode = WAL',
            'PRAGMA synchronous = NORMAL',
            'PRAGMA busy_timeout = 10000',
            'PRAGMA foreign_keys = ON',
          ];
          const next = (i: number): void => {
            if (i === pragmas.length) return done(null, conn);
            conn.run(pragmas[i]!, (err) => (err ? done(err, conn) : next(i + 1)));
          };
          next(0);
        },
      },
    });
    return { knex, dialect: 'sqlite', label: `sqlite:${filename}` };
  }
  if (url.startsWith('mysql://')) {
    const u = new URL(url);
    const knex = knexFactory({
      client: 'mysql2',
      connection: {
        host: u.hostname,
        port: Number(u.port || 3306),
        user: decodeURIComponent(u.username),
        password: decodeURIComponent(u.password),
        database: u.pathname.slice(1),
        charset: 'utf8mb4',
        // BIGINT money comes back as a JS number while it is safe, as a string beyond that.
        supportBigNumbers: true,
        timezone: 'Z',
      },
      pool: { min: 0, max: Number(u.searchParams.get('pool') ?? 10) },
    });
    return { knex, dialect: 'mysql', label: `mysql://${u.hostname}:${u.port || 3306}${u.pathname}` };
  }
  throw new Error(`unsupported database URL: ${url}`);
}
