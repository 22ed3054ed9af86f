import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Knex } from 'knex';
import semver from 'semver';
import { z } from 'zod';
import type { Deps } from '../context.js';
import type { ShopRouter } from '../http/context.js';
import type { ConfiguredPlugin, Plugin, PluginContext, PluginDefinition, PluginMigration } from './define.js';
import { kycFingerprint, kycStatus } from '../kyc/kyc.js';
import type { Hooks } from './hooks.js';
import type { KycProvider } from './kyc.js';
import type { BotDefence } from '../security/bot-defence.js';
import type { PaymentGateway } from './payment.js';
import { PRODUCT_TYPES } from '../catalog/catalog.js';
import type { ProductTypeDefinition } from '../delivery/product-type.js';
import type { SupplierConnector } from '../delivery/supplier.js';
import type { OperatorAlerts } from '../alerts/alerts.js';
import type { Mailer } from '../notices/mailer.js';
import { storedSettings } from './settings-form.js';
import { refundOrder } from '../orders/orders.js';
import { confirmByQuery, markPaid, type PaidOutcome } from '../orders/payments.js';
import { approveHeld, heldOrders, rejectHeld } from '../orders/review.js';
import { hit } from '../security/rate-limit.js';
import { decrypt, derivePluginKeys, encrypt, hmacHex } from '../security/keys.js';

export class PluginError extends Error {
  override name = 'PluginError';
}

/** How the config may name a plugin: configured, bare, or by package name with settings. */
export const pluginEntrySchema = z.union([
  z.string().min(1),
  z.object({ package: z.string().min(1), settings: z.unknown().optional(), ignoreCompatibility: z.boolean().optional() }),
  z.custom<ConfiguredPlugin | Plugin>((v) => typeof v === 'function' || (typeof v === 'object' && v !== null && 'definition' in v)),
]);
export type PluginEntry = z.infer<typeof pluginEntrySchema>;

/** This package's version, read from its package.json (found from here upwards: src and dist differ). */
export const CORE_VERSION: string = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version: string };
      if (pkg.name === '@cardshop/core') return pkg.version;
    } catch {
      // no package.json at this level
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the package.json of @cardshop/core');
    dir = up;
  }
})();

async function resolveEntry(entry: PluginEntry, root: string): Promise<ConfiguredPlugin> {
  if (typeof entry === 'function') return entry();
  if (typeof entry === 'object' && 'definition' in entry) return entry;
  const spec = typeof entry === 'string' ? { package: entry } : entry;
  let mod: { default?: Plugin };
  try {
    const file = createRequire(path.join(root, 'package.json')).resolve(spec.package);
    mod = (await import(pathToFileURL(file).href)) as { default?: Plugin };
  } catch (err) {
    throw new PluginError(`plugin ${spec.package}: cannot load it (${(err as Error).message.split('\n')[0]}); is it installed?`);
  }
  if (typeof mod.default !== 'function' || !mod.default.definition) {
    throw new PluginError(`plugin ${spec.package}: its default export is not definePlugin(…)`);
  }
  return mod.default(spec.settings as never, { ignoreCompatibility: spec.ignoreCompatibility });
}

function checkCompatible(def: PluginDefinition, ignore: boolean | undefined, log: Deps['log']): void {
  if (semver.satisfies(CORE_VERSION, def.core, { includePrerelease: true })) return;
  const message = `plugin ${def.name} ${def.version} supports @cardshop/core ${def.core}, but this is @cardshop/core ${CORE_VERSION}`;
  if (!ignore) {
    throw new PluginError(`${message}. Install a version of the plugin made for this core, or set ignoreCompatibility: true to load it anyway.`);
  }
  log.warn(`${message}; loading it anyway (ignoreCompatibility)`);
}

function parseSettings(def: PluginDefinition, settings: unknown): unknown {
  if (!def.settings) return settings;
  const result = def.settings.safeParse(settings);
  if (result.success) return result.data;
  const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(settings)'}: ${i.message}`);
  throw new PluginError(`Invalid settings for plugin ${def.name}:\n${lines.join('\n')}`);
}

class MigrationList implements Knex.MigrationSource<PluginMigration> {
  constructor(private readonly list: PluginMigration[]) {}
  async getMigrations() {
    return this.list;
  }
  getMigrationName(m: PluginMigration) {
    return m.name;
  }
  async getMigration(m: PluginMigration) {
    return m;
  }
}

