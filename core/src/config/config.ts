import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { LOCALES } from '../i18n/messages.js';
import { pluginEntrySchema } from '../plugins/host.js';

/** The database URL: `sqlite:<file>` (relative to the project folder) or `mysql://user:pass@host:port/db`. */
const databaseUrl = z
  .string()
  .refine((s) => s.startsWith('sqlite:') || s.startsWith('mysql://'), {
    message: 'must be sqlite:<file> or mysql://user:pass@host:port/db',
  });

export const CURRENCIES = ['CNY', 'USD', 'EUR'] as const;

export const configSchema = z
  .object({
    /** Folder that relative paths (database file, themes) are resolved against. */
    root: z.string().default(process.cwd()),
    database: databaseUrl.default('sqlite:./data/shop.db'),
    /** Master secret; every encryption, cookie and CSRF key is derived from it. */
    secret: z.string().min(32, 'must be at least 32 characters').optional(),
    demo: z.boolean().default(false),
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(3000),
    /**
     * Behind a reverse proxy (nginx, a CDN): trust its X-Forwarded-Proto/-For/-Host for HTTPS, client
     * IPs and host names. `true` trusts every peer; a list of addresses trusts only those peers.
     */
    trustProxy: z.union([z.boolean(), z.array(z.string().min(1)).min(1)]).default(false),
    /** Slow clients (slowloris): the longest a request's headers, and the whole request, may take to arrive. */
    http: z
      .object({
        headersTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
        requestTimeoutMs: z.number().int().min(100).max(3_600_000).default(30_000),
      })
      .prefault({}),
    /** Public address of the shop, used in links that leave the site. */
    publicUrl: z.url().optional(),
    shop: z
      .object({
        name: z.string().min(1).max(80).default('Cardshop'),
        currency: z.enum(CURRENCIES).default('CNY'),
        locale: z.enum(LOCALES).default('zh-CN'),
        /** A line shown atop every page of the main shop (a sub-shop shows its own). */
        notice: z.string().max(1000).optional(),
      })
      .prefault({}),
    /** The operator's console (/admin). */
    console: z
      .object({
        /** A console session left idle this long is signed out. */
        idleMinutes: z.number().int().min(1).max(1440).default(30),
      })
      .prefault({}),
    /** Theme package name or folder. */
    theme: z.string().default('@cardshop/theme-default'),
    /** Themes an agent may choose for its sub-shop (each must be installed and pass its check). */
    siteThemes: z.array(z.string()).default([]),
    checkout: z
      .object({
        maxQuantity: z.number().int().min(1).max(100_000).default(1000),
        /** Longest a checkout waits in the group-commit queue before its batch starts. */
        batchWaitMs: z.number().int().min(0).max(50).default(0),
        maxBatch: z.number().int().min(1).max(2000).default(256),
        /** How long a gateway order waits for its payment before it expires. */
        paymentMinutes: z.number().int().min(1).max(1440).default(15),
        /** How long an unpaid gateway order of cards holds its keys; it expires then. */
        reserveMinutes: z.number().int().min(1).max(1440).default(10),
        /**
         * Unpaid gateway orders one contact, one IP address and one browser session may hold at
         * once (0: no limit), so bots cannot lock a shop's stock. Behind a proxy, set trustProxy.
         */
        maxUnpaid: z
          .object({
            contact: z.number().int().min(0).max(1000).default(3),
            ip: z.number().int().min(0).max(100_000).default(10),
            session: z.number().int().min(0).max(1000).default(3),
          })
          .prefault({}),
        /** Guest orders one IP address and one contact may place an hour (0: no limit); refusals are 429. */
        guestOrders: z
          .object({
            ip: z.number().int().min(0).max(100_000).default(20),
            contact: z.number().int().min(0).max(10_000).default(5),
          })
          .prefault({}),
      })
      .prefault({}),
    /** Challenges on guests' checkout and on registration (security/bot-defence.ts). */
    botDefence: z
      .object({
        checkout: z.boolean().default(true),
        register: z.boolean().default(true),
        /** Leading zero bits of the built-in proof of work: 18 is about 260,000 SHA-256 hashes, a second or so on a phone. */
        powBits: z.number().int().min(1).max(28).default(18),
        /** How long a challenge may be answered. */
        minutes: z.number().int().min(1).max(1440).default(20),
        /** For browsers without JavaScript: `captcha` (a sum drawn as SVG to type) or `none` (the form then needs JavaScript). */
        fallback: z.enum(['captcha', 'none']).default('captcha'),
      })
      .prefault({}),
    payments: z
      .object({
        /** Days the log of gateway callbacks (notifies, returns) is kept. */
        callbackLogDays: z.number().int().min(1).max(3650).default(30),
        /** A paid order not delivered after this many minutes is listed as stuck. */
        stuckMinutes: z.number().int().min(1).max(10_080).default(10),
      })
      .prefault({}),
    /** Delivery workers: in every app process (`cardshop start`) and in `cardshop worker`. */
    delivery: z
      .object({
        /** Jobs one process runs at once; 0 leaves them to other processes. */
        concurrency: z.number().int().min(0).max(64).default(4),
        /** How often an idle worker looks for jobs written by other processes. */
        pollMs: z.number().int().min(10).max(60_000).default(1000),
        /** A job run (a supplier call, a webhook) taking longer is aborted and retried. */
        timeoutMs: z.number().int().min(100).max(600_000).default(30_000),
        /** Attempts before a job goes to the dead letter (visible in the admin). */
        maxAttempts: z.number().int().min(1).max(100).default(10),
        /** Retry delays double from backoffMs up to backoffMaxMs, with jitter. */
        backoffMs: z.number().int().min(0).max(3_600_000).default(5_000),
        backoffMaxMs: z.number().int().min(0).max(86_400_000).default(3_600_000),
        /** How often a supplier is asked about an order it has not finished (when no callback came). */
        supplierPollMs: z.number().int().min(10).max(3_600_000).default(30_000),
        /** Times one supplier is sent an order it is known not to have taken before the next supplier is tried. */
        routeAttempts: z.number().int().min(1).max(100).default(3),
        /** Calls one process makes to one supplier at once: a supplier that hangs holds at most this many job slots. */
        supplierConcurrency: z.number().int().min(1).max(64).default(2),
        /** Consecutive failed calls that open a supplier's circuit breaker: it is not called for breakerCoolDownMs, then tried once. */
        breakerFailures: z.number().int().min(1).max(1000).default(5),
        breakerCoolDownMs: z.number().int().min(10).max(3_600_000).default(30_000),
      })
      .prefault({}),
    logLevel: z.enum(['silent', 'error', 'warn', 'info', 'debug']).default('info'),
    /** Plugins to load, in order: `epay({ … })`, a package name, or `{ package, settings }`. */
    plugins: z.array(pluginEntrySchema).default([]),
  })
  .strict();

