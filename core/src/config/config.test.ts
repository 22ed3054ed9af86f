import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from './config.js';

const SECRET = 's'.repeat(40);
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'cardshop-config-'));
  dirs.push(d);
  return d;
};
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('config', () => {
  it('has working defaults for a demo', () => {
    const c = parseConfig({ demo: true });
    expect(c).toMatchObject({ database: 'sqlite:./data/shop.db', host: '127.0.0.1', port: 3000, theme: '@cardshop/theme-default' });
    expect(c.shop).toEqual({ name: 'Cardshop', currency: 'CNY', locale: 'zh-CN' });
  });

  it('requires the secret outside the demo', () => {
    expect(() => parseConfig({})).toThrow(/secret: required/);
    expect(() => parseConfig({ secret: 'short' })).toThrow(/secret: must be at least 32 characters/);
  });

  it('names every bad key', () => {
    try {
      parseConfig({ secret: SECRET, database: 'postgres://x', port: 70000, shop: { locale: 'fr' as never }, typo: 1 } as never);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const msg = (err as Error).message;
      expect(msg).toMatch(/database: must be sqlite:<file> or mysql:/);
      expect(msg).toMatch(/port:/);
      expect(msg).toMatch(/shop\.locale:/);
      expect(msg).toMatch(/typo/);
    }
  });

  it('reads cardshop.config.json and lets the environment override it', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'cardshop.config.json'), JSON.stringify({ shop: { name: '星河卡盟' }, port: 4000, secret: SECRET }));
    const c = await loadConfig(dir, {}, { CARDSHOP_DATABASE: 'mysql://root@127.0.0.1:3306/shop', PORT: '5000' });
    expect(c).toMatchObject({ root: dir, database: 'mysql://root@127.0.0.1:3306/shop', port: 5000, shop: { name: '星河卡盟' } });
  });

  it('reads a TypeScript config and names the file in errors', async () => {
    const dir = tempDir();
    writeFileSync(
      path.join(dir, 'cardshop.config.ts'),
      `const port: number = 'oops' as unknown as number;\nexport default { port, secret: '${SECRET}' };\n`,
    );
    await expect(loadConfig(dir, {}, {})).rejects.toThrow(/Invalid cardshop\.config\.ts:\n  port:/);
    writeFileSync(path.join(dir, 'cardshop.config.ts'), `export default { port: 4100, secret: '${SECRET}' } satisfies Record<string, unknown>;\n`);
    expect((await loadConfig(dir, {}, {})).port).toBe(4100);
  });

  it('rejects a non-numeric PORT with the key named', async () => {
    await expect(loadConfig(tempDir(), {}, { PORT: 'eighty', CARDSHOP_SECRET: SECRET })).rejects.toThrow(/port:/);
  });
});
