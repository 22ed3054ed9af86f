import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';
import { cliText, type CliKey } from '../cli/messages.js';
import { DEFAULT_LOCALE, LOCALES, type Locale } from '../i18n/messages.js';
import { fixtureCases } from './fixtures.js';
import { contentHash, loadTheme, OPTIONAL_TEMPLATES, REQUIRED_TEMPLATES } from './renderer.js';

/**
 * `cardshop theme check`: validates a theme the way Ghost's gscan does. Each check is a numbered
 * rule; most run over the parsed Handlebars AST so findings carry a file and line. Last, every
 * required template is rendered against fixture data, which catches what the AST cannot.
 */

export type Level = 'error' | 'warning' | 'recommendation';

export const RULES = {
  'THEME-001': { level: 'error', description: 'package.json exists and declares "cardshop": { "theme": true }' },
  'THEME-002': { level: 'error', description: 'every required template exists in templates/' },
  'THEME-003': { level: 'error', description: 'layouts/default.hbs exists and outputs the page with {{{body}}}' },
  'THEME-004': { level: 'error', description: 'every .hbs file parses' },
  'THEME-005': { level: 'error', description: 'helpers are the renderer\'s (t, money, asset, url, date, eq) or Handlebars built-ins' },
  'THEME-006': { level: 'error', description: 'every {{> partial}} exists in partials/' },
  'THEME-007': { level: 'error', description: 'every {{t "key"}} is in locales/zh-CN.json' },
  'THEME-008': { level: 'warning', description: 'every {{t "key"}} is in locales/en.json' },
  'THEME-009': { level: 'recommendation', description: 'every locale key is used by a {{t "key"}}' },
  'THEME-010': { level: 'error', description: 'locales/zh-CN.json and locales/en.json exist and are JSON objects of strings' },
  'THEME-011': { level: 'warning', description: 'local files in src= and href= go through {{asset}}' },
  'THEME-012': { level: 'warning', description: 'no unescaped {{{output}}} except {{{body}}} in the layout' },
  'THEME-013': { level: 'error', description: 'every POST form carries <input type="hidden" name="_csrf">' },
  'THEME-014': { level: 'error', description: 'every required template, and every optional one present, renders with fixture data in both locales' },
  'THEME-015': { level: 'error', description: 'home, category and product (cached for everyone at the same prices) and their partials do not use user or csrf' },
  'THEME-016': { level: 'recommendation', description: 'the optional templates (search, articles, article) exist: without them those pages answer 404' },
} as const satisfies Record<string, { level: Level; description: string }>;
export type RuleCode = keyof typeof RULES;

export interface Finding {
  rule: RuleCode;
  level: Level;
  message: string;
  /** Relative to the theme folder, with forward slashes. */
  file?: string;
  line?: number;
}

export interface ThemeReport {
  dir: string;
  /** No errors (warnings and recommendations allowed). */
  ok: boolean;
  /** Errors first, then warnings, then recommendations; by file and line within each. */
  findings: Finding[];
}

/** A finding before its message is put into words, so the checks need not know the locale. */
interface Raw {
  rule: RuleCode;
  key: CliKey;
  params?: Record<string, unknown>;
  file?: string;
  line?: number;
}

/** A parsed .hbs file of the theme. */
interface Source {
  file: string;
  name: string;
  ast: hbs.AST.Program;
  /** The file's HTML with every Handlebars expression replaced by NUL, line breaks kept. */
  markup: string;
}

/** The renderer's helpers (registered in loadTheme) and the Handlebars built-ins. */
const KNOWN_HELPERS = new Set(['t', 'money', 'asset', 'url', 'date', 'eq', 'concat', 'if', 'unless', 'each', 'with', 'lookup', 'log', 'else']);

/**
 * Reports by theme folder, locale and content: a shop started again, or a second one in the same
 * process, on unchanged files checks nothing twice (the render check costs 0.5-2 s of CPU).
 */
