import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stockOf } from '@cardshop/core';
import { startTestShop, TEST_DIALECTS, type TestClient, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku } from './fixtures.js';

/** The import preview (console, admin API, CLI) and the per-SKU dedupe switch. */

const keyRows = async (t: TestShop, code: string) =>
  Number((await t.shop.db.knex('card_keys').join('skus', 'skus.id', 'card_keys.sku_id').where('skus.code', code).count({ n: '*' }).first())!.n);

describe.each(TEST_DIALECTS)('key import preview and dedupe (%s)', (dialect) => {
  let t: TestShop;
  let admin: TestClient;
  let csrf: string;

  beforeAll(async () => {
    t = await startTestShop({ dialect });
    const a = await t.createUser({ role: 'admin' });
    admin = await t.client().login(a.email, a.password);
    csrf = await admin.csrf('/admin/inventory');
  });
  afterAll(() => t?.close());

  it('previews an import over the admin API without writing, then imports exactly what it counted', async () => {
    const { code, keys } = await cardSku(t.shop, { keys: 3 });
    const file = ['NEW-000001', keys[0], 'NEW-000002,PIN', 'NEW-000001', 'a,b,c', '', '# note', keys[1], 'x'.repeat(501)].join('\n');
    const before = await keyRows(t, code);

    const preview = await admin.post(`/api/admin/inventory/${code}/import`, { keys: file, dryRun: true });
    expect(preview.status).toBe(200);
    expect(preview.body).toMatchObject({ sku: code, dedupe: true, lines: 9, added: 2, duplicatesInFile: 1, duplicatesInStock: 2, duplicates: 3, rejected: 2 });
    expect(preview.body.rejections).toEqual([
      { line: 5, reason: 'key.fields' },
      { line: 9, reason: 'key.too_long' },
    ]);
    expect(await keyRows(t, code)).toBe(before);
    expect(await stockOf(t.shop, code)).toEqual({ counter: 3, available: 3 });

    const real = await admin.post(`/api/admin/inventory/${code}/import`, { keys: file });
    expect(real.status).toBe(200);
    expect(real.body).toMatchObject({ added: preview.body.added, duplicates: preview.body.duplicates, rejected: preview.body.rejected });
    expect(await stockOf(t.shop, code)).toEqual({ counter: 5, available: 5 });
    // Now everything valid in the file is in stock.
    const again = await admin.post(`/api/admin/inventory/${code}/import`, { keys: file, dryRun: true });
    expect(again.body).toMatchObject({ added: 0, duplicatesInFile: 1, duplicatesInStock: 4 });

    // Refused, naming the field, nothing written.
    for (const body of [{ keys: '' }, { keys: 'K-1', format: 'xml' }, { keys: 'K-1', dryRun: 'yes' }, { keys: 'K-1', extra: 1 }]) {
      const r = await admin.post(`/api/admin/inventory/${code}/import`, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(Object.keys(r.body.error.fields).length).toBe(1);
    }
    expect((await admin.post('/api/admin/inventory/NO-SUCH-SKU/import', { keys: 'K-1', dryRun: true })).status).toBe(404);
    expect((await t.client().post(`/api/admin/inventory/${code}/import`, { keys: 'K-1' })).status).toBe(401);
    expect(await keyRows(t, code)).toBe(before + 2);
  });

  it('imports repeats as keys of their own once dedupe is off, and counts them in the preview', async () => {
    const { code } = await cardSku(t.shop, { keys: 2 });
    const file = ['SAME-1', 'SAME-1', `${code}-KEY-000000`, 'OTHER-1'].join('\n');

    for (const body of [{ dedupe: 'no' }, { dedupe: false, colour: 'red' }]) {
      const r = await admin.put(`/api/admin/inventory/${code}/options`, body);
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('validation_failed');
    }
    expect((await admin.put(`/api/admin/inventory/${code}/options`, { dedupe: false })).status).toBe(204);

    const preview = await admin.post(`/api/admin/inventory/${code}/import`, { keys: file, dryRun: true });
    expect(preview.body).toMatchObject({ dedupe: false, added: 4, duplicates: 0, duplicatesInFile: 1, duplicatesInStock: 1 });
    const real = await admin.post(`/api/admin/inventory/${code}/import`, { keys: file });
    expect(real.body).toMatchObject({ added: 4, duplicates: 0 });
    expect(await stockOf(t.shop, code)).toEqual({ counter: 6, available: 6 });

    // Back on: the copies already there stay, new repeats are skipped again.
    expect((await admin.put(`/api/admin/inventory/${code}/options`, { dedupe: true })).status).toBe(204);
    expect((await admin.post(`/api/admin/inventory/${code}/import`, { keys: 'NEW-1\nNEW-1\nOTHER-1' })).body).toMatchObject({ added: 1, duplicates: 2 });
    expect(await stockOf(t.shop, code)).toEqual({ counter: 7, available: 7 });
    expect(Number((await t.shop.db.knex('audit_log').where({ action: 'sku.key_options', target_id: code }).count({ n: '*' }).first())!.n)).toBe(2);
  });

  it('previews in the console from the import form, keeps the form filled, and switches dedupe from the SKU page', async () => {
    const { code, keys } = await cardSku(t.shop, { keys: 2 });
    const post = async (fields: Record<string, string>, file?: string) => {
      const body = new FormData();
      body.set('_csrf', csrf);
      for (const [k, v] of Object.entries(fields)) body.set(k, v);
      body.set('file', new Blob([file ?? '']), file === undefined ? '' : 'keys.txt');
      const res = await fetch(`${t.url}/admin/inventory/import`, { method: 'POST', body, headers: { cookie: admin.cookieHeader }, redirect: 'manual' });
      return { status: res.status, text: await res.text() };
    };
    const cell = (html: string, name: string) => Number(new RegExp(`data-${name}[^>]*>(\\d+)<`).exec(html)?.[1]);

    const r = await post({ sku: code, format: 'text', keys: `PASTED-1\n${keys[0]}`, dryRun: '1' }, 'FILE-1\nPASTED-1\na,b,c');
    expect(r.status).toBe(200);
    expect(r.text).toContain('data-preview');
    expect([cell(r.text, 'added'), cell(r.text, 'in-file'), cell(r.text, 'in-stock'), cell(r.text, 'rejected')]).toEqual([2, 1, 1, 1]);
    expect(r.text).toMatch(/<textarea[^>]*>PASTED-1\r?\n/);
    expect(r.text).toContain('多于两个字段');
    expect(await stockOf(t.shop, code)).toEqual({ counter: 2, available: 2 });

    const opts = await admin.post(`/admin/inventory/${code}/options`, new URLSearchParams({ _csrf: csrf }));
    expect(opts.status).toBe(303);
    expect((await admin.get(`/admin/inventory/${code}`)).text).not.toMatch(/name="dedupe" value="1" checked/);
    const off = await post({ sku: code, format: 'text', keys: `PASTED-1\n${keys[0]}`, dryRun: '1' });
    expect(off.text).toContain('data-no-dedupe');
    expect(cell(off.text, 'added')).toBe(2);
    expect((await admin.post(`/admin/inventory/${code}/options`, new URLSearchParams({ dedupe: '1' }))).status).toBe(403);
  });
});

describe('cardshop keys import --dry-run', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cardshop-keys-cli-'));
  const env = { ...process.env, CARDSHOP_LOCALE: 'en', CARDSHOP_DATABASE: `sqlite:${path.join(dir, 'shop.db')}`, CARDSHOP_SECRET: 'keys-cli-secret-'.padEnd(48, 'x') };
  const cardshop = (...args: string[]) => spawnSync(process.execPath, [path.resolve('core/dist/cli/main.js'), ...args], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('counts new, duplicate and malformed lines and writes nothing', () => {
    expect(cardshop('seed', '--demo').status).toBe(0);
    const file = path.join(dir, 'keys.txt');
    writeFileSync(file, 'OLD-1\nOLD-2\n');
    expect(cardshop('keys', 'import', file, '--sku', 'OFFICE-PRO').stdout).toContain('OFFICE-PRO: 2 added');
    writeFileSync(file, 'OLD-1\nNEW-1\nNEW-1\nNEW-2,PIN\na,b,c\n');
    for (let i = 0; i < 2; i++) {
      const r = cardshop('keys', 'import', file, '--sku', 'OFFICE-PRO', '--dry-run');
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('OFFICE-PRO (preview, nothing written): 2 would be added, 1 repeated within the file, 1 already in the SKU, 1 rejected (5 lines)');
      expect(r.stdout).toContain('line 5: more than two fields');
    }
    expect(cardshop('keys', 'import', file, '--sku', 'OFFICE-PRO').stdout).toContain('OFFICE-PRO: 2 added, 2 duplicates skipped, 1 rejected');
  });
});
