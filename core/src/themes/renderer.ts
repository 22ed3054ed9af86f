import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import Handlebars from 'handlebars';
import { formatMoney } from '../money/money.js';
import { DEFAULT_LOCALE, interpolate, isLocale, LOCALES, type Locale } from '../i18n/messages.js';

/** Templates every theme must have; the shop renders nothing else. */
export const REQUIRED_TEMPLATES = [
  'home',
  'category',
  'product',
  'checkout',
  'order',
  'query',
  'account',
  'login',
  'register',
  'error',
  'kyc',
  'receipt',
  'verify-receipt',
  'agent',
] as const;
/**
 * Templates a theme may have; a shop whose theme lacks one answers 404 at its pages (themes made
 * before it existed keep working).
 */
export const OPTIONAL_TEMPLATES = ['search', 'articles', 'article', 'notify'] as const;
export type TemplateName = (typeof REQUIRED_TEMPLATES)[number] | (typeof OPTIONAL_TEMPLATES)[number];

export interface Theme {
  name: string;
  dir: string;
  /** Renders a template inside the theme's layout. */
  render(template: TemplateName, data: Record<string, unknown>): string;
  /** The template alone, for `layout` to wrap (the page cache keeps bodies: http/page-cache.ts). */
  body(template: TemplateName, data: Record<string, unknown>): string;
  /** The layout around a body rendered before. */
  layout(data: Record<string, unknown>, body: string): string;
  /** Whether the theme has the template (every required one; an optional one perhaps). */
  has(template: TemplateName): boolean;
  /** Resolves `/assets/<hash>/<file>` to a file of the theme, or undefined. */
  assetFile(file: string): string | undefined;
  readonly assetPrefix: string;
  messages(locale: Locale): Record<string, string>;
}

export class ThemeError extends Error {
  override name = 'ThemeError';
}

/** Finds a theme by folder path or by package name (resolved from the shop's folder, then core's). */
export function resolveThemeDir(theme: string, root: string): string {
  const asDir = path.resolve(root, theme);
  if (existsSync(path.join(asDir, 'templates'))) return asDir;
  for (const from of [path.join(root, 'package.json'), import.meta.url]) {
    try {
      return path.dirname(createRequire(from).resolve(`${theme}/package.json`));
    } catch {
      // not installed there; try the next place
    }
  }
  throw new ThemeError(`theme "${theme}" not found: not a folder under ${root} and not an installed package`);
}

function readDir(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!existsSync(dir)) return out;
  for (const file of readdirSync(dir)) {
    if (file.endsWith('.hbs')) out.set(file.slice(0, -4), readFileSync(path.join(dir, file), 'utf8'));
  }
  return out;
}

/** A short content hash of the files under `dir` (node_modules left out): asset URLs and theme checks follow it. */
export function contentHash(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string, rel: string) => {
    if (!existsSync(d)) return;
    for (const f of readdirSync(d).sort()) {
      if (f === 'node_modules') continue;
      const p = path.join(d, f);
      if (statSync(p).isDirectory()) walk(p, `${rel}${f}/`);
      else h.update(`${rel}${f}\0`).update(readFileSync(p));
    }
  };
  walk(dir, '');
  return h.digest('hex').slice(0, 10);
}

/**
 * Loads and compiles a theme once. Helpers: money, t, asset, url, date, eq. `t` looks a key up in
 * the theme's locales/<lang>.json for the page's locale, falling back to zh-CN, then to the key.
 */
export function loadTheme(dir: string): Theme {
  const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string };
  const hbs = Handlebars.create();
  const templates = readDir(path.join(dir, 'templates'));
  const missing = REQUIRED_TEMPLATES.filter((t) => !templates.has(t));
  if (missing.length) throw new ThemeError(`theme ${dir} lacks templates: ${missing.join(', ')}`);
  const layouts = readDir(path.join(dir, 'layouts'));
  if (!layouts.has('default')) throw new ThemeError(`theme ${dir} lacks layouts/default.hbs`);
  for (const [name, src] of readDir(path.join(dir, 'partials'))) hbs.registerPartial(name, src);

  const messages = {} as Record<Locale, Record<string, string>>;
  for (const locale of LOCALES) {
    const file = path.join(dir, 'locales', `${locale}.json`);
    messages[locale] = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  }
  const assetsDir = path.join(dir, 'assets');
  const assetPrefix = `/assets/${contentHash(assetsDir)}/`;

  type Opts = Handlebars.HelperOptions;
  const localeOf = (o: Opts): Locale => (isLocale(o.data?.root?.locale) ? o.data.root.locale : DEFAULT_LOCALE);
  hbs.registerHelper('t', function (key: string, o: Opts) {
    const l = localeOf(o);
    return interpolate(messages[l][key] ?? messages[DEFAULT_LOCALE][key] ?? key, o.hash);
  });
  hbs.registerHelper('money', (amount: unknown, o: Opts) =>
    typeof amount === 'number' ? formatMoney(amount, o.data?.root?.shop?.currency) : '',
  );
  hbs.registerHelper('asset', (file: string) => assetPrefix + file);
  hbs.registerHelper('url', (...args: unknown[]) => {
    const o = args.pop() as Opts;
    const base: string = o.data?.root?.base ?? '';
    return base + args.map((a) => encodeURI(String(a))).join('');
  });
  hbs.registerHelper('date', (ms: unknown, o: Opts) =>
    typeof ms === 'number'
      ? new Intl.DateTimeFormat(localeOf(o), { dateStyle: 'medium', timeStyle: 'short', timeZone: o.data?.root?.timeZone ?? 'Asia/Shanghai' }).format(ms)
      : '',
  );
  hbs.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  // For keys and ids built from data: `{{t (concat "status." order.status)}}`.
  hbs.registerHelper('concat', (...args: unknown[]) => args.slice(0, -1).join(''));

  const compiled = new Map<string, Handlebars.TemplateDelegate>();
  for (const [name, src] of templates) compiled.set(name, hbs.compile(src, { strict: false }));
  const layout = hbs.compile(layouts.get('default')!);

  return {
    name: pkg.name ?? path.basename(dir),
    dir,
    assetPrefix,
    render(template, data) {
      return layout({ ...data, body: compiled.get(template)!(data) });
    },
    body: (template, data) => compiled.get(template)!(data),
    layout: (data, body) => layout({ ...data, body }),
    has: (template) => compiled.has(template),
    assetFile(file) {
      const full = path.resolve(assetsDir, file);
      if (!full.startsWith(assetsDir + path.sep) || !existsSync(full) || !statSync(full).isFile()) return undefined;
      return full;
    },
    messages: (locale) => ({ ...messages[DEFAULT_LOCALE], ...messages[locale] }),
  };
}