const reports = new Map<string, ThemeReport>();

export function checkTheme(dir: string, locale: Locale = DEFAULT_LOCALE): ThemeReport {
  const key = `${dir}\0${locale}\0${contentHash(dir)}`;
  let report = reports.get(key);
  if (!report) reports.set(key, (report = runChecks(dir, locale)));
  return report;
}

function runChecks(dir: string, locale: Locale): ThemeReport {
  const { sources, findings: parseErrors } = parseTheme(dir);
  const locales = LOCALES.map((l) => readLocale(dir, l));
  const readable = locales.filter((l) => !l.findings.length);
  const keys = keyUses(sources);
  const missingOrBroken = [...checkRequiredTemplates(dir), ...checkLayout(dir, sources), ...parseErrors];
  const raw: Raw[] = [
    ...checkPackage(dir),
    ...missingOrBroken,
    ...checkHelpers(sources),
    ...checkPartials(dir, sources),
    ...locales.flatMap((l) => l.findings),
    ...checkMissingKeys(keys, readable),
    // Keys used only by a missing or unparsable template would look unused.
    ...(missingOrBroken.length ? [] : checkUnusedKeys(keys, readable)),
    ...checkAssets(sources),
    ...checkUnescaped(sources),
    ...checkCsrf(sources),
    ...checkCachedTemplates(sources),
    ...checkOptionalTemplates(dir),
  ];
  // A theme with static errors may not even load; its render failures would only repeat them.
  if (!raw.some((f) => RULES[f.rule].level === 'error')) raw.push(...checkRender(dir));

  const findings = raw
    .map(({ rule, key, params, file, line }) => ({ rule, level: RULES[rule].level, message: cliText(locale, key, params), file, line }))
    .sort(byLevelFileLine);
  return { dir, ok: !findings.some((f) => f.level === 'error'), findings };
}

const LEVEL_ORDER: Level[] = ['error', 'warning', 'recommendation'];

function byLevelFileLine(a: Finding, b: Finding): number {
  return (
    LEVEL_ORDER.indexOf(a.level) - LEVEL_ORDER.indexOf(b.level) ||
    (a.file ?? '').localeCompare(b.file ?? '') ||
    (a.line ?? 0) - (b.line ?? 0) ||
    a.rule.localeCompare(b.rule)
  );
}

// --- reading the theme -------------------------------------------------------------------------

/** The .hbs files directly in layouts/, templates/ and partials/: what the renderer loads. */
function parseTheme(dir: string): { sources: Source[]; findings: Raw[] } {
  const sources: Source[] = [];
  const findings: Raw[] = [];
  for (const folder of ['layouts', 'templates', 'partials']) {
    for (const entry of hbsFiles(dir, folder)) {
      const file = `${folder}/${entry}`;
      try {
        // Without whitespace control, content keeps its original text, so lines can be counted.
        const ast = Handlebars.parseWithoutProcessing(readFileSync(path.join(dir, file), 'utf8'));
        sources.push({ file, name: entry.slice(0, -4), ast, markup: markupOf(ast) });
      } catch (err) {
        findings.push({ rule: 'THEME-004', key: 'theme.parse', params: { error: parseMessage(err) }, file, line: parseLine(err) });
      }
    }
  }
  return { sources, findings };
}

function hbsFiles(dir: string, folder: string): string[] {
  const full = path.join(dir, folder);
  return existsSync(full) ? readdirSync(full).filter((f) => f.endsWith('.hbs')).sort() : [];
}

/** Handlebars' own errors have lineNumber; the grammar's say "Parse error on line N:". */
function parseLine(err: unknown): number | undefined {
  const e = err as { lineNumber?: number; message?: string };
  const grammar = /on line (\d+)/.exec(e.message ?? '');
  return e.lineNumber ?? (grammar ? Number(grammar[1]) : undefined);
}

