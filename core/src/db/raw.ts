import type { Database, Dialect } from './connect.js';
import { ConflictRetry, isRetryable } from './dialect.js';

/**
 * A transaction of our own on one connection of the writer pool, for the checkout batch (the hot
 * path, DESIGN.md): statements are sent without waiting for each other, so they queue on the
 * connection instead of each costing a trip through the event loop and knex's query builder. On
 * SQLite the writes and the COMMIT go to the database as one program (`exec`), a single trip
 * however many statements the batch has.
 *
 * Values enter statements as literals rendered here (`sql` below), never by concatenating input:
 * integers are checked to be safe integers, strings are quoted by the driver's own rules.
 */

export interface Step {
  sql: string;
  /** The rows the statement must change; any other count rolls the transaction back (ConflictRetry). */
  expect?: number;
}

export interface RawTx {
  readonly dialect: Dialect;
  /** Rows of a query, in this transaction. */
  all<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  /** Rows changed by a statement, in this transaction. */
  run(sql: string): Promise<number>;
  /** Runs the steps in order and commits if every guard holds; otherwise nothing of the transaction stays. */
  commit(steps: Step[]): Promise<void>;
  /** Renders a value as a literal of this dialect. */
  lit(value: Literal): string;
}

export type Literal = string | number | boolean | null | undefined;

interface Sqlite3Database {
  exec(sql: string, cb: (err: Error | null) => void): void;
  all(sql: string, cb: (err: Error | null, rows: unknown[]) => void): void;
  run(sql: string, cb: (this: { changes: number }, err: Error | null) => void): void;
}

interface Mysql2Connection {
  query(sql: string, cb: (err: Error | null, result: unknown) => void): void;
  escape(value: string): string;
  destroy(): void;
}

/** A guard that fails aborts the program with this constraint's name (SQLite has no IF in plain SQL). */
const GUARD = 'cardshop_guard';
const guardTable = `CREATE TEMP TABLE IF NOT EXISTS ${GUARD} (ok INTEGER NOT NULL, CONSTRAINT ${GUARD} CHECK (ok = 1))`;

function integer(n: number): string {
  if (!Number.isSafeInteger(n)) throw new TypeError(`not a safe integer for SQL: ${n}`);
  return String(n);
}

export function sqliteLiteral(v: Literal): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v === 'number') return integer(v);
  // exec() takes a C string: a NUL would end the program, so such text goes in as hex bytes.
  if (v.includes('\0')) return `CAST(X'${Buffer.from(v, 'utf8').toString('hex')}' AS TEXT)`;
  return `'${v.replaceAll("'", "''")}'`;
}

