import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { parseEnv } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { packageName, projectFiles, SQLITE_URL, type Project } from './files.js';
import { translator } from './messages.js';
import { collect, detectPackageManager, parsers } from './options.js';
import { tarballsIn, versionRange } from './packages.js';
import { Prompter } from './prompt.js';

const t = translator('en');
const tmp = mkdtempSync(path.join(tmpdir(), 'create-cardshop-unit-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const project = (over: Partial<Project> = {}): Project => ({
  dir: path.join(tmp, 'My Shop'),
  name: "Bob's 卡盟",
  lang: 'en',
  database: SQLITE_URL,
  theme: 'default',
  plugins: [],
  packageManager: 'npm',
  secret: 'a'.repeat(64),
  source: (name) => `^0.1.0-${name}`,
  ...over,
});

describe('the files of a new shop', () => {
  it('depends on the chosen packages and keeps secrets in .env only', () => {
    const files = projectFiles(project({ theme: 'wholesale', plugins: ['epay', 'stripe'], database: 'mysql://shop:p#ss@db:3306/shop' }));
    const pkg = JSON.parse(files['package.json']!);
    expect(pkg.name).toBe('my-shop');
    expect(Object.keys(pkg.dependencies)).toEqual(['@cardshop/core', '@cardshop/theme-wholesale', '@cardshop/plugin-payment-epay', '@cardshop/plugin-payment-stripe']);
    expect(pkg.dependencies['@cardshop/core']).toBe('^0.1.0-@cardshop/core');
    expect(pkg.overrides).toBeUndefined();

    const env = parseEnv(files['.env']!);
    expect(env).toMatchObject({ CARDSHOP_SECRET: 'a'.repeat(64), CARDSHOP_DATABASE: 'mysql://shop:p#ss@db:3306/shop', EPAY_PID: '', STRIPE_SECRET_KEY: '' });
    const config = files['cardshop.config.ts']!;
    expect(config).not.toContain('p#ss');
    expect(config).not.toContain("database: 'sqlite");
    expect(config).toContain("theme: '@cardshop/theme-wholesale'");
    expect(config).toContain("import stripe from '@cardshop/plugin-payment-stripe';");
    expect(config).toContain("...(filled('EPAY_API_URL', 'EPAY_PID', 'EPAY_KEY') ? [epay({ apiUrl: env.EPAY_API_URL!, pid: env.EPAY_PID!, key: env.EPAY_KEY! })] : []),");
    expect(config).toContain(`name: "Bob's 卡盟"`);
  });

  it('points every @cardshop package at its tarball for the package manager in use', () => {
    const tarballs = new Map([['@cardshop/core', '/p/cardshop-core-0.1.0.tgz'], ['@cardshop/theme-default', '/p/cardshop-theme-default-0.1.0.tgz']]);
    const source = (name: string) => `file:${tarballs.get(name)}`;
    const npm = JSON.parse(projectFiles(project({ tarballs, source }))['package.json']!);
    expect(npm.overrides).toEqual({ '@cardshop/core': 'file:/p/cardshop-core-0.1.0.tgz', '@cardshop/theme-default': 'file:/p/cardshop-theme-default-0.1.0.tgz' });
    const pnpm = JSON.parse(projectFiles(project({ tarballs, source, packageManager: 'pnpm' }))['package.json']!);
    expect(pnpm.pnpm).toEqual({ onlyBuiltDependencies: ['sqlite3'], overrides: npm.overrides });
    const yarn = projectFiles(project({ tarballs, source, packageManager: 'yarn' }));
    expect(JSON.parse(yarn['package.json']!).resolutions).toEqual(npm.overrides);
    expect(yarn['.yarnrc.yml']).toBe('nodeLinker: node-modules\n');
  });

  it('makes a sub-agent shop buy from its upstream, with the secret in .env only', () => {
    const upstream = { url: 'https://up.example.com', key: 'ck_abcd1234', secret: 'cs_s3cret-value', markup: 12.5 };
    const files = projectFiles(project({ upstream, plugins: ['epay'] }));
    expect(Object.keys(JSON.parse(files['package.json']!).dependencies)).toEqual(['@cardshop/core', '@cardshop/theme-default', '@cardshop/plugin-payment-epay', '@cardshop/plugin-supplier-cardshop']);
    const config = files['cardshop.config.ts']!;
    expect(config).toContain("import upstream from '@cardshop/plugin-supplier-cardshop';");
    expect(config).toContain('    upstream({ url: "https://up.example.com", key: "ck_abcd1234", secret: process.env.UPSTREAM_SECRET!, import: { markupPercent: 12.5 } }),\n');
    expect(config).toContain('[epay(');
    expect(config).not.toContain('cs_s3cret');
    expect(parseEnv(files['.env']!).UPSTREAM_SECRET).toBe('cs_s3cret-value');
    expect(files['README.md']).toContain('https://up.example.com, priced at its price +12.5%');
    expect(projectFiles(project())['cardshop.config.ts']).not.toContain('upstream');
  });

  it('writes the README and the themes/ guide in the shop language', () => {
    expect(projectFiles(project({ lang: 'zh-CN' }))['README.md']).toContain('导入卡密');
    expect(projectFiles(project())['themes/README.md']).toContain('themes/@cardshop/theme-default/templates/home.hbs');
    expect(packageName('/x/星河')).toBe('my-cardshop');
  });
});