/** The last line says what was wrong; the lines before it quote the source. */
function parseMessage(err: unknown): string {
  return String((err as Error).message ?? err).split('\n').at(-1)!;
}

type Node = hbs.AST.Node;

/** Calls `visit` on every node under `node`. */
function walk(node: unknown, visit: (node: Node) => void): void {
  if (Array.isArray(node)) return node.forEach((n) => walk(n, visit));
  if (!node || typeof node !== 'object') return;
  if (typeof (node as Node).type === 'string') visit(node as Node);
  for (const [key, value] of Object.entries(node)) if (key !== 'loc') walk(value, visit);
}

function nodesOf<T extends Node>(ast: hbs.AST.Program, type: string): T[] {
  const found: T[] = [];
  walk(ast, (n) => n.type === type && found.push(n as T));
  return found;
}

/**
 * The HTML of a template with the Handlebars in between blanked out, so attributes and tags can
 * be matched with regexes and a match's line is its line in the file.
 */
function markupOf(ast: hbs.AST.Program): string {
  const contents = nodesOf<hbs.AST.ContentStatement>(ast, 'ContentStatement').sort(
    (a, b) => a.loc.start.line - b.loc.start.line || a.loc.start.column - b.loc.start.column,
  );
  let markup = '';
  let line = 1;
  for (const c of contents) {
    markup += `\0${'\n'.repeat(c.loc.start.line - line)}${c.value}`;
    line = c.loc.end.line;
  }
  return markup;
}

function lineAt(text: string, index: number): number {
  return text.slice(0, index).split('\n').length;
}

interface HelperCall {
  name: string;
  node: hbs.AST.MustacheStatement | hbs.AST.BlockStatement | hbs.AST.SubExpression;
}

/**
 * Helper calls by a plain name: `{{name arg}}`, `{{#name arg}}`, `(name ...)`. Without arguments
 * `{{name}}` and `{{#name}}` may as well read data, so they are not counted.
 */
function helperCalls(ast: hbs.AST.Program): HelperCall[] {
  const calls: HelperCall[] = [];
  walk(ast, (n) => {
    if (n.type !== 'MustacheStatement' && n.type !== 'BlockStatement' && n.type !== 'SubExpression') return;
    const node = n as HelperCall['node'];
    const p = asPath(node.path);
    if (!p || p.data || p.original !== p.parts[0]) return;
    if (node.type === 'SubExpression' || node.params.length > 0 || node.hash) calls.push({ name: p.original, node });
  });
  return calls;
}

const lineOf = (node: Node) => node.loc.start.line;

function asPath(expr: hbs.AST.Expression): hbs.AST.PathExpression | undefined {
  return expr.type === 'PathExpression' ? (expr as hbs.AST.PathExpression) : undefined;
}

// --- rules -------------------------------------------------------------------------------------

function checkPackage(dir: string): Raw[] {
  let pkg: { cardshop?: { theme?: unknown } };
  try {
    pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
  } catch {
    return [{ rule: 'THEME-001', key: 'theme.no_package', file: 'package.json' }];
  }
  return pkg?.cardshop?.theme === true ? [] : [{ rule: 'THEME-001', key: 'theme.not_theme', file: 'package.json' }];
}

function checkRequiredTemplates(dir: string): Raw[] {
  return REQUIRED_TEMPLATES.filter((t) => !existsSync(path.join(dir, 'templates', `${t}.hbs`))).map((template) => ({
    rule: 'THEME-002',
    key: 'theme.missing_template',
    params: { template },
    file: `templates/${template}.hbs`,
  }));
}

function checkOptionalTemplates(dir: string): Raw[] {
  return OPTIONAL_TEMPLATES.filter((t) => !existsSync(path.join(dir, 'templates', `${t}.hbs`))).map((template) => ({
    rule: 'THEME-016',
    key: 'theme.missing_optional',
    params: { template },
    file: `templates/${template}.hbs`,
  }));
}