export interface PluginHost {
  readonly plugins: ReadonlyArray<{ name: string; version: string; settings: unknown }>;
  /** Payment gateways the plugins offer, by id. */
  readonly gateways: ReadonlyMap<string, PaymentGateway>;
  /** Supplier connectors the plugins offer, by id. */
  readonly suppliers: ReadonlyMap<string, SupplierConnector>;
  /** Product types the plugins add, by name. */
  readonly productTypes: ReadonlyMap<string, ProductTypeDefinition>;
  /** The real-name verification a plugin offers, if any. */
  readonly kycProvider: KycProvider | undefined;
  /** The bot defence a plugin offers instead of the built-in proof of work, if any. */
  readonly botDefence: BotDefence | undefined;
  /** The e-mail transport a plugin offers for buyers' mail, if any. */
  readonly mailer: Mailer | undefined;
  /** Each loaded plugin's definition and settings input (the config's, overlaid by the admin's). */
  readonly configured: ReadonlyMap<string, { definition: PluginDefinition; input: Record<string, unknown> }>;
  /** Loads, checks and sets up the configured plugins, applies their migrations, then starts them. */
  load(entries: PluginEntry[]): Promise<string[]>;
  stop(): Promise<void>;
}

/**
 * @param mountRoutes adds a plugin's routes under /plugins/<name>/ (the HTTP layer provides it, so
 *   the host itself knows nothing of koa)
 */