function promise<T>(start: (cb: (err: Error | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => start((err, value) => (err ? reject(err) : resolve(value))));
}

function sqliteTx(conn: Sqlite3Database): RawTx & { begin(): Promise<void>; rollback(): Promise<void> } {
  const exec = (sql: string) => promise<void>((cb) => conn.exec(sql, (err) => cb(err, undefined)));
  return {
    dialect: 'sqlite',
    lit: sqliteLiteral,
    // IMMEDIATE: the write lock from the start, so what the batch reads cannot change before it writes.
    // exec() runs alone on the connection, so statements sent after it queue behind it.
    begin: () => exec(`${guardTable}; BEGIN IMMEDIATE`),
    all: <T>(sql: string) => promise<T[]>((cb) => conn.all(sql, (err, rows) => cb(err, rows as T[]))),
    run: (sql) =>
      new Promise((resolve, reject) =>
        conn.run(sql, function (err) {
          if (err) reject(err);
          else resolve(this.changes);
        }),
      ),
    async commit(steps) {
      const program = steps.map((s) => (s.expect === undefined ? `${s.sql};` : `${s.sql};\nINSERT INTO temp.${GUARD} (ok) VALUES (changes() = ${integer(s.expect)});`));
      try {
        await exec(`${program.join('\n')}\nDELETE FROM temp.${GUARD};\nCOMMIT;`);
      } catch (err) {
        if (/CHECK constraint failed: cardshop_guard/.test((err as Error).message)) throw new ConflictRetry('a guarded row moved under the batch');
        throw err;
      }
    },
    // After an error some statements roll back by themselves; then there is nothing left to end.
    rollback: () => exec('ROLLBACK').catch(() => undefined),
  };
}

function mysqlTx(conn: Mysql2Connection): RawTx & { begin(): Promise<void>; rollback(): Promise<void> } {
  const query = (sql: string) => promise<unknown>((cb) => conn.query(sql, cb));
  const lit = (v: Literal) => (v === null || v === undefined ? 'NULL' : typeof v === 'boolean' ? (v ? '1' : '0') : typeof v === 'number' ? integer(v) : conn.escape(v));
  // autocommit off rather than START TRANSACTION: a deadlock rolls InnoDB's transaction back,
  // and the statements already queued behind the one that failed would then commit one by one;
  // with autocommit off they open a new transaction instead, which the ROLLBACK below ends.
  const end = async (how: 'COMMIT' | 'ROLLBACK') => {
    await query(how);
    await query('SET autocommit = 1');
  };
  return {
    dialect: 'mysql',
    lit,
    begin: async () => void (await query('SET autocommit = 0')),
    all: async <T>(sql: string) => (await query(sql)) as T[],
    run: async (sql) => Number(((await query(sql)) as { affectedRows?: number }).affectedRows ?? 0),
    async commit(steps) {
      // Sent together: mysql2 queues them on the connection and the server runs them in order.
      const results = await Promise.all(steps.map((s) => query(s.sql)));
      steps.forEach((s, i) => {
        const n = Number((results[i] as { affectedRows?: number }).affectedRows ?? 0);
        if (s.expect !== undefined && n !== s.expect) throw new ConflictRetry(`${n} rows changed where ${s.expect} were expected`);
      });
      await end('COMMIT');
    },
    // A connection that could not be reset must not go back to the pool half in a transaction.
    rollback: () => end('ROLLBACK').catch(() => conn.destroy()),
  };
}

const after = <T>(first: Promise<void>, then: Promise<T>) => Promise.all([first, then]).then(([, value]) => value);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `work` in a raw transaction on one writer connection, again on a deadlock, a busy SQLite
 * file or a ConflictRetry (like `transaction` in dialect.ts). `work` must end by calling
 * `commit`; if it throws or returns without committing, the transaction rolls back.
 */
export async function rawTransaction<T>(db: Database, work: (tx: RawTx) => Promise<T>, attempts = 5): Promise<T> {
  const client = db.knex.client as { acquireConnection(): Promise<unknown>; releaseConnection(c: unknown): Promise<unknown> };
  for (let attempt = 1; ; attempt++) {
    const conn = await client.acquireConnection();
    const tx = db.dialect === 'sqlite' ? sqliteTx(conn as Sqlite3Database) : mysqlTx(conn as Mysql2Connection);
    let committed = false;
    try {
      const begun = tx.begin();
      const commit = tx.commit;
      const result = await work({
        ...tx,
        // Sent at once, they queue behind BEGIN on the connection; its failure is theirs too.
        all: (sql) => after(begun, tx.all(sql)),
        run: (sql) => after(begun, tx.run(sql)),
        commit: async (steps) => {
          await begun;
          await commit(steps);
          committed = true;
        },
      });
      await begun;
      if (!committed) await tx.rollback();
      return result;
    } catch (err) {
      if (!committed) await tx.rollback();
      if (!isRetryable(err) || attempt >= attempts) throw err;
    } finally {
      await client.releaseConnection(conn);
    }
    await sleep(Math.random() * 10 * attempt);
  }
}

/**
 * SQLite's writer as a pipeline, for the checkout batch: the lane keeps the one writer connection
 * while batches keep coming, and a batch may build and send its program while the previous one is
 * still running, so the database goes from one batch's COMMIT straight into the next one's BEGIN
 * instead of waiting for this process to read, decide and write again.
 *
 * A program is `BEGIN IMMEDIATE; …steps…; COMMIT` in one exec (queued by the driver behind the one
 * before it). Whatever a batch decided from is only as good as what this lane saw: `epoch` changes
 * whenever that may no longer hold (the connection was given to another writer, or a program
 * failed), and whoever keeps figures between batches must drop them then. Correctness never rests
 * on those figures: the guards in each program do (see `commit` in sqliteTx).
 */
export interface Lane {
  run<T>(work: (tx: LaneTx) => Promise<T>): Promise<T>;
}

export interface LaneTx {
  readonly dialect: 'sqlite';
  readonly epoch: number;
  lit(value: Literal): string;
  /** Rows of a query (or a write of its own), outside any transaction but after every program sent before it. */
  all<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  /** Resolves when every program sent before has finished: then the readers see all of it. */
  settled(): Promise<void>;
  /** Sends the program; resolves when it has committed. After this, the next batch may start. */
  submit(steps: Step[]): Promise<void>;
}

export function createLane(db: Database): Lane {
  const client = db.knex.client as { acquireConnection(): Promise<unknown>; releaseConnection(c: unknown): Promise<unknown>; pool: { numPendingAcquires(): number } };
  let conn: Sqlite3Database | undefined;
  let epoch = 0;
  /** Programs sent and not yet finished. */
  const inflight = new Set<Promise<unknown>>();
  /** Works wait here for the one before them to send its program (or give up). */
  let turn: Promise<void> = Promise.resolve();
  let waiting = 0;

  const settled = () => Promise.allSettled([...inflight]);
  /** Gives the connection back once the programs sent on it have finished. */
  async function release(onlyIfIdle: boolean): Promise<void> {
    await settled();
    if (!conn || (onlyIfIdle && waiting > 0)) return;
    const c = conn;
    conn = undefined;
    epoch++;
    await client.releaseConnection(c);
  }

  async function connection(): Promise<Sqlite3Database> {
    // Another writer is waiting for the connection: let it have it between two batches.
    if (conn && client.pool.numPendingAcquires() > 0) await release(false);
    if (!conn) {
      conn = (await client.acquireConnection()) as Sqlite3Database;
      epoch++;
      await promise<void>((cb) => conn!.exec(guardTable, (err) => cb(err, undefined)));
    }
    return conn;
  }

  function send(c: Sqlite3Database, steps: Step[]): Promise<void> {
    const tx = sqliteTx(c);
    const sent = epoch;
    const done = tx.commit([{ sql: 'BEGIN IMMEDIATE' }, ...steps]).catch(async (err: unknown) => {
      // A failed program leaves its transaction open, and the programs queued behind it fail at
      // their BEGIN (nothing of theirs is written) until this ROLLBACK runs.
      if (epoch === sent) epoch++;
      await tx.rollback();
      throw /cannot start a transaction within a transaction/.test((err as Error)?.message) ? new ConflictRetry('an earlier batch failed') : err;
    });
    inflight.add(done);
    void done.finally(() => inflight.delete(done)).catch(() => undefined);
    return done;
  }

  return {
    async run(work) {
      const before = turn;
      let open!: () => void;
      turn = new Promise((r) => (open = r));
      waiting++;
      try {
        await before;
        const c = await connection();
        let sent = false;
        const result = await work({
          dialect: 'sqlite',
          epoch,
          lit: sqliteLiteral,
          all: <T>(sql: string) => promise<T[]>((cb) => c.all(sql, (err, rows) => cb(err, rows as T[]))),
          settled: () => settled().then(() => undefined),
          submit(steps) {
            sent = true;
            const done = send(c, steps);
            open();
            return done;
          },
        });
        if (!sent) open();
        return result;
      } catch (err) {
        open();
        throw err;
      } finally {
        // Idle: give the connection back, so the rest of the shop can write.
        if (--waiting === 0) void release(true).catch(() => undefined);
      }
    },
  };
}