describe('answers', () => {
  it('takes flags, checks them like answers, and defaults the rest without a terminal', async () => {
    const a = await collect({ plugins: 'epay, wechatpay', lang: 'en' }, path.join(tmp, 'fresh'), t, 'en', undefined, () => {});
    expect(a).toMatchObject({ name: 'My Card Shop', lang: 'en', database: SQLITE_URL, theme: 'default', plugins: ['epay', 'wechatpay'], adminEmail: 'admin@example.com', passwordGenerated: true });
    expect(a.adminPassword.length).toBeGreaterThanOrEqual(16);
    await expect(collect({ theme: 'neon' }, path.join(tmp, 'fresh'), t, 'en', undefined, () => {})).rejects.toThrow('--theme must be one of default, wholesale');
    await expect(collect({ plugins: 'paypal' }, path.join(tmp, 'fresh'), t, 'en', undefined, () => {})).rejects.toThrow('--plugins has no plugin "paypal"');
    await expect(collect({ 'admin-password': 'short' }, path.join(tmp, 'fresh'), t, 'en', undefined, () => {})).rejects.toThrow('--admin-password must be 8 to 200 characters');
    expect(await parsers(t).database('postgres://x')).toEqual({ error: t('err.database') });
  });

  it('takes an upstream only with its address, and tries it before going on', async () => {
    const fresh = path.join(tmp, 'fresh');
    const given = (flags: Parameters<typeof collect>[0]) => collect({ lang: 'en', ...flags }, fresh, t, 'en', undefined, () => {});
    expect((await given({})).upstream).toBeUndefined();
    await expect(given({ markup: '20' })).rejects.toThrow('--markup needs --upstream-url too');
    await expect(given({ 'upstream-url': 'ftp://up.example.com' })).rejects.toThrow("--upstream-url must be the upstream shop's http(s) address");
    await expect(given({ 'upstream-url': 'http://127.0.0.1:3000' })).rejects.toThrow('--upstream-key must be an API key from the upstream shop');
    // A port nobody listens on: one a server just gave back.
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const closed = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await new Promise((r) => server.close(r));
    await expect(given({ 'upstream-url': `${closed}/`, 'upstream-key': 'ck_abcd1234', 'upstream-secret': 'cs_12345678' })).rejects.toThrow(
      `--upstream-url cannot reach the Agent API of ${closed}: ECONNREFUSED`,
    );
    expect(parsers(t).markup('12.5')).toBe(12.5);
    expect(parsers(t).markup('1001')).toEqual({ error: t('err.markup') });
    expect(parsers(t).markup('-1')).toEqual({ error: t('err.markup') });
  });

  it('asks again after a wrong answer, and hides the password', async () => {
    mkdirSync(path.join(tmp, 'full'));
    writeFileSync(path.join(tmp, 'full/x'), '');
    const input = new PassThrough();
    const output = new PassThrough();
    let shown = '';
    output.on('data', (d: Buffer) => (shown += d));
    const prompter = new Prompter(input, output);
    // folder (taken, then free), language, name, database, theme, plugins (bad, then two), no upstream, e-mail, password
    input.write([path.join(tmp, 'full'), path.join(tmp, 'fresh'), '2', '', '1', 'wholesale', 'paypal', '1 4', '', 'Boss@Example.com', 'hunter22-secret', ''].join('\n'));
    const a = await collect({}, undefined, t, 'zh-CN', prompter, () => {});
    prompter.close();
    expect(a).toMatchObject({ dir: path.join(tmp, 'fresh'), lang: 'en', name: 'My Card Shop', theme: 'wholesale', plugins: ['epay', 'stripe'], adminEmail: 'boss@example.com', adminPassword: 'hunter22-secret', passwordGenerated: false });
    expect(shown).toContain('full is not empty');
    expect(shown).toContain('has no plugin "paypal"');
    expect(shown).not.toContain('hunter22-secret');
  });
});

describe('packages', () => {
  it('finds the tarballs pnpm pack made, by package name', () => {
    const dir = path.join(tmp, 'packs');
    mkdirSync(dir);
    for (const f of ['cardshop-core-0.1.0.tgz', 'cardshop-plugin-payment-epay-1.2.3-beta.1.tgz', 'create-cardshop-0.1.0.tgz', 'notes.txt']) writeFileSync(path.join(dir, f), '');
    expect(tarballsIn(dir)).toEqual(
      new Map([
        ['@cardshop/core', path.join(dir, 'cardshop-core-0.1.0.tgz')],
        ['@cardshop/plugin-payment-epay', path.join(dir, 'cardshop-plugin-payment-epay-1.2.3-beta.1.tgz')],
      ]),
    );
    writeFileSync(path.join(dir, 'cardshop-core-0.2.0.tgz'), '');
    expect(() => tarballsIn(dir)).toThrow('err.packages_twice');
  });

  it('depends on the current version of each package', async () => {
    const { version } = (await import('../../core/package.json', { with: { type: 'json' } })).default;
    expect(versionRange('@cardshop/core')).toBe(`^${version}`);
  });

  it('detects the package manager that started it', () => {
    expect(detectPackageManager({ npm_config_user_agent: 'pnpm/10.34.8 npm/? node/v20.20.2 linux x64' })).toBe('pnpm');
    expect(detectPackageManager({ npm_config_user_agent: 'yarn/1.22.22 npm/? node/v20.20.2' })).toBe('yarn');
    expect(detectPackageManager({})).toBe('npm');
  });
});