function checkLayout(dir: string, sources: Source[]): Raw[] {
  const file = 'layouts/default.hbs';
  if (!existsSync(path.join(dir, file))) return [{ rule: 'THEME-003', key: 'theme.no_layout', file }];
  const layout = sources.find((s) => s.file === file);
  if (!layout) return []; // did not parse: THEME-004 says so
  const hasBody = nodesOf<hbs.AST.MustacheStatement>(layout.ast, 'MustacheStatement').some(isBodyOutput);
  return hasBody ? [] : [{ rule: 'THEME-003', key: 'theme.no_body', file }];
}

function isBodyOutput(m: hbs.AST.MustacheStatement): boolean {
  return !m.escaped && asPath(m.path)?.original === 'body';
}

function checkHelpers(sources: Source[]): Raw[] {
  return sources.flatMap((s) =>
    helperCalls(s.ast)
      .filter((c) => !KNOWN_HELPERS.has(c.name))
      .map((c): Raw => ({ rule: 'THEME-005', key: 'theme.unknown_helper', params: { name: c.name }, file: s.file, line: lineOf(c.node) })),
  );
}

function checkPartials(dir: string, sources: Source[]): Raw[] {
  const known = new Set(hbsFiles(dir, 'partials').map((f) => f.slice(0, -4)));
  // {{#*inline "name"}} defines a partial too; counted theme-wide so this rule never cries wolf.
  for (const s of sources) {
    for (const d of nodesOf<hbs.AST.DecoratorBlock>(s.ast, 'DecoratorBlock')) {
      const name = d.params[0] && literalString(d.params[0]);
      if (asPath(d.path)?.original === 'inline' && name) known.add(name);
    }
  }
  return sources.flatMap((s) =>
    partialCalls(s.ast)
      .filter((p) => !known.has(p.name))
      .map((p): Raw => ({ rule: 'THEME-006', key: 'theme.unknown_partial', params: { name: p.name }, file: s.file, line: p.line })),
  );
}

/** `{{> name}}` with a fixed name; `{{> (expr)}}`, `{{> @partial-block}}` and `{{#> name}}fallback{{/name}}` cannot miss. */
function partialCalls(ast: hbs.AST.Program): Array<{ name: string; line: number }> {
  return nodesOf<hbs.AST.PartialStatement>(ast, 'PartialStatement').flatMap((p) => {
    const byPath = asPath(p.name);
    const name = byPath ? (byPath.data ? undefined : byPath.original) : literalString(p.name);
    return name ? [{ name, line: lineOf(p) }] : [];
  });
}

type Messages = Record<string, string>;

interface LocaleFile {
  locale: Locale;
  file: string;
  text: string;
  messages: Messages;
  /** A missing or broken file: reported once by THEME-010, and skipped by the key rules. */
  findings: Raw[];
}

function readLocale(dir: string, locale: Locale): LocaleFile {
  const file = `locales/${locale}.json`;
  const full = path.join(dir, file);
  const text = existsSync(full) ? readFileSync(full, 'utf8') : '';
  const broken = (key: CliKey, error?: string): LocaleFile => ({ locale, file, text, messages: {}, findings: [{ rule: 'THEME-010', key, params: { error }, file }] });
  if (!text) return broken('theme.no_locale');
  let messages: unknown;
  try {
    messages = JSON.parse(text);
  } catch (err) {
    return broken('theme.bad_locale', (err as Error).message);
  }
  const isTable = !!messages && typeof messages === 'object' && !Array.isArray(messages) && Object.values(messages).every((v) => typeof v === 'string');
  return isTable ? { locale, file, text, messages: messages as Messages, findings: [] } : broken('theme.bad_locale', 'not an object of strings');
}