export type ConfigInput = z.input<typeof configSchema>;

/** Types a cardshop.config.ts: `export default defineConfig({ … })`. */
export function defineConfig(config: ConfigInput): ConfigInput {
  return config;
}
export type Config = z.output<typeof configSchema> & { secret: string };

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const CONFIG_FILES = ['cardshop.config.ts', 'cardshop.config.js', 'cardshop.config.mjs', 'cardshop.config.json'];

/** Where each config key may also come from in the environment. */
const ENV_KEYS: Array<[string, string[], (v: string) => unknown]> = [
  ['CARDSHOP_DATABASE', ['database'], String],
  ['CARDSHOP_SECRET', ['secret'], String],
  ['CARDSHOP_HOST', ['host'], String],
  ['PORT', ['port'], Number],
  ['CARDSHOP_PORT', ['port'], Number],
  ['CARDSHOP_PUBLIC_URL', ['publicUrl'], String],
  ['CARDSHOP_TRUST_PROXY', ['trustProxy'], (v) => (v === 'true' || v === '1' ? true : /^\d|:/.test(v) ? v.split(',').map((a) => a.trim()) : false)],
  ['CARDSHOP_THEME', ['theme'], String],
  ['CARDSHOP_SHOP_NAME', ['shop', 'name'], String],
  ['CARDSHOP_LOCALE', ['shop', 'locale'], String],
  ['CARDSHOP_LOG_LEVEL', ['logLevel'], String],
];

function setPath(target: Record<string, unknown>, keys: string[], value: unknown): void {
  let node = target;
  for (const k of keys.slice(0, -1)) node = (node[k] ??= {}) as Record<string, unknown>;
  node[keys.at(-1)!] = value;
}

async function readConfigFile(root: string): Promise<{ file?: string; input: Record<string, unknown> }> {
  for (const name of CONFIG_FILES) {
    const file = path.join(root, name);
    if (!existsSync(file)) continue;
    if (name.endsWith('.json')) return { file, input: JSON.parse(await readFile(file, 'utf8')) };
    if (name.endsWith('.ts')) {
      const { createJiti } = await import('jiti');
      const jiti = createJiti(import.meta.url, { moduleCache: false, fsCache: false });
      const mod = (await jiti.import(file, { default: true })) as Record<string, unknown>;
      return { file, input: mod };
    }
    const mod = (await import(pathToFileURL(file).href)) as { default: Record<string, unknown> };
    return { file, input: mod.default };
  }
  return { input: {} };
}

/** Validates config input and names every bad key in one message. */
export function parseConfig(input: ConfigInput, source = 'config'): Config {
  const result = configSchema.safeParse(input);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`Invalid ${source}:\n${lines.join('\n')}`);
  }
  const cfg = result.data;
  if (!cfg.secret) {
    if (!cfg.demo) {
      throw new ConfigError(
        `Invalid ${source}:\n  secret: required (set CARDSHOP_SECRET to 32+ random characters, e.g. \`openssl rand -hex 32\`)`,
      );
    }
  }
  return cfg as Config;
}

/**
 * Loads cardshop.config.{ts,js,mjs,json} from `root`, overlays CARDSHOP_* environment variables
 * and `overrides` (command-line flags), and validates the result.
 */
export async function loadConfig(
  root = process.cwd(),
  overrides: ConfigInput = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<Config> {
  const { file, input } = await readConfigFile(root);
  const merged: Record<string, unknown> = { ...input, root };
  for (const [name, keys, cast] of ENV_KEYS) {
    const value = env[name];
    if (value !== undefined && value !== '') setPath(merged, keys, cast(value));
  }
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) merged[k] = v;
  return parseConfig(merged as ConfigInput, file ? path.basename(file) : 'configuration');
}
