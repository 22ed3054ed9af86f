import { randomBytes } from 'node:crypto';
import { importKeys, stockOf } from '@cardshop/core';
import { startTestShop, type TestClient, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku } from './fixtures.js';

/**
 * The disk fills up during a key import. A small file system needs root here, so the storage
 * boundary is SQLite's own: `PRAGMA max_page_count` on the shop's writer connection caps the
 * database file, and a write past it fails with SQLITE_FULL exactly as a full disk does. MariaDB
 * has no such cap per database, so this runs on SQLite only.
 */
describe('a full disk while importing keys (sqlite)', () => {
  let t: TestShop;
  let admin: TestClient;
  const pragma = async (sql: string) => Number(Object.values((await t.shop.db.knex.raw(`PRAGMA ${sql}`))[0] ?? {})[0]);
  const lines = (n: number) => {
    const tag = randomBytes(4).toString('hex');
    return Array.from({ length: n }, (_, i) => `KEY-${tag}-${String(i).padStart(6, '0')}-${'x'.repeat(40)}`);
  };

  beforeAll(async () => {
    t = await startTestShop({ dialect: 'sqlite' });
    const a = await t.createUser({ role: 'admin' });
    admin = await t.client().login(a.email, a.password);
  });
  afterAll(async () => {
    await t?.shop.db.knex.raw('PRAGMA max_page_count = 1073741823');
    await t?.close();
  });

  it('stops with a clear error, counts only whole batches, and imports again once there is room', async () => {
    const { code } = await cardSku(t.shop, { keys: 0 });
    // How much one batch of 2,000 keys takes, then room for about one and a half more.
    const empty = await pragma('page_count');
    await importKeys(t.shop, { sku: code, lines: lines(2_000) });
    const perBatch = (await pragma('page_count')) - empty;
    await t.shop.db.knex.raw(`PRAGMA max_page_count = ${(await pragma('page_count')) + Math.round(perBatch * 1.5)}`);

    await expect(importKeys(t.shop, { sku: code, lines: lines(10_000) })).rejects.toMatchObject({ code: 'SQLITE_FULL' });
    const after = await stockOf(t.shop, code);
    expect(after.counter).toBe(after.available);
    // The batch that met the full disk left nothing: whole batches only, and not all of them.
    expect(after.available % 2_000).toBe(0);
    expect(after.available).toBeGreaterThanOrEqual(2_000);
    expect(after.available).toBeLessThan(12_000);

    // Over the admin API, with no room left at all: a 503 that says what happened, in the admin's language, nothing written.
    await t.shop.db.knex.raw(`PRAGMA max_page_count = ${await pragma('page_count')}`);
    const full = await admin.request('POST', `/api/admin/inventory/${code}/import`, { keys: lines(500).join('\n') }, { 'accept-language': 'en' });
    expect(full.status, full.text).toBe(503);
    expect(full.body.error).toEqual({ code: 'storage_full', message: "The server's storage is full. Your request was not carried out; please tell the shop's owner." });
    expect(await stockOf(t.shop, code)).toEqual(after);

    // Room again (the operator freed the disk): the same import goes through, no restart.
    await t.shop.db.knex.raw('PRAGMA max_page_count = 1073741823');
    const ok = await admin.post(`/api/admin/inventory/${code}/import`, { keys: lines(500).join('\n') });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body.added).toBe(500);
    expect(await stockOf(t.shop, code)).toEqual({ counter: after.available + 500, available: after.available + 500 });
  });
});
