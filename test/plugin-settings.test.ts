import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createShop, createUser, definePlugin, Secret } from '@cardshop/core';
import { createMysqlDatabase, TestClient, TEST_DIALECTS } from '@cardshop/core/testing';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';

/** A plugin whose settings have every kind of field, and which reports what it was given. */
const seen: Array<{ apiUrl: string; key: string; mode: string; live: boolean; types: string[]; timeoutMs: number }> = [];
const demo = definePlugin({
  name: 'demo-pay',
  version: '1.0.0',
  core: '>=0.1.0',
  settings: z.object({
    apiUrl: z.url().describe('API address / 接口地址'),
    key: z.string().min(8).transform((v) => new Secret(v)).meta({ secret: true }),
    mode: z.enum(['redirect', 'qr']).default('redirect'),
    live: z.boolean().default(false),
    types: z.array(z.string()).default(['alipay']),
    timeoutMs: z.number().int().min(100).default(5000),
  }),
  setup(ctx) {
    seen.push({ ...ctx.settings, key: ctx.settings.key.reveal() });
  },
});

describe.each(TEST_DIALECTS)('plugin settings in the admin (%s)', (dialect) => {
  it('shows a form from the schema, keeps secrets out of the page, validates, and applies on restart', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'cardshop-plugin-settings-'));
    const mysql = dialect === 'mysql' ? await createMysqlDatabase() : undefined;
    const config = {
      root,
      database: mysql?.url ?? `sqlite:${path.join(root, 'shop.db')}`,
      secret: randomBytes(32).toString('hex'),
      logLevel: 'error' as const,
      plugins: [demo({ apiUrl: 'https://pay.example.com', key: 'config-key-123' })],
    };
    const open = async () => {
      const shop = createShop(config);
      await shop.ready();
      return { shop, url: await shop.listen(0, '127.0.0.1') };
    };
    let { shop, url } = await open();
    try {
      await createUser(shop, { email: 'boss@example.com', password: 'password123', role: 'admin' });
      await createUser(shop, { email: 'clerk@example.com', password: 'password123' });
      expect((await new TestClient(url).get('/admin/plugins')).headers.get('location')).toBe('/login?next=%2Fadmin%2Fplugins');
      const clerk = await new TestClient(url).login('clerk@example.com', 'password123');
      expect((await clerk.get('/admin/plugins')).status).toBe(403);

      const boss = await new TestClient(url).login('boss@example.com', 'password123');
      const page = await boss.get('/admin/plugins');
      expect(page.status).toBe(200);
      expect(page.text).toContain('API address / 接口地址');
      expect(page.text).toContain('value="https://pay.example.com"');
      expect(page.text).toContain('type="password" name="key"');
      expect(page.text).not.toContain('config-key-123');
      expect(page.text).toMatch(/<select[^>]*name="mode"/);
      expect(page.text).toContain('type="checkbox" name="live"');
      const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;

      const bad = await boss.post('/admin/plugins/demo-pay', new URLSearchParams({ _csrf: csrf, apiUrl: 'not a url', mode: 'qr', types: 'alipay', timeoutMs: '5' }));
      expect(bad.status).toBe(400);
      expect(bad.text).toMatch(/class="error"/);
      expect(await shop.db.knex('plugin_settings').count({ n: '*' }).first()).toMatchObject({ n: 0 });
      expect((await boss.post('/admin/plugins/demo-pay', new URLSearchParams({ apiUrl: 'https://x.example' }))).status).toBe(403); // no CSRF token

      const ok = await boss.post(
        '/admin/plugins/demo-pay',
        new URLSearchParams({ _csrf: csrf, apiUrl: 'https://pay2.example.com', key: '', mode: 'qr', live: 'on', types: 'alipay, wxpay', timeoutMs: '2000' }),
      );
      expect(ok.status).toBe(303);
      const sealed = (await shop.db.knex('plugin_settings').where('plugin', 'demo-pay').first()).sealed as string;
      expect(sealed).not.toContain('config-key-123'); // stored encrypted

      await shop.close();
      ({ shop, url } = await open());
      expect(seen.at(-1)).toEqual({ apiUrl: 'https://pay2.example.com', key: 'config-key-123', mode: 'qr', live: true, types: ['alipay', 'wxpay'], timeoutMs: 2000 });
    } finally {
      await shop.close();
      await mysql?.drop();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
