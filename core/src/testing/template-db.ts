/**
 * Test databases that start migrated: the core's migrations run once per schema (see
 * schemaFingerprint) into a template, and every test shop gets a copy. Migrating from scratch took
 * 2-4 s on SQLite (its ALTERs rebuild tables) and 10-15 s on MariaDB under CI's load, in every one
 * of the suite's ~200 test shops; a copy takes milliseconds on SQLite and ~3 s on MariaDB.
 * Plugins' migrations still run in the shop itself, as in production.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { connect } from '../db/connect.js';
import { migrate, schemaFingerprint } from '../db/migrate.js';

/** Writes a migrated SQLite database to `file`. */
export async function copyMigratedSqlite(file: string): Promise<void> {
  const template = path.join(tmpdir(), 'cardshop-test-templates', `${schemaFingerprint()}.db`);
  if (!existsSync(template)) {
    mkdirSync(path.dirname(template), { recursive: true });
    const scratch = `${template}.${randomBytes(4).toString('hex')}`;
    const db = connect(`sqlite:${scratch}`);
    try {
      await migrate(db);
      // One self-contained file (no WAL beside it), renamed into place: a test file racing this
      // one in another worker sees either no template or a whole one.
      await db.knex.raw('VACUUM INTO ?', [`${scratch}.db`]);
    } finally {
      await db.close();
      rmSync(scratch, { force: true });
      rmSync(`${scratch}-wal`, { force: true });
      rmSync(`${scratch}-shm`, { force: true });
    }
    renameSync(`${scratch}.db`, template);
  }
  copyFileSync(template, file);
}

const READY = '_template_ready';

/** The MySQL template database for this schema, built once under a server-wide lock. */
async function mysqlTemplate(admin: Knex, serverUrl: URL): Promise<string> {
  const name = `cardshop_tmpl_${schemaFingerprint()}`;
  const ready = async () =>
    (await admin('information_schema.tables').where({ table_schema: name, table_name: READY }).first()) !== undefined;
  if (await ready()) return name;
  await admin.raw(`SELECT GET_LOCK('cardshop_test_template', 300)`);
  try {
    if (await ready()) return name;
    // Templates of other schemas may be in use by another checkout's tests: only a day-old one goes.
    const stale = await admin('information_schema.tables')
      .where('table_schema', 'like', 'cardshop\\_tmpl\\_%')
      .where('table_name', READY)
      .where('create_time', '<', admin.raw('NOW() - INTERVAL 1 DAY'))
      .pluck('table_schema');
    // A template left half-built by a killed run is built again.
    for (const db of [...stale, name]) await admin.raw(`DROP DATABASE IF EXISTS \`${db}\``);
    await admin.raw(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    const db = connect(url.toString());
    try {
      await migrate(db);
      await db.knex.raw(`CREATE TABLE \`${READY}\` (id INT)`);
    } finally {
      await db.close();
    }
    return name;
  } finally {
    await admin.raw(`SELECT RELEASE_LOCK('cardshop_test_template')`);
  }
}

/**
 * Fills the empty database `target` with the migrated schema: each table as SHOW CREATE TABLE
 * gives it (foreign keys included, checks off while they are created) and its rows.
 */
export async function copyMigratedMysql(admin: Knex, serverUrl: URL, target: string): Promise<void> {
  const template = await mysqlTemplate(admin, serverUrl);
  const tables = (await admin('information_schema.tables').where('table_schema', template).whereNot('table_name', READY).pluck('table_name')) as string[];
  const url = new URL(serverUrl);
  url.pathname = `/${target}`;
  const copier = knexFactory({
    client: 'mysql2',
    connection: url.toString(),
    pool: { min: 0, max: 4, afterCreate: (conn: { query(sql: string, cb: (err: Error | null) => void): void }, done: (err: Error | null, conn: unknown) => void) => conn.query('SET FOREIGN_KEY_CHECKS = 0', (err) => done(err, conn)) },
  });
  try {
    await Promise.all(
      tables.map(async (table) => {
        const [[row]] = (await admin.raw(`SHOW CREATE TABLE \`${template}\`.\`${table}\``)) as [[Record<string, string>]];
        await copier.raw(row!['Create Table']!);
        await copier.raw(`INSERT INTO \`${table}\` SELECT * FROM \`${template}\`.\`${table}\``);
      }),
    );
  } finally {
    await copier.destroy();
  }
}
