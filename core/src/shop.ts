import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import path from 'node:path';
import type Koa from 'koa';
import { ConfigError, loadConfig, parseConfig, type Config, type ConfigInput } from './config/config.js';
import { createLogger, type Deps } from './context.js';
import { errors } from './errors.js';
import { connect } from './db/connect.js';
import { migrate } from './db/migrate.js';
import { createApp, pluginRoutes } from './http/app.js';
import { createCheckout } from './orders/checkout.js';
import { guardGuestCheckout, type GuardedCheckout } from './orders/guest-guard.js';
import { proofOfWork, pruneChallenges, type BotDefence } from './security/bot-defence.js';
import { CHALLENGE_SCRIPT } from './http/challenge.js';
import { Hooks } from './plugins/hooks.js';
import { listenForAlerts, operatorAlerts, type OperatorAlerts } from './alerts/alerts.js';
import { createPluginHost, type PluginHost } from './plugins/host.js';
import type { NotifyReply, NotifyRequest } from './plugins/payment.js';
import { deliveryStrategies } from './delivery/engine.js';
import { createWorker, type Worker } from './delivery/worker.js';
import { supplierHealth, type SupplierHealthView } from './delivery/health.js';
import { webhookHandler } from './delivery/webhooks.js';
import { supplierChores, syncSupplierCatalog, type SyncReport } from './delivery/catalog-sync.js';
import { checkStock, restockHandler } from './delivery/restock.js';
import { buyerMail } from './notices/buyer-mail.js';
import { checkWatches } from './notices/watches.js';
import { pruneNonces } from './agents/api-keys.js';
import { deriveKeys, hmacHex } from './security/keys.js';
import { pruneSessions } from './agents/users.js';
import { sweepPending } from './orders/payments.js';
import { fillBackorders } from './orders/backorders.js';
import { pruneCallbacks } from './orders/callbacks.js';
import { pruneLookupCodes } from './orders/lookup.js';
import { raiseStuck } from './orders/repair.js';
import { pruneRateLimits } from './security/rate-limit.js';
import { ensureSystemAccounts } from './wallet/ledger.js';
import { ensureTopupProduct } from './wallet/topup.js';
import { applySavedSettings, checkInstalledTheme } from './settings/settings.js';
import { loadTheme, ThemeError, type Theme } from './themes/renderer.js';

