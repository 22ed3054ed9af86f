import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { isMysqlUrl, mysqlProblem, redact } from './database.js';
import { SQLITE_URL, type PackageManager } from './files.js';
import { LOCALES, type Locale, type Translate } from './messages.js';
import { PLUGINS, THEMES, type PluginId, type ThemeId } from './packages.js';
import type { Prompter } from './prompt.js';
import { checkUpstream, type Upstream } from './upstream.js';

/** Every question has a flag; --yes (or no terminal) takes the defaults for the rest. */
export const FLAGS = {
  name: { type: 'string' },
  lang: { type: 'string' },
  database: { type: 'string' },
  theme: { type: 'string' },
  plugins: { type: 'string' },
  'upstream-url': { type: 'string' },
  'upstream-key': { type: 'string' },
  'upstream-secret': { type: 'string' },
  markup: { type: 'string' },
  'admin-email': { type: 'string' },
  'admin-password': { type: 'string' },
  'package-manager': { type: 'string' },
  'packages-from': { type: 'string' },
  force: { type: 'boolean' },
  yes: { type: 'boolean', short: 'y' },
  help: { type: 'boolean', short: 'h' },
} as const;

export type Flags = { [K in keyof typeof FLAGS]?: (typeof FLAGS)[K]['type'] extends 'string' ? string : boolean };

/** Why create-cardshop cannot go on; `code` is the exit code. */
export class Stop extends Error {
  constructor(
    message: string,
    readonly code = 1,
  ) {
    super(message);
  }
}

export interface Answers {
  dir: string;
  name: string;
  lang: Locale;
  database: string;
  theme: ThemeId;
  plugins: PluginId[];
  /** A sub-agent shop's upstream, whose catalog it sells at a markup. */
  upstream?: Upstream;
  adminEmail: string;
  adminPassword: string;
  /** The password was made up here, so it is shown once at the end. */
  passwordGenerated: boolean;
}

type Parsed<T> = T | { error: string };
type Parse<T> = (input: string) => Parsed<T> | Promise<Parsed<T>>;

const failed = <T>(r: Parsed<T>): r is { error: string } => typeof r === 'object' && r !== null && 'error' in r;

export function detectPackageManager(env: NodeJS.ProcessEnv): PackageManager {
  const agent = env.npm_config_user_agent ?? '';
  if (agent.startsWith('pnpm/')) return 'pnpm';
  if (agent.startsWith('yarn/')) return 'yarn';
  return 'npm';
}

/** The answers' parsers, shared by flags and prompts so both accept exactly the same. */
export function parsers(t: Translate, opts: { force?: boolean; say?: (line: string) => void } = {}) {
  return {
    dir: (input: string): Parsed<string> => {
      const dir = path.resolve(input);
      if (existsSync(dir) && readdirSync(dir).length && !opts.force) return { error: t('err.not_empty', { dir: input }) };
      return dir;
    },
    name: (input: string): Parsed<string> => (input.trim() && input.trim().length <= 80 ? input.trim() : { error: t('err.name') }),
    lang: (input: string): Parsed<Locale> => (LOCALES.includes(input as Locale) ? (input as Locale) : { error: t('err.lang') }),
    database: async (input: string): Promise<Parsed<string>> => {
      if (input === 'sqlite' || input === SQLITE_URL) return SQLITE_URL;
      if (!isMysqlUrl(input)) return { error: t('err.database') };
      opts.say?.(t('checking_mysql', { url: redact(input) }));
      const problem = await mysqlProblem(input);
      return problem ? { error: t('err.mysql', { url: redact(input), reason: problem }) } : input;
    },
    theme: (input: string): Parsed<ThemeId> => {
      const id = (Object.keys(THEMES) as ThemeId[]).find((k) => k === input || THEMES[k] === input);
      return id ?? { error: t('err.theme', { list: Object.keys(THEMES).join(', ') }) };
    },
    plugins: (input: string): Parsed<PluginId[]> => {
      const names = input === 'none' ? [] : input.split(/[\s,]+/).filter(Boolean);
      const ids: PluginId[] = [];
      for (const name of names) {
        const id = (Object.keys(PLUGINS) as PluginId[]).find((k) => k === name || PLUGINS[k].package === name);
        if (!id) return { error: t('err.plugins', { name, list: Object.keys(PLUGINS).join(', ') }) };
        if (!ids.includes(id)) ids.push(id);
      }
      return ids;
    },
    upstreamUrl: (input: string): Parsed<string | null> => {
      if (!input || input === 'none') return null;
      try {
        const u = new URL(input);
        if (['http:', 'https:'].includes(u.protocol) && !u.search && !u.hash) return u.toString().replace(/\/+$/, '');
      } catch {
        // not a URL: the same answer as a wrong scheme
      }
      return { error: t('err.upstream_url') };
    },
    upstreamKey: (input: string): Parsed<string> => (/^ck_[A-Za-z0-9_-]{4,37}$/.test(input) ? input : { error: t('err.upstream_key') }),
    upstreamSecret: (input: string): Parsed<string> => (/^\S{8,200}$/.test(input) ? input : { error: t('err.upstream_secret') }),
    markup: (input: string): Parsed<number> => (/^\d{1,4}(\.\d{1,2})?$/.test(input) && Number(input) <= 1000 ? Number(input) : { error: t('err.markup') }),
    email: (input: string): Parsed<string> => (/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(input) ? input.toLowerCase() : { error: t('err.email') }),
    password: (input: string): Parsed<string> => (input.length >= 8 && input.length <= 200 ? input : { error: t('err.password') }),
    packageManager: (input: string): Parsed<PackageManager> => (['npm', 'pnpm', 'yarn'].includes(input) ? (input as PackageManager) : { error: t('err.pm') }),
  };
}

