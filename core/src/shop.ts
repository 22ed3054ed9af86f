import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import path from 'node:path';
import type Koa from 'koa';
import { loadConfig, parseConfig, type Config, type ConfigInput } from './config/config.js';
import { createLogger, type Deps } from './context.js';
import { connect } from './db/connect.js';
import { migrate } from './db/migrate.js';
import { createApp } from './http/app.js';
import { createCheckout, type Checkout } from './orders/checkout.js';
import { deriveKeys } from './security/keys.js';
import { ensureSystemAccounts } from './wallet/ledger.js';
import { loadTheme, resolveThemeDir, type Theme } from './themes/renderer.js';

export interface Shop extends Deps {
  readonly theme: Theme;
  readonly checkout: Checkout;
  readonly app: Koa;
  migrate(): Promise<string[]>;
  /** Starts serving; resolves with the URL it listens on. */
  listen(port?: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * A demo shop may start without a secret: one is generated once and kept beside the database,
 * so keys encrypted today can still be read after a restart.
 */
function demoSecret(root: string): string {
  const file = path.join(root, 'data', '.secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(path.dirname(file), { recursive: true });
  const secret = randomBytes(32).toString('hex');
  writeFileSync(file, secret, { mode: 0o600 });
  return secret;
}

/** Builds a shop from validated config (or raw input, validated here). Nothing listens yet. */
export function createShop(input: Config | ConfigInput): Shop {
  const config = parseConfig(input as ConfigInput);
  const secret = config.secret ?? demoSecret(config.root);
  const log = createLogger(config.logLevel);
  const db = connect(config.database, config.root);
  const deps: Deps = { db, keys: deriveKeys(secret), config: { ...config, secret }, log, now: () => Date.now() };
  const theme = loadTheme(resolveThemeDir(config.theme, config.root));
  const checkout = createCheckout(deps);
  let server: Server | undefined;

  const shop: Shop = {
    ...deps,
    theme,
    checkout,
    app: undefined as unknown as Koa,
    async migrate() {
      const applied = await migrate(db);
      await ensureSystemAccounts(db, config.shop.currency);
      return applied;
    },
    listen(port = config.port, host = config.host) {
      return new Promise((resolve, reject) => {
        server = shop.app.listen(port, host);
        server.once('error', reject);
        server.once('listening', () => {
          const addr = server!.address() as AddressInfo;
          resolve(`http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`);
        });
        // Keep-alive longer than typical proxies' idle timeout, so they never reuse a closed socket.
        server.keepAliveTimeout = 65_000;
      });
    },
    async close() {
      if (server) {
        const s = server;
        await new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeAllConnections();
        });
      }
      await db.knex.destroy();
    },
  };
  (shop as { app: Koa }).app = createApp(shop);
  return shop;
}

/** Loads config from the folder and environment, then builds the shop. */
export async function openShop(root?: string, overrides?: ConfigInput): Promise<Shop> {
  return createShop(await loadConfig(root, overrides));
}