export interface Shop extends Deps {
  /** The theme the main shop renders with (the configured one, or the one activated in the console). */
  readonly theme: Theme;
  /** The shop's theme and those sub-shops may choose (`siteThemes`), by configured name. */
  readonly themes: ReadonlyMap<string, Theme>;
  /** The checkout, behind the guests' bot defence and order limits (orders/guest-guard.ts). */
  readonly checkout: GuardedCheckout;
  /** The bot defence guests' checkout and registration pass: a plugin's, else the built-in proof of work. */
  readonly botDefence: BotDefence;
  readonly plugins: PluginHost;
  /** The operator's alert channels (plugins) and the alerts they are sent. */
  readonly alerts: OperatorAlerts;
  readonly delivery: Delivery;
  /** Buyers' stock and price notices: `check()` queues the mails now (the minute chore does it too); returns how many. */
  readonly notices: { check(): Promise<number> };
  readonly app: Koa;
  /** Makes an installed theme the shop's (settings/settings.ts activateTheme). */
  setTheme(name: string, theme: Theme): void;
  /**
   * Makes the shop ready to serve: applies the core's migrations, creates the platform accounts,
   * checks the secret, then loads the configured plugins (setup, their migrations, start).
   * Returns the migrations applied.
   */
  ready(): Promise<string[]>;
  /** Starts serving; resolves with the URL it listens on. */
  listen(port?: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

/** The delivery engine: its worker, and the suppliers' callbacks it applies. */
export interface Delivery {
  /** Started by `listen()` (every app process) or alone by `cardshop worker`. */
  readonly worker: Worker;
  /** A supplier's callback to /supplier/<id>/callback; undefined for a supplier this shop does not have. */
  handleCallback(supplierId: string, request: NotifyRequest): Promise<NotifyReply | undefined>;
  /** Syncs a supplier's catalog now (it also runs on its schedule); 404 for a supplier without a catalog import. */
  syncCatalog(supplierId: string): Promise<SyncReport>;
  /** Raises `stock.low` and writes restock jobs now (the minute chore does it too); returns how many SKUs need one. */
  checkStock(): Promise<number>;
  /** Each supplier's breaker and figures of the last hour, as this process sees them (delivery/health.ts). */
  health(): Promise<SupplierHealthView[]>;
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

/**
 * Remembers a fingerprint of the secret in the database and refuses a different one later: with
 * the wrong secret no stored key could be decrypted, and new ones would be sealed with a key
 * nobody else has.
 */
async function checkSecret(deps: Deps): Promise<void> {
  const check = hmacHex(deps.keys.tokens, 'secret-check', 16);
  await deps.db.knex('settings').insert({ key: 'secret_check', value: check }).onConflict('key').ignore();
  const row = await deps.db.knex('settings').where('key', 'secret_check').first('value');
  if (row.value !== check) {
    throw new ConfigError(
      'secret: this database was set up with a different CARDSHOP_SECRET; start with the original one (keys and sessions depend on it)',
    );
  }
}

/**
 * The configured theme with the shop's local overrides, refused unless it passes
 * `cardshop theme check` without errors.
 */
function loadCheckedTheme(config: Config): Theme {
  const { dir, report } = checkInstalledTheme(config, config.theme);
  if (!report.ok) {
    const errors = report.findings.filter((f) => f.level === 'error').slice(0, 10);
    const lines = errors.map((f) => `  ${f.rule} ${f.file ?? ''}${f.line ? `:${f.line}` : ''} ${f.message}`);
    throw new ThemeError(`theme ${config.theme} does not pass its check (cardshop theme check ${dir}):\n${lines.join('\n')}`);
  }
  return loadTheme(dir);
}

/** Builds a shop from validated config (or raw input, validated here). Nothing listens yet. */
export function createShop(input: Config | ConfigInput): Shop {
  const config = parseConfig(input as ConfigInput);
  const secret = config.secret ?? demoSecret(config.root);
  const log = createLogger(config.logLevel);
  const db = connect(config.database, config.root);
  const hooks = new Hooks(log);
  const deps: Deps = { db, keys: deriveKeys(secret), config: { ...config, secret }, log, hooks, now: () => Date.now() };
  let theme = loadCheckedTheme(config);
  const themes = new Map([[config.theme, theme], ...config.siteThemes.map((name) => [name, loadCheckedTheme({ ...config, theme: name })] as const)]);
  const routes = pluginRoutes();
  const alerts = operatorAlerts(deps, () => worker.nudge());
  listenForAlerts(deps, alerts);
  const plugins = createPluginHost(deps, hooks, routes.mount, alerts);
  // Challenges and guest limits read the clock through the shop object (which tests may move), like the routes do.
  const viaShop: Deps = { ...deps, now: () => shop.now() };
  const builtInDefence = proofOfWork(viaShop, { bits: config.botDefence.powBits, minutes: config.botDefence.minutes, fallback: config.botDefence.fallback, script: CHALLENGE_SCRIPT });
  const defence = () => plugins.botDefence ?? builtInDefence;
  const checkout = guardGuestCheckout(viaShop, createCheckout(deps, plugins.gateways, plugins.productTypes, () => worker.nudge()), defence);
  let server: Server | undefined;
  /** Responses not sent yet: when the shop stops, each is told to close its connection after it. */
  const unanswered = new Set<ServerResponse>();
  let stopping = false;
  let listeningAt: string | undefined;
  /** This shop's address as suppliers reach it, for callback URLs. */
  const baseUrl = () => config.publicUrl ?? listeningAt ?? `http://${config.host}:${config.port}`;
  const lowStock = new Set<number>();
  // Its cool-downs read the clock through the shop object, which tests may move.
  const health = supplierHealth(viaShop);
  const strategies = deliveryStrategies(deps, {
    gateways: plugins.gateways,
    suppliers: plugins.suppliers,
    productTypes: plugins.productTypes,
    health,
    baseUrl,
  });
  const suppliersDue = supplierChores(deps, plugins.suppliers);
  const mail = buyerMail(deps, { mailer: () => plugins.mailer, baseUrl, nudge: () => worker.nudge() });
  const worker = createWorker(
    deps,
    { deliver: strategies.deliver, webhook: webhookHandler(deps), restock: restockHandler(deps, plugins.suppliers, health, baseUrl), alert: alerts.handler, mail },
    config.delivery,
  );
  // A job this process just wrote starts now, not at the next poll (the checkout says when it wrote one).
  hooks.on('order.paid', ({ order }) => {
    if (order.status !== 'delivered') worker.nudge();
  });
  let housekeeping: NodeJS.Timeout | undefined;

  /**
   * Chores the serving process does itself, so there is no separate daemon to forget: every
   * minute unpaid gateway orders are confirmed by query or expire (releasing their keys) and
   * backorders get keys that arrived; every hour expired sessions, old callback logs and look-up
   * counters go.
   */
  let minutes = 0;
  const tidy = async () => {
    const chores: Array<[string, () => Promise<unknown>]> = [
      ['checking unpaid orders', () => sweepPending(deps, plugins.gateways)],
      ['delivering backorders', () => fillBackorders(deps)],
      ['pruning API nonces', () => pruneNonces(deps)],
      ['syncing suppliers', suppliersDue],
      ['checking low stock', () => checkStock(deps, plugins.suppliers, lowStock)],
      ['announcing stuck orders', () => raiseStuck(deps, plugins.gateways)],
      ['mailing stock and price notices', () => shop.notices.check()],
      // Another app process may have saved them in the console.
      ['reading site settings', () => applySavedSettings(shop)],
    ];
    if (minutes++ % 60 === 0) {
      chores.push(['pruning expired sessions', () => pruneSessions(deps)]);
      chores.push(['pruning the payment callback log', () => pruneCallbacks(deps)]);
      chores.push(['pruning look-up counters and codes', () => Promise.all([pruneRateLimits(deps), pruneLookupCodes(deps), pruneChallenges(deps)])]);
    }
    for (const [what, chore] of chores) await chore().catch((err: unknown) => log.warn(`${what} failed; will retry`, err));
  };

  const shop: Shop = {
    ...deps,
    get theme() {
      return theme;
    },
    setTheme(name, loaded) {
      themes.set(name, loaded);
      theme = loaded;
    },
    themes,
    checkout,
    get botDefence() {
      return defence();
    },
    plugins,
    alerts,
    delivery: {
      worker,
      handleCallback: strategies.handleCallback,
      syncCatalog(supplierId) {
        const connector = plugins.suppliers.get(supplierId);
        if (!connector?.catalog) throw errors.notFound();
        return syncSupplierCatalog(deps, connector, connector.catalog);
      },
      checkStock: () => checkStock(deps, plugins.suppliers, lowStock),
      health: () => health.view(plugins.suppliers.keys()),
    },
    notices: { check: async () => (plugins.mailer ? checkWatches(deps, () => worker.nudge()) : 0) },
    app: undefined as unknown as Koa,
    async ready() {
      const applied = await migrate(db);
      await ensureSystemAccounts(db, config.shop.currency);
      await ensureTopupProduct(db);
      await checkSecret(deps);
      await applySavedSettings(shop);
      return [...applied, ...(await plugins.load(config.plugins))];
    },
    listen(port = config.port, host = config.host) {
      return new Promise((resolve, reject) => {
        // A client that trickles its headers or body (slowloris) is cut off after the configured
        // time, checked every second, so it cannot hold sockets that others need.
        const { headersTimeoutMs, requestTimeoutMs } = config.http;
        server = createServer({ headersTimeout: headersTimeoutMs, requestTimeout: requestTimeoutMs, connectionsCheckingInterval: 1_000 }, shop.app.callback());
        // A deep accept queue: a burst of thousands of new connections waits instead of being dropped.
        server.listen({ port, host, backlog: 4096 });
        server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
          if (stopping) {
            res.setHeader('Connection', 'close');
            return;
          }
          unanswered.add(res);
          res.once('finish', () => unanswered.delete(res)).once('close', () => unanswered.delete(res));
        });
        server.once('error', reject);
        server.once('listening', () => {
          void tidy();
          housekeeping = setInterval(tidy, 60_000).unref();
          const addr = server!.address() as AddressInfo;
          listeningAt = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
          worker.start();
          resolve(listeningAt);
        });
        // Keep-alive longer than typical proxies' idle timeout, so they never reuse a closed socket.
        server.keepAliveTimeout = 65_000;
      });
    },
    /**
     * Stops taking requests, lets the ones in flight finish (up to 10 s), commits whatever the
     * checkout queue holds, lets hook listeners finish, stops the plugins, then closes the
     * database: a shutdown never leaves a buyer charged without an answer written.
     */
    async close() {
      clearInterval(housekeeping);
      if (server) {
        const s = server;
        stopping = true;
        // A kept-alive connection would otherwise hold the close open until the client drops it.
        for (const res of unanswered) if (!res.headersSent) res.setHeader('Connection', 'close');
        await new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeIdleConnections();
          setTimeout(() => s.closeAllConnections(), 10_000).unref();
        });
      }
      await worker.stop();
      await checkout.queue.drain();
      await hooks.idle();
      await plugins.stop();
      await db.close();
    },
  };
  (shop as { app: Koa }).app = createApp(shop, routes.router);
  return shop;
}

/** Loads config from the folder and environment, then builds the shop. */
export async function openShop(root?: string, overrides?: ConfigInput): Promise<Shop> {
  return createShop(await loadConfig(root, overrides));
}