/** A flag's value (or the folder argument, `flag` undefined), checked; a bad one stops the run, naming the flag. */
export async function fromFlag<T>(flag: string | undefined, value: string, parse: Parse<T>, t: Translate): Promise<T> {
  const r = await parse(value);
  if (failed(r)) throw new Stop(flag ? t('err.flag', { flag: `--${flag}`, message: r.error }) : r.error);
  return r;
}

/**
 * Asks for everything a new shop needs, in order; what a flag gives is not asked. Without a
 * prompter (--yes, or stdin is not a terminal) the defaults fill in the rest.
 */
export async function collect(
  flags: Flags,
  positional: string | undefined,
  t: Translate,
  uiLocale: Locale,
  prompter: Prompter | undefined,
  say: (line: string) => void,
): Promise<Answers> {
  const p = parsers(t, { force: flags.force, say });
  const get = async <T>(flag: keyof Flags | undefined, given: string | undefined, parse: Parse<T>, fallback: string, ask: (q: Prompter) => Promise<T>): Promise<T> => {
    if (given !== undefined) return fromFlag(flag, given, parse, t);
    if (prompter) return ask(prompter);
    return fromFlag(flag, fallback, parse, t);
  };

  const dir = await get(undefined, positional, p.dir, 'my-shop', (q) => q.ask(t('q.dir'), 'my-shop', p.dir));
  const lang = await get('lang', flags.lang, p.lang, uiLocale, (q) =>
    q.select(t('q.lang'), LOCALES.map((l) => ({ value: l, label: t(`lang.${l}`) })), uiLocale),
  );
  const defaultName = lang === 'zh-CN' ? '我的卡盟' : 'My Card Shop';
  const name = await get('name', flags.name, p.name, defaultName, (q) => q.ask(t('q.name'), defaultName, p.name));
  const database = await get('database', flags.database, p.database, 'sqlite', async (q) => {
    const kind = await q.select(t('q.database'), [{ value: 'sqlite', label: t('q.database.sqlite') }, { value: 'mysql', label: t('q.database.mysql') }], 'sqlite');
    return kind === 'sqlite' ? SQLITE_URL : q.ask(t('q.mysql_url'), '', p.database);
  });
  const theme = await get('theme', flags.theme, p.theme, 'default', (q) =>
    q.select(t('q.theme'), (Object.keys(THEMES) as ThemeId[]).map((id) => ({ value: id, label: t(`theme.${id}`) })), 'default'),
  );
  const plugins = await get('plugins', flags.plugins, p.plugins, 'none', (q) =>
    q.multiSelect(t('q.plugins'), (Object.keys(PLUGINS) as PluginId[]).map((id) => ({ value: id, label: t(PLUGINS[id].label) })), p.plugins),
  );
  const upstream = await upstreamOf(flags, t, uiLocale, prompter, say, get);
  const adminEmail = await get('admin-email', flags['admin-email'], p.email, 'admin@example.com', (q) => q.ask(t('q.admin_email'), 'admin@example.com', p.email));
  const generated = randomBytes(12).toString('base64url');
  const adminPassword = await get('admin-password', flags['admin-password'], p.password, generated, (q) =>
    q.ask(t('q.admin_password'), generated, p.password, true),
  );
  return { dir, name, lang, database, theme, plugins, upstream, adminEmail, adminPassword, passwordGenerated: adminPassword === generated };
}

type Get = <T>(flag: keyof Flags | undefined, given: string | undefined, parse: Parse<T>, fallback: string, ask: (q: Prompter) => Promise<T>) => Promise<T>;

/**
 * A sub-agent shop's upstream (none when no address is given): address, API key and secret, tried
 * on the spot like a MySQL URL, then the markup. A refusal asks the three again on a terminal, and
 * names the flag to fix otherwise.
 */
async function upstreamOf(flags: Flags, t: Translate, uiLocale: Locale, prompter: Prompter | undefined, say: (line: string) => void, get: Get): Promise<Upstream | undefined> {
  const p = parsers(t);
  const flagged = (['upstream-url', 'upstream-key', 'upstream-secret', 'markup'] as const).filter((f) => flags[f] !== undefined);
  for (;;) {
    const url = await get('upstream-url', flags['upstream-url'], p.upstreamUrl, '', (q) => q.ask(t('q.upstream_url'), '', p.upstreamUrl));
    if (!url) {
      const stray = flagged.find((f) => f !== 'upstream-url');
      if (stray) throw new Stop(t('err.flag', { flag: `--${stray}`, message: t('err.upstream_needed') }));
      return undefined;
    }
    const key = await get('upstream-key', flags['upstream-key'], p.upstreamKey, '', (q) => q.ask(t('q.upstream_key'), '', p.upstreamKey));
    const secret = await get('upstream-secret', flags['upstream-secret'], p.upstreamSecret, '', (q) => q.ask(t('q.upstream_secret'), '', p.upstreamSecret, true));
    say(t('checking_upstream', { url }));
    const checked = await checkUpstream({ url, key, secret }, uiLocale);
    if ('balance' in checked) {
      say(t('upstream_ok', { balance: (checked.balance / 100).toFixed(2), currency: checked.currency }));
      const markup = await get('markup', flags.markup, p.markup, '10', (q) => q.ask(t('q.markup'), '10', p.markup));
      return { url, key, secret, markup };
    }
    const message = t(`err.upstream_${checked.blame}_refused`, { url, reason: checked.reason });
    if (!prompter || flagged.length) throw new Stop(t('err.flag', { flag: `--upstream-${checked.blame}`, message }));
    say(`  ${message}`);
  }
}
