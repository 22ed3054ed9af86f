import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { adjustWallet, CORE_VERSION, definePlugin, type HookEvents } from '@cardshop/core';
import { startTestShop, TEST_DIALECTS } from '@cardshop/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { cardSku } from './fixtures.js';

/** A plugin that uses every part of the context, and records what it saw. */
function recorder() {
  const seen: Array<[keyof HookEvents, unknown]> = [];
  const started: string[] = [];
  const plugin = definePlugin({
    name: 'recorder',
    version: '1.0.0',
    core: `^${CORE_VERSION}`,
    settings: z.object({ greeting: z.string().default('你好'), maxQuantity: z.number().int().positive() }),
    migrations: [
      {
        name: '20261202_001_notes',
        up: (knex) => knex.schema.createTable('recorder_notes', (t) => {
          t.increments('id');
          t.string('text', 100).notNullable();
        }),
        down: (knex) => knex.schema.dropTable('recorder_notes'),
      },
    ],
    setup(ctx) {
      for (const event of ['order.created', 'order.paid', 'order.delivered', 'wallet.credited'] as const) {
        ctx.on(event, (payload) => void seen.push([event, payload]));
      }
      ctx.on('order.paid', () => {
        throw new Error('a broken listener');
      });
      ctx.veto('before.checkout', ({ quantity }) => (quantity > ctx.settings.maxQuantity ? `at most ${ctx.settings.maxQuantity} at once` : undefined));
      ctx.routes((r) => {
        r.get('/hello', async (c) => {
          const notes = await ctx.db('recorder_notes').count({ n: '*' }).first();
          c.body = { greeting: ctx.settings.greeting, notes: Number(notes?.n) };
        });
      });
      ctx.onStart(async () => {
        await ctx.db('recorder_notes').insert({ text: 'started' });
        started.push(ctx.name);
      });
    },
  });
  return { plugin, seen, started };
}

describe.each(TEST_DIALECTS)('plugin host (%s)', (dialect) => {
  it('sets a plugin up: settings, migrations, routes, hooks, vetoes, lifecycle', async () => {
    const { plugin, seen, started } = recorder();
    const t = await startTestShop({ dialect, config: { plugins: [plugin({ maxQuantity: 2 })] } });
    try {
      expect(started).toEqual(['recorder']);
      expect(t.shop.plugins.plugins).toEqual([{ name: 'recorder', version: '1.0.0', settings: { greeting: '你好', maxQuantity: 2 } }]);
      expect((await t.client().get('/plugins/recorder/hello')).body).toEqual({ greeting: '你好', notes: 1 });
      expect(await t.shop.db.knex.schema.hasTable('cardshop_migrations_recorder')).toBe(true);

      const { code, keys } = await cardSku(t.shop, { keys: 5, maxQuantity: 5 });
      const u = await t.createUser({ balance: 100_000 });
      const buyer = await t.client().login(u.email, u.password);
      const refused = await buyer.post('/api/store/checkout', { sku: code, quantity: 3, payment: 'wallet' });
      expect(refused.status).toBe(403);
      expect(refused.body.error).toMatchObject({ code: 'vetoed', message: '该操作被拒绝：at most 2 at once' });
      expect(Number((await t.shop.db.knex('orders').count({ n: '*' }).first())?.n)).toBe(0);

      // a listener that throws is logged; the buyer still gets the order
      const ok = await buyer.post('/api/store/checkout', { sku: code, quantity: 2, payment: 'wallet' });
      expect(ok.status).toBe(201);
      await t.shop.hooks.idle();
      const events = seen.map(([e]) => e);
      expect(events).toEqual(['wallet.credited', 'order.created', 'order.paid', 'order.delivered']);
      const delivered = seen.find(([e]) => e === 'order.delivered')![1] as HookEvents['order.delivered'];
      expect(delivered.order.keys.map((k) => k.card)).toEqual(keys.slice(0, 2));

      await adjustWallet(t.shop, { userId: u.id, amount: 500, reason: 'bonus' });
      await t.shop.hooks.idle();
      expect(seen.at(-1)).toEqual(['wallet.credited', expect.objectContaining({ userId: u.id, amount: 500, reason: 'bonus' })]);
    } finally {
      await t.close();
    }
  });

  it('refuses a plugin made for another core, unless told to ignore it', async () => {
    const def = definePlugin({ name: 'old', version: '0.9.0', core: '^9.0.0', setup() {} });
    await expect(startTestShop({ dialect, listen: false, config: { plugins: [def()] } })).rejects.toThrow(
      `plugin old 0.9.0 supports @cardshop/core ^9.0.0, but this is @cardshop/core ${CORE_VERSION}`,
    );
    const t = await startTestShop({ dialect, listen: false, config: { plugins: [def(undefined, { ignoreCompatibility: true })] } });
    expect(t.shop.plugins.plugins.map((p) => p.name)).toEqual(['old']);
    await t.close();
  });

  it('names the plugin and the key of bad settings', async () => {
    const { plugin } = recorder();
    await expect(startTestShop({ dialect, listen: false, config: { plugins: [plugin({ maxQuantity: -1 })] } })).rejects.toThrow(
      /Invalid settings for plugin recorder:\n  maxQuantity:/,
    );
  });
});

describe('plugins named by package', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'cardshop-plugin-pkg-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('loads an installed package with settings from a JSON-style config', async () => {
    const dir = path.join(root, 'node_modules', '@acme', 'cardshop-plugin-hello');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(root, 'package.json'), '{"name":"shop","private":true}');
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: '@acme/cardshop-plugin-hello', version: '2.0.0', type: 'module', main: 'index.js', cardshop: { plugin: true } }));
    const core = pathToFileURL(path.resolve('core/dist/index.js')).href;
    writeFileSync(
      path.join(dir, 'index.js'),
      `import { definePlugin, CORE_VERSION } from '${core}';\n` +
        `export default definePlugin({ name: 'hello', version: '2.0.0', core: '>=' + CORE_VERSION, setup(ctx) { ctx.routes((r) => r.get('/', (c) => { c.body = { hi: ctx.settings.who }; })); } });\n`,
    );
    const t = await startTestShop({ config: { root, plugins: [{ package: '@acme/cardshop-plugin-hello', settings: { who: 'world' } }] } });
    try {
      expect((await t.client().get('/plugins/hello/')).body).toEqual({ hi: 'world' });
    } finally {
      await t.close();
    }
    await expect(startTestShop({ listen: false, config: { root, plugins: ['@acme/not-installed'] } })).rejects.toThrow(
      /plugin @acme\/not-installed: cannot load it .*is it installed\?/,
    );
  });
});
