import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { MessageKey } from './messages.js';

export const CORE = '@cardshop/core';

export const THEMES = {
  default: '@cardshop/theme-default',
  wholesale: '@cardshop/theme-wholesale',
} as const;
export type ThemeId = keyof typeof THEMES;

/**
 * The payment plugins a new shop may include. Each setting a plugin needs comes from an
 * environment variable (they are secrets, so they live in .env), and the generated config switches
 * the plugin on once all of them are filled in: a fresh shop starts before its payment accounts exist.
 */
export const PLUGINS = {
  epay: {
    package: '@cardshop/plugin-payment-epay',
    label: 'plugin.epay',
    settings: { apiUrl: 'EPAY_API_URL', pid: 'EPAY_PID', key: 'EPAY_KEY' },
  },
  alipay: {
    package: '@cardshop/plugin-payment-alipay',
    label: 'plugin.alipay',
    settings: { appId: 'ALIPAY_APP_ID', privateKey: 'ALIPAY_PRIVATE_KEY', alipayPublicKey: 'ALIPAY_PUBLIC_KEY' },
  },
  wechatpay: {
    package: '@cardshop/plugin-payment-wechatpay',
    label: 'plugin.wechatpay',
    settings: {
      mchid: 'WECHATPAY_MCHID',
      appid: 'WECHATPAY_APPID',
      merchantSerialNo: 'WECHATPAY_SERIAL_NO',
      merchantPrivateKey: 'WECHATPAY_PRIVATE_KEY',
      apiV3Key: 'WECHATPAY_API_V3_KEY',
      platformPublicKey: 'WECHATPAY_PUBLIC_KEY',
      platformPublicKeyId: 'WECHATPAY_PUBLIC_KEY_ID',
    },
  },
  stripe: {
    package: '@cardshop/plugin-payment-stripe',
    label: 'plugin.stripe',
    settings: { secretKey: 'STRIPE_SECRET_KEY', webhookSecret: 'STRIPE_WEBHOOK_SECRET' },
  },
} satisfies Record<string, { package: string; label: MessageKey; settings: Record<string, string> }>;
export type PluginId = keyof typeof PLUGINS;

/** A sub-agent shop buys from its upstream through this plugin; the key's secret is this variable in .env. */
export const UPSTREAM = { package: '@cardshop/plugin-supplier-cardshop', secret: 'UPSTREAM_SECRET' } as const;

interface OwnPackage {
  version: string;
  devDependencies: Record<string, string>;
}

const require = createRequire(import.meta.url);
/** dist/index.js and src/index.ts both sit one folder below package.json. */
const own = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as OwnPackage;

export const VERSION = own.version;

/**
 * The semver range of a published @cardshop package. They are this package's devDependencies as
 * `workspace:^`, which `pnpm pack`/`pnpm publish` rewrite to `^<current version>`; inside the
 * workspace the linked package's own version stands in for that.
 */
export function versionRange(name: string): string {
  const spec = own.devDependencies[name];
  if (!spec) throw new Error(`create-cardshop does not know the package ${name}`);
  if (!spec.startsWith('workspace:')) return spec;
  return `^${(require(`${name}/package.json`) as { version: string }).version}`;
}

export class PackagesError extends Error {
  constructor(
    readonly key: MessageKey,
    readonly params: Record<string, unknown>,
  ) {
    super(key);
  }
}

/**
 * Local package sources: the @cardshop/* tarballs `pnpm pack` wrote into `dir`
 * (`cardshop-core-0.1.0.tgz` is @cardshop/core), by package name.
 */
export function tarballsIn(dir: string): Map<string, string> {
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    throw new PackagesError('err.packages_dir', { dir });
  }
  const found = new Map<string, string[]>();
  for (const file of files) {
    const m = /^cardshop-(.+?)-(\d+\.\d+\.\d+.*)\.tgz$/.exec(file);
    if (!m) continue;
    const name = `@cardshop/${m[1]}`;
    found.set(name, [...(found.get(name) ?? []), path.resolve(dir, file)]);
  }
  const tarballs = new Map<string, string>();
  for (const [name, paths] of found) {
    if (paths.length > 1) throw new PackagesError('err.packages_twice', { name, dir, files: paths.map((p) => path.basename(p)).join(', ') });
    tarballs.set(name, paths[0]!);
  }
  return tarballs;
}

/** Checks that every package the shop depends on has a tarball. */
export function requireTarballs(tarballs: Map<string, string>, names: string[], dir: string): void {
  for (const name of names) if (!tarballs.has(name)) throw new PackagesError('err.packages_missing', { name, dir });
}
