import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The folders of the packages published to npm: the workspace's, minus private ones. */
export function publishedPackages(root: string): Array<{ dir: string; name: string; version: string }> {
  const dirs = ['core', 'create-cardshop', ...['themes', 'plugins'].flatMap((group) => readdirSync(path.join(root, group), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => `${group}/${d.name}`))];
  return dirs.flatMap((dir) => {
    const pkg = JSON.parse(readFileSync(path.join(root, dir, 'package.json'), 'utf8')) as { name: string; version: string; private?: boolean };
    return pkg.private ? [] : [{ dir, name: pkg.name, version: pkg.version }];
  });
}

/** pnpm, the version the workspace pins, through npx (CI has no global pnpm). */
export function pnpm(args: string[], cwd: string, timeout = 120_000) {
  const r = spawnSync('npx', ['-y', 'pnpm@10.34.8', ...args], { cwd, encoding: 'utf8', timeout, env: { ...process.env, CI: 'true' } });
  if (r.status !== 0) throw new Error(`pnpm ${args.join(' ')} failed in ${cwd} (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** `pnpm pack` of every published package of `root` into `dest`, as they would go to npm. */
export function packAll(root: string, dest: string): void {
  const filters = publishedPackages(root).flatMap((p) => ['--filter', `./${p.dir}`]);
  pnpm(['-r', ...filters, 'pack', '--pack-destination', dest], root);
}

/** Files in a tarball, without the leading package/. */
export function tarballFiles(tarball: string): string[] {
  const r = spawnSync('tar', ['-tzf', tarball], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tar -tzf ${tarball}: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((f) => f.replace(/^package\//, ''));
}

/** The file name `pnpm pack` gives a package: @cardshop/core@0.1.0 → cardshop-core-0.1.0.tgz. */
export const tarballName = (name: string, version: string) => `${name.replace(/^@/, '').replace('/', '-')}-${version}.tgz`;