interface KeyUse {
  /** Undefined when computed, as in `{{t someField}}`. */
  key: string | undefined;
  /** For a key computed from a literal start, `{{t (concat "status." order.status)}}`: that start. */
  prefix?: string;
  file: string;
  line: number;
}

/** The literal first argument of a `(concat "…" …)` subexpression. */
function concatPrefix(expr: hbs.AST.Expression | undefined): string | undefined {
  if (expr?.type !== 'SubExpression') return undefined;
  const sub = expr as hbs.AST.SubExpression;
  return asPath(sub.path)?.original === 'concat' && sub.params[0] ? literalString(sub.params[0]) : undefined;
}

function keyUses(sources: Source[]): KeyUse[] {
  return sources.flatMap((s) =>
    helperCalls(s.ast)
      .filter((c) => c.name === 't')
      .map((c) => ({ key: c.node.params[0] && literalString(c.node.params[0]), prefix: concatPrefix(c.node.params[0]), file: s.file, line: lineOf(c.node) })),
  );
}

/** One finding per missing key, at its first use: the fix is one line in the locale file. */
function checkMissingKeys(uses: KeyUse[], locales: LocaleFile[]): Raw[] {
  const findings: Raw[] = [];
  const seen = new Set<string>();
  for (const { key, file, line } of uses) {
    if (key === undefined || seen.has(key)) continue;
    seen.add(key);
    const missingFrom = locales.filter((l) => !Object.hasOwn(l.messages, key));
    // A key missing from zh-CN shows as the bare key; one missing from another locale falls back to zh-CN.
    const defaultMissing = missingFrom.find((l) => l.locale === DEFAULT_LOCALE);
    for (const l of defaultMissing ? [defaultMissing] : missingFrom) {
      const rule = l === defaultMissing ? 'THEME-007' : 'THEME-008';
      findings.push({ rule, key: 'theme.missing_key', params: { key, locale: l.file }, file, line });
    }
  }
  return findings;
}

function checkUnusedKeys(uses: KeyUse[], locales: LocaleFile[]): Raw[] {
  // With a computed key anywhere, any key may be in use; a computed key with a literal start
  // uses every key that starts so.
  if (uses.some((u) => u.key === undefined && u.prefix === undefined)) return [];
  const used = new Set(uses.map((u) => u.key));
  const prefixes = uses.flatMap((u) => (u.prefix === undefined ? [] : [u.prefix]));
  return locales.flatMap((l) =>
    Object.keys(l.messages)
      .filter((key) => !used.has(key) && !prefixes.some((p) => key.startsWith(p)))
      .map((key): Raw => ({ rule: 'THEME-009', key: 'theme.unused_key', params: { key }, file: l.file, line: lineAt(l.text, l.text.indexOf(JSON.stringify(key))) })),
  );
}

function literalString(expr: hbs.AST.Expression): string | undefined {
  return expr.type === 'StringLiteral' ? (expr as hbs.AST.StringLiteral).value : undefined;
}

