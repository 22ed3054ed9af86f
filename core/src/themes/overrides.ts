import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * Local overrides: a shop changes one template, partial, layout, asset or locale string of an
 * installed theme without forking it, by putting the file under `themes/<theme package name>/` in
 * its own folder (e.g. `themes/@cardshop/theme-default/templates/home.hbs`). Locale files merge key
 * by key; any other file replaces the theme's.
 *
 * The theme and its overrides are laid into one temporary folder of this process (removed when it
 * exits), so the theme check and the renderer see exactly what will be served, and app processes
 * starting together never write the same folder.
 */
export function applyOverrides(themeDir: string, root: string): string {
  const name = (JSON.parse(readFileSync(path.join(themeDir, 'package.json'), 'utf8')) as { name?: string }).name;
  const overrides = name ? path.join(root, 'themes', name) : '';
  if (!overrides || !existsSync(overrides) || path.resolve(overrides) === path.resolve(themeDir)) return themeDir;

  const merged = mkdtempSync(path.join(tmpdir(), 'cardshop-theme-'));
  process.once('exit', () => rmSync(merged, { recursive: true, force: true }));
  cpSync(themeDir, merged, { recursive: true, filter: (src) => !src.includes(`${path.sep}node_modules`) });
  const walk = (rel: string): void => {
    for (const entry of readdirSync(path.join(overrides, rel), { withFileTypes: true })) {
      const file = path.join(rel, entry.name);
      if (entry.isDirectory()) {
        mkdirSync(path.join(merged, file), { recursive: true });
        walk(file);
      } else if (rel === 'locales' && entry.name.endsWith('.json') && existsSync(path.join(merged, file))) {
        const base = JSON.parse(readFileSync(path.join(merged, file), 'utf8')) as Record<string, string>;
        const mine = JSON.parse(readFileSync(path.join(overrides, file), 'utf8')) as Record<string, string>;
        writeFileSync(path.join(merged, file), JSON.stringify({ ...base, ...mine }, null, 2));
      } else {
        cpSync(path.join(overrides, file), path.join(merged, file));
      }
    }
  };
  walk('');
  return merged;
}
