import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, describe, expect, it } from 'vitest';
import { packAll, pnpm, publishedPackages, tarballFiles, tarballName } from './packages.js';

const ROOT = path.resolve('.');
/** The semver the core checks plugins' ranges with at load. */
const semver = createRequire(path.join(ROOT, 'core/package.json'))('semver') as { satisfies(version: string, range: string): boolean };
const PUBLISHED = publishedPackages(ROOT);
const read = (file: string) => JSON.parse(readFileSync(file, 'utf8'));

/** Templates every theme must have (themes/README.md). */
const TEMPLATES = ['home', 'category', 'product', 'checkout', 'order', 'query', 'account', 'login', 'register', 'error'];

/** Plugins and themes support every 0.x minor of the core from the first they need (README, "Releases"). */
const CORE_PEER = /^>=0\.\d+\.\d+ <1\.0\.0$/;
const pluginOrTheme = (dir: string) => /^(themes|plugins)\//.test(dir);

describe('every published package', () => {
  it.each(PUBLISHED)('$name says what npm needs to publish it', async ({ dir, name }) => {
    const pkg = read(path.join(ROOT, dir, 'package.json'));
    expect(pkg).toMatchObject({
      license: 'MIT',
      type: 'module',
      engines: { node: expect.any(String) },
      repository: { type: 'git', url: expect.stringMatching(/^git\+https:/), directory: dir },
      publishConfig: { access: 'public' },
      files: expect.any(Array),
    });
    expect(existsSync(path.join(ROOT, dir, 'README.md'))).toBe(true);
    expect(readFileSync(path.join(ROOT, dir, 'LICENSE'), 'utf8')).toContain('MIT License');
    if (pluginOrTheme(dir)) {
      // Shops bring their own core; the workspace links it for development.
      expect(Object.keys(pkg.peerDependencies)).toEqual(['@cardshop/core']);
      expect(pkg.peerDependencies['@cardshop/core']).toMatch(CORE_PEER);
      expect(pkg.devDependencies['@cardshop/core']).toBe('workspace:^');
    }
    if (dir.startsWith('plugins/')) {
      expect(pkg).toMatchObject({ main: './dist/index.js', types: './dist/index.d.ts', cardshop: { plugin: true } });
      // The range checked when the plugin loads is the one npm checks at install.
      const plugin = (await import(path.join(ROOT, dir, 'src/index.ts'))).default;
      expect(plugin.definition.core).toBe(pkg.peerDependencies['@cardshop/core']);
    }
    if (dir.startsWith('themes/')) expect(pkg.cardshop).toEqual({ theme: true });
    expect(name).toBe(pkg.name);
  });
});

/**
 * The release, rehearsed in a copy of the repository: `changeset version` with a minor for the
 * core and a patch for every other package on top of the pending changesets, then `pnpm pack` of
 * each. The copy takes the builds the test command has just made (no build output depends on a
 * version; building all packages again cost 1-2 minutes of CPU). The real versions are never touched.
 */