export function createPluginHost(
  deps: Deps,
  hooks: Hooks,
  mountRoutes: (plugin: string, register: (router: ShopRouter) => void) => void,
  alerts: OperatorAlerts,
): PluginHost {
  const loaded: Array<{ name: string; version: string; settings: unknown }> = [];
  const stops: Array<() => void | Promise<void>> = [];
  const gateways = new Map<string, PaymentGateway>();
  const suppliers = new Map<string, SupplierConnector>();
  const productTypes = new Map<string, ProductTypeDefinition>();
  const configured = new Map<string, { definition: PluginDefinition; input: Record<string, unknown> }>();
  let kycProvider: KycProvider | undefined;
  let botDefence: BotDefence | undefined;
  let mailer: Mailer | undefined;
  const kyc = { status: (userId: number) => kycStatus(deps, userId), fingerprint: (idNumber: string) => kycFingerprint(deps, idNumber) };
  const gatewayOwners = new Map<string, string>();
  /** A plugin confirms or keeps payments of its own gateways' orders only. */
  const ownPayments = (plugin: string): PluginContext<unknown>['payments'] => {
    const ownOrder = async (gatewayId: string, orderNo: string) => {
      const gateway = gateways.get(gatewayId);
      if (!gateway || gatewayOwners.get(gatewayId) !== plugin) throw new PluginError(`plugin ${plugin}: "${gatewayId}" is not one of its payment gateways`);
      const row = await deps.db.knex('orders').where('no', orderNo).first('amount', 'payment');
      if (!row || row.payment !== gatewayId) throw new PluginError(`plugin ${plugin}: no ${gatewayId} order ${orderNo}`);
      return { gateway, amount: Number(row.amount) };
    };
    return {
      async confirm({ gatewayId, orderNo }) {
        const { gateway, amount } = await ownOrder(gatewayId, orderNo);
        return confirmByQuery(deps, gateway, { no: orderNo, amount });
      },
      async keep(input) {
        await ownOrder(input.gatewayId, input.orderNo);
        if (!Number.isSafeInteger(input.amount) || input.amount <= 0) throw new PluginError(`plugin ${plugin}: kept amount must be a positive number of minor units, got ${input.amount}`);
        return (await markPaid(deps, { ...input, confirmed: true, keep: input.reason })) as Exclude<PaidOutcome, 'paid'>;
      },
    };
  };
  const orders: PluginContext<unknown>['orders'] = {
    refund: (input) => refundOrder(deps, gateways, { no: input.no, reason: input.reason, actorId: input.actorId ?? null }),
    held: (opts) => heldOrders(deps, opts),
    approve: (input) => approveHeld(deps, input),
    reject: (input) => rejectHeld(deps, input),
  };

  return {
    plugins: loaded,
    gateways,
    suppliers,
    productTypes,
    configured,
    get kycProvider() {
      return kycProvider;
    },
    get botDefence() {
      return botDefence;
    },
    get mailer() {
      return mailer;
    },
    async load(entries) {
      const starts: Array<() => void | Promise<void>> = [];
      const applied: string[] = [];
      const saved = await storedSettings(deps);
      for (const entry of entries) {
        const resolved = await resolveEntry(entry, deps.config.root);
        const def = resolved.definition;
        if (!/^[a-z0-9][a-z0-9-]{0,39}$/.test(def.name)) throw new PluginError(`plugin name "${def.name}" must be lowercase letters, digits and dashes`);
        if (loaded.some((p) => p.name === def.name)) throw new PluginError(`plugin ${def.name} is listed twice`);
        checkCompatible(def, resolved.ignoreCompatibility, deps.log);
        // Settings saved in the admin win over the config file's, key by key.
        const input = { ...(resolved.settings as Record<string, unknown>), ...saved.get(def.name) };
        const settings = parseSettings(def, input);
        configured.set(def.name, { definition: def, input });
        const log = {
          error: (m: string, e?: unknown) => deps.log.error(`[${def.name}] ${m}`, e),
          warn: (m: string, e?: unknown) => deps.log.warn(`[${def.name}] ${m}`, e),
          info: (m: string, e?: unknown) => deps.log.info(`[${def.name}] ${m}`, e),
          debug: (m: string, e?: unknown) => deps.log.debug(`[${def.name}] ${m}`, e),
        };
        const ctx: PluginContext<unknown> = {
          name: def.name,
          settings,
          log,
          db: deps.db.knex,
          on: (event, listener) => hooks.on(event, listener, def.name),
          veto: (event, check) => hooks.veto(event, check, def.name),
          paymentGateway(gateway) {
            if (!/^[a-z0-9][a-z0-9-]{0,31}$/.test(gateway.id) || gateway.id === 'wallet') {
              throw new PluginError(`plugin ${def.name}: payment gateway id "${gateway.id}" must be lowercase letters, digits and dashes, and not "wallet"`);
            }
            if (gateways.has(gateway.id)) throw new PluginError(`plugin ${def.name}: payment gateway "${gateway.id}" is already registered`);
            gateways.set(gateway.id, gateway);
            gatewayOwners.set(gateway.id, def.name);
          },
          kycProvider(provider) {
            if (!/^[a-z0-9][a-z0-9-]{0,39}$/.test(provider.id)) throw new PluginError(`plugin ${def.name}: KYC provider id "${provider.id}" must be lowercase letters, digits and dashes`);
            if (kycProvider) throw new PluginError(`plugin ${def.name}: a KYC provider ("${kycProvider.id}") is already registered; a shop uses one`);
            kycProvider = provider;
          },
          botDefence(defence) {
            if (!/^[a-z0-9][a-z0-9-]{0,39}$/.test(defence.id)) throw new PluginError(`plugin ${def.name}: bot defence id "${defence.id}" must be lowercase letters, digits and dashes`);
            if (botDefence) throw new PluginError(`plugin ${def.name}: a bot defence ("${botDefence.id}") is already registered; a shop uses one`);
            botDefence = defence;
          },
          kyc,
          orders,
          payments: ownPayments(def.name),
          rateLimit: ({ scope, key, limit, windowMs }) => hit(deps, `${def.name}:${scope}`, key, limit, windowMs),
          crypto: (() => {
            const keys = derivePluginKeys(deps.config.secret, def.name);
            return {
              seal: (text: string) => encrypt(keys.encryption, text),
              open: (sealed: string) => decrypt(keys.encryption, sealed),
              fingerprint: (text: string) => hmacHex(keys.fingerprint, text),
            };
          })(),
          alertChannel(build) {
            if (alerts.channels.has(def.name)) throw new PluginError(`plugin ${def.name}: it already registered an alert channel`);
            alerts.channels.set(def.name, { live: build(settings), build });
          },
          mailer(m) {
            if (mailer) throw new PluginError(`plugin ${def.name}: a mailer is already registered; a shop sends its e-mail through one`);
            mailer = m;
          },
          supplier(connector) {
            if (!/^[a-z0-9][a-z0-9-]{0,39}$/.test(connector.id)) {
              throw new PluginError(`plugin ${def.name}: supplier id "${connector.id}" must be lowercase letters, digits and dashes`);
            }
            if (suppliers.has(connector.id)) throw new PluginError(`plugin ${def.name}: supplier "${connector.id}" is already registered`);
            suppliers.set(connector.id, connector);
          },
          productType(type) {
            if (!/^[a-z][a-z0-9-]{1,15}$/.test(type.name) || (PRODUCT_TYPES as readonly string[]).includes(type.name) || type.name === 'topup') {
              throw new PluginError(`plugin ${def.name}: product type "${type.name}" must be 2-16 lowercase letters, digits and dashes, and not a core type`);
            }
            if (productTypes.has(type.name)) throw new PluginError(`plugin ${def.name}: product type "${type.name}" is already registered`);
            productTypes.set(type.name, type);
          },
          routes: (register) => mountRoutes(def.name, register),
          onStart: (fn) => starts.push(fn),
          onStop: (fn) => stops.unshift(fn),
        };
        await def.setup(ctx);
        if (def.migrations?.length) {
          // Each plugin keeps its own migration table, so it can be listed and rolled back alone.
          const [, names] = (await deps.db.knex.migrate.latest({
            migrationSource: new MigrationList(def.migrations),
            tableName: `cardshop_migrations_${def.name.replace(/-/g, '_')}`,
          })) as [number, string[]];
          applied.push(...names.map((n) => `${def.name}/${n}`));
        }
        loaded.push({ name: def.name, version: def.version, settings });
        deps.log.info(`plugin ${def.name} ${def.version} loaded`);
      }
      for (const start of starts) await start();
      return applied;
    },
    async stop() {
      for (const stop of stops) {
        try {
          await stop();
        } catch (err) {
          deps.log.error('a plugin failed to stop cleanly', err);
        }
      }
    },
  };
}
