import type { Knex } from 'knex';
import type { AlertChannelFactory } from '../alerts/alerts.js';
import type { z } from 'zod';
import type { Logger } from '../context.js';
import type { Mailer } from '../notices/mailer.js';
import type { ShopRouter } from '../http/context.js';
import type { KycStatus } from '../kyc/kyc.js';
import type { OrderView } from '../orders/orders.js';
import type { HeldOrder } from '../orders/review.js';
import type { HookEvents, Verdict, VetoHooks } from './hooks.js';
import type { KycProvider } from './kyc.js';
import type { BotDefence } from '../security/bot-defence.js';
import type { PaymentGateway } from './payment.js';
import type { ProductTypeDefinition } from '../delivery/product-type.js';
import type { SupplierConnector } from '../delivery/supplier.js';

/** A plugin's own migration: dated name, up and down. Its tables are named `<plugin>_…`. */
export interface PluginMigration {
  name: string;
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/** Everything a plugin gets from the shop; it imports nothing else from the core. */
export interface PluginContext<S> {
  readonly name: string;
  readonly settings: S;
  readonly log: Logger;
  /** The shop's database, for the plugin's own tables. */
  readonly db: Knex;
  on<E extends keyof HookEvents>(event: E, listener: (payload: HookEvents[E]) => void | Promise<void>): void;
  /**
   * Checks before something happens: a reason refuses it; on `before.checkout`, `{ hold: why }`
   * lets the order through but holds its delivery until an admin approves it (`orders.approve`).
   */
  veto<E extends keyof VetoHooks>(event: E, check: (payload: VetoHooks[E]) => Verdict<E> | undefined | void | Promise<Verdict<E> | undefined | void>): void;
  /** Offers a payment gateway to buyers; its notifications arrive at /pay/<gateway id>/notify. */
  paymentGateway(gateway: PaymentGateway): void;
  /**
   * For gateways that learn of a payment by themselves (a chain watcher) rather than by a notify.
   * Each takes one of this plugin's gateway ids.
   */
  readonly payments: {
    /**
     * Asks the order's gateway (its `query`) and records the payment if it answers paid: the path
     * of a notify confirmed by query (delivered once, however often asked). False if not paid.
     */
    confirm(input: { gatewayId: string; orderNo: string }): Promise<boolean>;
    /**
     * Money the gateway received for the order that does not pay for it (short, over, late): kept
     * for the buyer (the wallet, or a refund owed to a guest), once per `tradeNo`; the order is left
     * as it stands and its page shows `reason`. `amount` in minor units.
     */
    keep(input: { gatewayId: string; orderNo: string; amount: number; tradeNo: string; reason: string }): Promise<'late' | 'duplicate'>;
  };
  /** Offers real-name verification to users (one provider per shop); the core keeps each user's status. */
  kycProvider(provider: KycProvider): void;
  /** Users' real-name status, for gates and rules (masked; the ID number only as its fingerprint). */
  readonly kyc: { status(userId: number): Promise<KycStatus>; fingerprint(idNumber: string): string };
  /**
   * Replaces the built-in proof of work on guests' checkout and registration with another bot
   * defence (a captcha service); one per shop. Its `challenge()` is what the forms and
   * `GET /api/store/challenge` show, its `verify()` checks the `challenge` field they send.
   */
  botDefence(defence: BotDefence): void;
  /** Offers a supplier to the delivery engine; SKUs route to it by its id (`sku_suppliers`). Callbacks arrive at /supplier/<id>/callback. */
  supplier(connector: SupplierConnector): void;
  /**
   * Sends the operator's alerts through this plugin (one channel per plugin). `build` makes the
   * channel from settings: the running ones, or those just saved in the console for its "send a
   * test alert" button. The core picks the events, words them and retries the sends.
   */
  alertChannel(build: AlertChannelFactory<S>): void;
  /**
   * Sends the shop's e-mail to buyers through this plugin (one per shop): order delivered and
   * refunded, and the restock and price-drop notices they subscribed to. The core words each mail
   * in its reader's language and sends it through a `mail` job (retried, once per event).
   */
  mailer(mailer: Mailer): void;
  /** Adds a product type (validate input, deliver, render the goods) beside card, direct and manual. */
  productType(type: ProductTypeDefinition): void;
  /** Orders, for plugins that settle their own goods (an expired voucher) or review held orders. */
  readonly orders: {
    /**
     * Refunds an order whole, as an admin's refund does: through its gateway where it can, else to
     * the buyer's wallet; once, however often asked. `actorId` null: the plugin itself.
     */
    refund(input: { no: string; reason: string; actorId?: number | null }): Promise<OrderView>;
    /** Paid orders whose delivery a `before.checkout` hold keeps waiting, oldest first. */
    held(opts?: { limit?: number }): Promise<HeldOrder[]>;
    /** An admin approves a held order: its delivery runs, once (audited). */
    approve(input: { no: string; actorId: number; ip?: string }): Promise<void>;
    /** An admin rejects a held order: never delivered, refunded with `reason`, which the buyer reads (audited). */
    reject(input: { no: string; actorId: number; reason: string; ip?: string }): Promise<void>;
  };
  /**
   * Counts one attempt at `key` (a PIN guess from an address, say) in a fixed window shared by every
   * app process; false once more than `limit` were counted. Only an HMAC of the key is stored.
   */
  rateLimit(input: { scope: string; key: string; limit: number; windowMs: number }): Promise<boolean>;
  /** Keys of the plugin's own, derived from the shop's secret: for secrets in its tables. */
  readonly crypto: {
    /** AES-256-GCM with a fresh IV: the same text seals differently each time. */
    seal(text: string): string;
    open(sealed: string): string;
    /** An HMAC, hex: the same text gives the same value (look-ups without storing the text). */
    fingerprint(text: string): string;
  };
  /** Adds routes under `/plugins/<name>/`. */
  routes(register: (router: ShopRouter) => void): void;
  /** Runs after every plugin's migrations; `stop` runs on shutdown, in reverse order. */
  onStart(fn: () => void | Promise<void>): void;
  onStop(fn: () => void | Promise<void>): void;
}

export interface PluginDefinition<S extends z.ZodType = z.ZodType> {
  /** Lowercase, `[a-z0-9-]`; routes mount under /plugins/<name>/. */
  name: string;
  version: string;
  /** The @cardshop/core versions it works with, as a semver range: `>=0.1.0 <1.0.0`, every 0.x minor from the first it needs (the README's release policy). */
  core: string;
  /** Validated at start; the admin renders it as a form. */
  settings?: S;
  migrations?: PluginMigration[];
  setup(ctx: PluginContext<z.output<S>>): void | Promise<void>;
}

/** A plugin with the settings the shop gives it. */
export interface ConfiguredPlugin {
  definition: PluginDefinition;
  settings: unknown;
  /** Load even when the plugin's `core` range does not include this core (at the operator's risk). */
  ignoreCompatibility?: boolean;
}

export interface Plugin<S extends z.ZodType = z.ZodType> {
  (settings?: z.input<S>, options?: { ignoreCompatibility?: boolean }): ConfiguredPlugin;
  readonly definition: PluginDefinition<S>;
}

/**
 * What a plugin package exports by default. In cardshop.config.ts: `plugins: [epay({ … })]`, or
 * `plugins: [{ package: '@cardshop/plugin-payment-epay', settings: { … } }]` for a config in JSON.
 */
export function definePlugin<S extends z.ZodType>(definition: PluginDefinition<S>): Plugin<S> {
  const configure = (settings?: z.input<S>, options: { ignoreCompatibility?: boolean } = {}): ConfiguredPlugin => ({
    definition: definition as unknown as PluginDefinition,
    settings: settings ?? {},
    ...options,
  });
  return Object.defineProperty(configure, 'definition', { value: definition, enumerable: true }) as Plugin<S>;
}
