import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTestShop } from '@cardshop/core/testing';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = path.resolve('core/dist/cli/main.js');
const DEFAULT_THEME = path.resolve('themes/default');

/** Runs the built command in an empty folder, with no secret and a database it could not open. */
function cardshop(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    env: { ...process.env, CARDSHOP_LOCALE: 'en', CARDSHOP_SECRET: '', CARDSHOP_DATABASE: 'postgres://nowhere' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('cardshop theme check', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cardshop-theme-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('passes the default theme without a database or a secret', () => {
    const r = cardshop(['theme', 'check', DEFAULT_THEME], dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/^error /m);
    expect(r.stdout.trim().split('\n').at(-1)).toMatch(/passes the check \(errors: 0, /);
  });

  it('fails a broken theme, naming rule, file and line', () => {
    const theme = path.join(dir, 'broken');
    cpSync(DEFAULT_THEME, theme, { recursive: true });
    const home = path.join(theme, 'templates/home.hbs');
    const before = readFileSync(home, 'utf8').replace(/\n?$/, '\n');
    writeFileSync(home, `${before}<p>{{shout "hi"}}</p>\n`);
    const line = before.split('\n').length;

    const r = cardshop(['theme', 'check', theme], dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`error THEME-005 templates/home.hbs:${line} unknown helper "shout"`);
    expect(r.stdout.trim().split('\n').at(-1)).toMatch(/fails the check \(errors: 1, /);
  });

  it('documents itself', () => {
    const r = cardshop(['theme', '--help'], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('cardshop theme check DIR');
    expect(cardshop(['--help'], dir).stdout).toContain('theme');
  });

  it('answers bad use with one line and exit code 2', () => {
    const cases: Array<[string[], RegExp]> = [
      [['theme', 'check'], /theme check needs a theme DIR/],
      [['theme', 'lint', DEFAULT_THEME], /unknown subcommand "theme lint"/],
      [['theme', 'check', path.join(dir, 'nope')], /nope is not a folder/],
      [['theme', 'check', path.join(DEFAULT_THEME, 'package.json')], /package\.json is not a folder/],
    ];
    for (const [args, message] of cases) {
      const r = cardshop(args, dir);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
  });
});

describe('a shop with a broken theme', () => {
  it('refuses to start and says why', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'cardshop-broken-theme-'));
    try {
      cpSync(path.resolve('themes/default'), path.join(root, 'mytheme'), { recursive: true });
      writeFileSync(path.join(root, 'mytheme', 'templates', 'home.hbs'), '<h1>{{shout shop.name}}</h1>\n');
      await expect(startTestShop({ listen: false, config: { root, theme: './mytheme' } })).rejects.toThrow(
        /theme \.\/mytheme does not pass its check[\s\S]*THEME-005 templates\/home\.hbs:1/,
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
