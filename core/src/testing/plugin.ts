import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type { z } from 'zod';
import type { AlertChannel } from '../alerts/alerts.js';
import type { Logger } from '../context.js';
import type { Mailer } from '../notices/mailer.js';
import type { Plugin, PluginContext } from '../plugins/define.js';
import type { BotDefence } from '../security/bot-defence.js';
import type { KycProvider } from '../plugins/kyc.js';
import type { PaymentGateway } from '../plugins/payment.js';
import type { ProductTypeDefinition } from '../delivery/product-type.js';
import type { SupplierConnector } from '../delivery/supplier.js';
import { decrypt, derivePluginKeys, encrypt, hmacHex } from '../security/keys.js';

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {} };

/** A logger that keeps what it is told (debug aside), for tests that assert on logs. */
export function recordingLogger(): { log: Logger; logged: Array<{ level: 'error' | 'warn' | 'info'; msg: string }> } {
  const logged: Array<{ level: 'error' | 'warn' | 'info'; msg: string }> = [];
  const log: Logger = {
    error: (msg) => void logged.push({ level: 'error', msg }),
    warn: (msg) => void logged.push({ level: 'warn', msg }),
    info: (msg) => void logged.push({ level: 'info', msg }),
    debug() {},
  };
  return { log, logged };
}

/**
 * Runs a plugin's setup the way the shop's plugin host does (settings validated by the plugin's
 * schema first) against a context with no shop behind it, and returns what the plugin offered:
 * for unit tests of a plugin. A plugin that needs the database or routes is tested in a real shop
 * (`startTestShop({ config: { plugins: [...] } })`).
 */
export async function setupPlugin<S extends z.ZodType>(
  plugin: Plugin<S>,
  input: z.input<S>,
  log: Logger = quiet,
): Promise<{ gateways: PaymentGateway[]; kycProviders: KycProvider[]; suppliers: SupplierConnector[]; productTypes: ProductTypeDefinition[]; botDefences: BotDefence[]; alertChannels: AlertChannel[]; mailers: Mailer[]; settings: z.output<S> }> {
  const def = plugin.definition;
  const settings = (def.settings ? def.settings.parse(input) : input) as z.output<S>;
  const gateways: PaymentGateway[] = [];
  const suppliers: SupplierConnector[] = [];
  const productTypes: ProductTypeDefinition[] = [];
  const kycProviders: KycProvider[] = [];
  const botDefences: BotDefence[] = [];
  const alertChannels: AlertChannel[] = [];
  const mailers: Mailer[] = [];
  const noShop = (what: string) => () => {
    throw new Error(`setupPlugin: plugin ${def.name} uses ${what}; test it in a shop (startTestShop)`);
  };
  const ctx: PluginContext<z.output<S>> = {
    name: def.name,
    settings,
    log,
    db: new Proxy({} as Knex, {
      get() {
        throw new Error(`setupPlugin: plugin ${def.name} uses the database; test it in a shop (startTestShop)`);
      },
    }),
    on() {},
    veto() {},
    paymentGateway: (g) => void gateways.push(g),
    supplier: (c) => void suppliers.push(c),
    productType: (t) => void productTypes.push(t),
    alertChannel: (build) => void alertChannels.push(build(settings)),
    mailer: (m) => void mailers.push(m),
    kycProvider: (p) => void kycProviders.push(p),
    botDefence: (d) => void botDefences.push(d),
    kyc: { status: noShop('users\' KYC status'), fingerprint: noShop('KYC fingerprints') },
    orders: { refund: noShop('orders'), held: noShop('orders'), approve: noShop('orders'), reject: noShop('orders') },
    payments: { confirm: noShop('payments'), keep: noShop('payments') },
    rateLimit: noShop('rate limits'),
    // Real keys from a throwaway secret: sealing and fingerprints work within one test.
    crypto: (() => {
      const keys = derivePluginKeys(randomBytes(32).toString('hex'), def.name);
      return { seal: (t: string) => encrypt(keys.encryption, t), open: (s: string) => decrypt(keys.encryption, s), fingerprint: (t: string) => hmacHex(keys.fingerprint, t) };
    })(),
    routes() {},
    onStart() {},
    onStop() {},
  };
  await def.setup(ctx);
  return { gateways, kycProviders, suppliers, productTypes, botDefences, alertChannels, mailers, settings };
}