/** A src or href whose whole value is literal text (no Handlebars inside). */
const URL_ATTRIBUTE = /\b(?:src|href)\s*=\s*(["'])([^"'\0]*)\1/gi;
const ASSET_FILE = /\.(?:css|js|mjs|png|jpe?g|gif|svg|webp|avif|ico|woff2?|ttf|otf)(?:[?#].*)?$/i;
/** http:, https:, data: and protocol-relative URLs are not the theme's files. */
const NOT_LOCAL = /^(?:[a-z][a-z\d+.-]*:|\/\/)/i;

function checkAssets(sources: Source[]): Raw[] {
  return sources.flatMap((s) =>
    [...s.markup.matchAll(URL_ATTRIBUTE)]
      .filter((m) => ASSET_FILE.test(m[2]!) && !NOT_LOCAL.test(m[2]!))
      .map((m): Raw => ({ rule: 'THEME-011', key: 'theme.local_asset', params: { url: m[2] }, file: s.file, line: lineAt(s.markup, m.index) })),
  );
}

function checkUnescaped(sources: Source[]): Raw[] {
  return sources.flatMap((s) =>
    nodesOf<hbs.AST.MustacheStatement>(s.ast, 'MustacheStatement')
      .filter((m) => !m.escaped && !(s.file === 'layouts/default.hbs' && isBodyOutput(m)))
      .map((m): Raw => ({ rule: 'THEME-012', key: 'theme.unescaped', params: { expr: expressionText(m) }, file: s.file, line: lineOf(m) })),
  );
}

function expressionText(m: hbs.AST.MustacheStatement): string {
  return asPath(m.path)?.original ?? String((m.path as hbs.AST.StringLiteral).value);
}

const FORM_TAG = /<form\b[^>]*>/gi;
const POST_METHOD = /\bmethod\s*=\s*["']?post\b/i;
const CSRF_INPUT = /\bname\s*=\s*["']?_csrf\b/i;

/** A POST form passes when its file, or a partial the file includes, has the _csrf input. */
function checkCsrf(sources: Source[]): Raw[] {
  const partials = new Map(sources.filter((s) => s.file.startsWith('partials/')).map((s) => [s.name, s]));
  return sources.flatMap((s) => {
    const posts = [...s.markup.matchAll(FORM_TAG)].filter((m) => POST_METHOD.test(m[0]));
    if (!posts.length || CSRF_INPUT.test(markupWithPartials(s, partials))) return [];
    return posts.map((m): Raw => ({ rule: 'THEME-013', key: 'theme.csrf', file: s.file, line: lineAt(s.markup, m.index) }));
  });
}

/** The templates served from the page cache (http/page-cache.ts): rendered once for every buyer at the same prices. */
const CACHED_TEMPLATES = ['home', 'category', 'product'];
const BUYER_DATA = /^(?:@root\.)?(?:user|csrf)(?:\.|$)/;

function checkCachedTemplates(sources: Source[]): Raw[] {
  const partials = new Map(sources.filter((s) => s.file.startsWith('partials/')).map((s) => [s.name, s]));
  const reached = new Set<Source>();
  const visit = (s: Source) => {
    if (reached.has(s)) return;
    reached.add(s);
    for (const p of partialCalls(s.ast)) if (partials.has(p.name)) visit(partials.get(p.name)!);
  };
  for (const s of sources) if (s.file.startsWith('templates/') && CACHED_TEMPLATES.includes(s.name)) visit(s);
  return [...reached].flatMap((s) =>
    nodesOf<hbs.AST.PathExpression>(s.ast, 'PathExpression')
      .filter((p) => BUYER_DATA.test(p.original))
      .map((p): Raw => ({ rule: 'THEME-015', key: 'theme.cached_buyer', params: { expr: p.original }, file: s.file, line: lineOf(p) })),
  );
}

function markupWithPartials(source: Source, partials: Map<string, Source>, seen = new Set<Source>()): string {
  seen.add(source);
  const included = partialCalls(source.ast)
    .map((p) => partials.get(p.name))
    .filter((p): p is Source => !!p && !seen.has(p));
  return [source.markup, ...included.map((p) => markupWithPartials(p, partials, seen))].join('\0');
}

/** Renders each template the shop renders (required, and optional ones present) inside the layout; reports the first failure of each. */
function checkRender(dir: string): Raw[] {
  const theme = loadTheme(dir);
  return [...REQUIRED_TEMPLATES, ...OPTIONAL_TEMPLATES.filter((t) => theme.has(t))].flatMap((template): Raw[] => {
    for (const data of fixtureCases(template)) {
      try {
        theme.render(template, data);
      } catch (err) {
        const error = String((err as Error).message ?? err).split('\n')[0];
        return [{ rule: 'THEME-014', key: 'theme.render', params: { template, locale: data.locale, error }, file: `templates/${template}.hbs` }];
      }
    }
    return [];
  });
}
