import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMysqlDatabase, TEST_DIALECTS } from '../testing/index.js';
import { connect, type Database } from './connect.js';
import { ConflictRetry } from './dialect.js';
import { rawTransaction } from './raw.js';

const later = () => {
  let open!: () => void;
  const done = new Promise<void>((r) => (open = r));
  return { done, open };
};

describe.each(TEST_DIALECTS)('raw transactions (%s)', (dialect) => {
  let db: Database;
  let drop = async () => {};

  beforeAll(async () => {
    if (dialect === 'mysql') {
      const made = await createMysqlDatabase();
      db = connect(made.url);
      drop = made.drop;
    } else db = connect('sqlite::memory:');
    await db.knex.schema.createTable('items', (t) => {
      t.integer('id').primary();
      t.integer('v').notNullable();
    });
    await db.knex.schema.createTable('log', (t) => t.string('who', 8));
    await db.knex('items').insert([{ id: 1, v: 0 }, { id: 2, v: 0 }]);
  });
  afterAll(async () => {
    await db?.close();
    await drop();
  });

  it('writes nothing of a transaction whose guard fails, and quotes any text safely', async () => {
    const evil = "x'); DELETE FROM items; --\0";
    await expect(
      rawTransaction(db, (tx) => tx.commit([{ sql: `INSERT INTO log (who) VALUES (${tx.lit(evil.slice(0, 8))})` }, { sql: 'UPDATE items SET v = v + 1 WHERE id = 3', expect: 1 }]), 1),
    ).rejects.toBeInstanceOf(ConflictRetry);
    expect(await db.knex('log').count({ n: '*' }).first()).toMatchObject({ n: 0 });
    await rawTransaction(db, (tx) => tx.commit([{ sql: `INSERT INTO log (who) VALUES (${tx.lit("a'b\0c")})` }]));
    expect(await db.knex('log').pluck('who')).toEqual(["a'b\0c"]);
    await db.knex('log').del();
  });

  it.runIf(dialect === 'mysql')('leaves nothing of the loser of a deadlock, not even the statements queued after the one that failed', async () => {
    const aLocked = later();
    const bLocked = later();
    const a = rawTransaction(
      db,
      async (tx) => {
        await tx.all('SELECT * FROM items WHERE id = 1 FOR UPDATE');
        aLocked.open();
        await bLocked.done;
        await tx.commit([{ sql: 'UPDATE items SET v = v + 1 WHERE id = 2' }, { sql: "INSERT INTO log (who) VALUES ('a')" }]);
      },
      1,
    );
    const b = rawTransaction(
      db,
      async (tx) => {
        await aLocked.done;
        await tx.all('SELECT * FROM items WHERE id = 2 FOR UPDATE');
        bLocked.open();
        // a now waits for row 2; asking for row 1 makes the cycle InnoDB breaks by rolling one back.
        await new Promise((r) => setTimeout(r, 200));
        await tx.commit([{ sql: 'UPDATE items SET v = v + 1 WHERE id = 1' }, { sql: "INSERT INTO log (who) VALUES ('b')" }]);
      },
      1,
    );
    const [ra, rb] = await Promise.allSettled([a, b]);
    const won = ra.status === 'fulfilled' ? 'a' : 'b';
    expect([ra.status, rb.status].sort()).toEqual(['fulfilled', 'rejected']);
    expect(await db.knex('log').pluck('who')).toEqual([won]);
    const rows = Object.fromEntries((await db.knex('items').select('id', 'v')).map((r: { id: number; v: number }) => [r.id, r.v]));
    expect(rows).toEqual(won === 'a' ? { 1: 0, 2: 1 } : { 1: 1, 2: 0 });
    // the connection went back to the pool in autocommit: a plain write is there for everyone at once
    await db.knex('log').insert({ who: 'after' });
    expect(await db.knex('log').where('who', 'after').count({ n: '*' }).first()).toMatchObject({ n: 1 });
  });
});
