import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { connect } from './connect.js';
import { migrate, pendingMigrations } from './migrate.js';

it('opens SQLite with WAL, a busy timeout and foreign keys, and migrates idempotently', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cardshop-db-'));
  const db = connect('sqlite:./nested/shop.db', dir);
  try {
    const pragma = async (name: string) => Object.values((await db.knex.raw(`PRAGMA ${name}`))[0])[0];
    expect(await pragma('journal_mode')).toBe('wal');
    expect(await pragma('busy_timeout')).toBe(10000);
    expect(await pragma('foreign_keys')).toBe(1);
    // Every core migration, in order, once (the list grows; the first ones never change).
    const pending = await pendingMigrations(db);
    expect(pending.slice(0, 3)).toEqual(['20261202_001_init', '20261202_002_gateway_payments', '20261202_003_plugin_settings']);
    expect(await migrate(db)).toEqual(pending);
    expect(await migrate(db)).toEqual([]);
    await expect(db.knex('products').insert({ category_id: 999, slug: 'x', name: 'x', type: 'card', created_at: 0, updated_at: 0 })).rejects.toThrow(
      /FOREIGN KEY/,
    );
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

it('takes the busy timeout from the SQLite URL, on the writer and the readers', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cardshop-db-'));
  const db = connect('sqlite:shop.db?busyTimeout=250', dir);
  try {
    expect(db.label).toBe(`sqlite:${path.join(dir, 'shop.db')}`);
    for (const pool of [db.knex, db.read]) expect(Object.values((await pool.raw('PRAGMA busy_timeout'))[0])[0]).toBe(250);
    expect(() => connect('sqlite:shop.db?busyTimeout=soon', dir)).toThrow(/busyTimeout must be a number/);
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
