import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTestShop, TEST_DIALECTS } from '@cardshop/core/testing';
import { describe, expect, it } from 'vitest';

describe.each(TEST_DIALECTS)("a shop's local theme overrides (%s)", (dialect) => {
  it('replace one template, one partial and one locale string of the installed theme, and nothing else', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'cardshop-overrides-'));
    const mine = path.join(root, 'themes', '@cardshop', 'theme-default');
    mkdirSync(path.join(mine, 'partials'), { recursive: true });
    mkdirSync(path.join(mine, 'locales'), { recursive: true });
    mkdirSync(path.join(mine, 'templates'), { recursive: true });
    writeFileSync(path.join(mine, 'templates', 'error.hbs'), '<h1 class="my-error">{{status}} · {{message}}</h1>\n<p><a href="{{url "/"}}">{{t "nav.home"}}</a></p>\n');
    writeFileSync(path.join(mine, 'partials', 'status.hbs'), '<span class="my-status">{{status}}</span>');
    writeFileSync(path.join(mine, 'locales', 'zh-CN.json'), JSON.stringify({ 'nav.home': '星河首页' }));
    const t = await startTestShop({ dialect, config: { root } });
    try {
      const home = await t.client().get('/');
      expect(home.text).toContain('星河首页');
      expect(home.text).toContain('订单查询'); // every other string is still the theme's
      const missing = await t.client().get('/no/such/page');
      expect(missing.status).toBe(404);
      expect(missing.text).toContain('<h1 class="my-error">404 · ');
      expect(missing.text).toContain('<html lang="zh-CN">'); // inside the theme's own layout

      // an override that breaks the theme is refused at start, like a broken theme
      writeFileSync(path.join(mine, 'partials', 'status.hbs'), '{{shout status}}');
      await expect(startTestShop({ dialect, listen: false, config: { root } })).rejects.toThrow(/THEME-005 partials\/status\.hbs:1/);
    } finally {
      await t.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