describe('release dry run', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'cardshop-release-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('versions and packs every package with what it needs at run time', { timeout: 300_000 }, () => {
    const repo = path.join(work, 'repo');
    for (const p of PUBLISHED.filter((p) => read(path.join(ROOT, p.dir, 'package.json')).scripts?.build)) {
      expect(existsSync(path.join(ROOT, p.dir, 'dist')), `${p.dir}/dist (run the build first)`).toBe(true);
    }
    const skip = /(^|\/)(\.git|data|\.screenshots|artifacts|\.run-[^/]*|coverage|\.bench)$|\.tgz$/;
    cpSync(ROOT, repo, {
      recursive: true,
      verbatimSymlinks: true, // the packages' node_modules are pnpm's relative links into the root's
      filter: (src) => {
        const rel = path.relative(ROOT, src);
        return rel !== 'node_modules' && !skip.test(rel);
      },
    });
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(repo, 'node_modules'));
    const bump = (name: string) => (name === '@cardshop/core' ? 'minor' : 'patch');
    writeFileSync(path.join(repo, '.changeset/release-dry-run.md'), `---\n${PUBLISHED.map((p) => `'${p.name}': ${bump(p.name)}`).join('\n')}\n---\n\nRelease dry run.\n`);

    const version = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/@changesets/cli/bin.js'), 'version'], { cwd: repo, encoding: 'utf8' });
    expect(version.status, version.stderr).toBe(0);
    const next = new Map(PUBLISHED.map((p) => [p.name, read(path.join(repo, p.dir, 'package.json')).version as string]));
    const bumps = PUBLISHED.map((p) => `${p.name} ${p.version} → ${next.get(p.name)}`);
    console.log(`release dry run:\n  ${bumps.join('\n  ')}`);
    for (const p of PUBLISHED) {
      expect(newer(next.get(p.name)!, p.version), `${p.name}: ${p.version} → ${next.get(p.name)}`).toBe(true);
      // A core minor stays inside the plugins' and themes' peer range, so it does not make them major.
      if (pluginOrTheme(p.dir)) expect(major(next.get(p.name)!), `${p.name}: ${p.version} → ${next.get(p.name)}`).toBe(major(p.version));
      expect(readFileSync(path.join(repo, p.dir, 'CHANGELOG.md'), 'utf8')).toContain('Release dry run.');
    }

    const packs = path.join(work, 'packs');
    mkdirSync(packs);
    packAll(repo, packs);

    for (const p of PUBLISHED) {
      const tarball = path.join(packs, tarballName(p.name, next.get(p.name)!));
      expect(existsSync(tarball), `${p.name} packed as ${path.basename(tarball)}`).toBe(true);
      const files = tarballFiles(tarball);
      const extract = path.join(work, 'x', p.dir);
      mkdirSync(extract, { recursive: true });
      expect(spawnSync('tar', ['-xzf', tarball, '-C', extract, 'package/package.json']).status).toBe(0);
      const packed = read(path.join(extract, 'package/package.json'));

      expect(packed.version).toBe(next.get(p.name));
      expect(JSON.stringify(packed)).not.toContain('workspace:');
      expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'LICENSE']));
      expect(files.filter((f) => /(^|\/)(src|test|node_modules)\/|\.test\.|tsconfig|tsup\.config/.test(f)), `${p.name} ships no sources or tests`).toEqual([]);
      // Every entry point the package.json names is in the tarball.
      for (const target of entryPoints(packed)) expect(files, `${p.name}: ${target}`).toContain(target.replace(/^\.\//, ''));

      if (p.dir.startsWith('themes/')) {
        expect(files).toEqual(expect.arrayContaining(['layouts/default.hbs', 'locales/zh-CN.json', 'locales/en.json', ...TEMPLATES.map((t) => `templates/${t}.hbs`)]));
        expect(files.some((f) => f.startsWith('assets/'))).toBe(true);
      }
      if (pluginOrTheme(p.dir)) {
        const range = read(path.join(ROOT, p.dir, 'package.json')).peerDependencies['@cardshop/core'];
        expect(packed.peerDependencies['@cardshop/core']).toBe(range);
        expect(semver.satisfies(next.get('@cardshop/core')!, range), `${p.name} accepts the new core`).toBe(true);
      }
    }
    // create-cardshop writes the versions released with it.
    const create = read(path.join(work, 'x/create-cardshop/package/package.json'));
    expect(create.devDependencies['@cardshop/core']).toBe(`^${next.get('@cardshop/core')}`);
  });
});

/** Files named by main, types, bin and exports (conditions and subpaths). */
function entryPoints(pkg: { main?: string; types?: string; bin?: Record<string, string>; exports?: unknown }): string[] {
  const found = [pkg.main, pkg.types, ...Object.values(pkg.bin ?? {})];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') found.push(v);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(pkg.exports);
  return [...new Set(found.filter((f): f is string => !!f))];
}

const major = (v: string) => Number(v.split('.')[0]);

function newer(a: string, b: string): boolean {
  const [x, y] = [a, b].map((v) => v.split(/[.-]/).slice(0, 3).map(Number)) as [number[], number[]];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! > y[i]!;
  return false;
}
