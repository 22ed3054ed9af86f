import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type { Database } from './connect.js';
import * as init from './migrations/20261202_001_init.js';
import * as gatewayPayments from './migrations/20261202_002_gateway_payments.js';
import * as pluginSettings from './migrations/20261202_003_plugin_settings.js';
import * as agents from './migrations/20261203_004_agents.js';
import * as userKyc from './migrations/20261203_009_user_kyc.js';
import * as auditLog from './migrations/20261203_011_audit_log.js';
import * as paymentTrouble from './migrations/20261203_012_payment_trouble.js';
import * as delivery from './migrations/20261203_020_delivery.js';
import * as agentApi from './migrations/20261203_021_agent_api.js';
import * as withdrawals from './migrations/20261203_030_withdrawals.js';
import * as siteHosts from './migrations/20261203_031_site_hosts.js';
import * as consoleIndexes from './migrations/20261203_040_console_indexes.js';
import * as consoleInventory from './migrations/20261203_045_console_inventory.js';
import * as reviewHolds from './migrations/20261203_050_review_holds.js';
import * as visibility from './migrations/20261207_180_visibility.js';
import * as articles from './migrations/20261207_181_articles.js';
import * as challengeUses from './migrations/20261207_182_challenge_uses.js';
import * as markupTemplates from './migrations/20261207_183_markup_templates.js';
import * as notices from './migrations/20261207_260_notices.js';
import * as keyDedupe from './migrations/20261207_240_key_dedupe.js';
import * as sharedKeys from './migrations/20261207_241_shared_keys.js';
import * as keyPicks from './migrations/20261207_242_key_picks.js';
import * as coupons from './migrations/20261207_300_coupons.js';
import * as wholesaleTiers from './migrations/20261207_320_wholesale_tiers.js';
import * as flashSales from './migrations/20261207_321_flash_sales.js';
import * as productWatches from './migrations/20261207_340_product_watches.js';
import * as supplierHealth from './migrations/20261207_390_supplier_health.js';
import * as buyerLimits from './migrations/20261208_350_buyer_limits.js';
import * as importMap from './migrations/20261208_360_import_map.js';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/** Core migrations in order; names are dated so plugin and core migrations sort the same way. */
const CORE_MIGRATIONS: Array<[string, Migration]> = [
  ['20261202_001_init', init],
  ['20261202_002_gateway_payments', gatewayPayments],
  ['20261202_003_plugin_settings', pluginSettings],
  ['20261203_004_agents', agents],
  ['20261203_009_user_kyc', userKyc],
  ['20261203_011_audit_log', auditLog],
  ['20261203_012_payment_trouble', paymentTrouble],
  ['20261203_020_delivery', delivery],
  ['20261203_021_agent_api', agentApi],
  ['20261203_030_withdrawals', withdrawals],
  ['20261203_031_site_hosts', siteHosts],
  ['20261203_040_console_indexes', consoleIndexes],
  ['20261203_045_console_inventory', consoleInventory],
  ['20261203_050_review_holds', reviewHolds],
  ['20261207_180_visibility', visibility],
  ['20261207_181_articles', articles],
  ['20261207_182_challenge_uses', challengeUses],
  ['20261207_183_markup_templates', markupTemplates],
  ['20261207_260_notices', notices],
  ['20261207_240_key_dedupe', keyDedupe],
  ['20261207_241_shared_keys', sharedKeys],
  ['20261207_242_key_picks', keyPicks],
  ['20261207_300_coupons', coupons],
  ['20261207_320_wholesale_tiers', wholesaleTiers],
  ['20261207_321_flash_sales', flashSales],
  ['20261207_340_product_watches', productWatches],
  ['20261207_390_supplier_health', supplierHealth],
  ['20261208_350_buyer_limits', buyerLimits],
  ['20261208_360_import_map', importMap],
];

/**
 * A fingerprint of the core schema: the migrations' names and code. Test helpers key databases
 * migrated once and copied per test by it, so an edited migration never meets a stale copy.
 */
export function schemaFingerprint(): string {
  const text = CORE_MIGRATIONS.map(([name, m]) => `${name}\n${String(m.up)}\n${String(m.down)}`).join('\n');
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** Migrations are bundled into the build, so they are listed here instead of read from disk. */
class CoreMigrationSource implements Knex.MigrationSource<[string, Migration]> {
  async getMigrations() {
    return CORE_MIGRATIONS;
  }
  getMigrationName([name]: [string, Migration]) {
    return name;
  }
  async getMigration([, migration]: [string, Migration]) {
    return migration;
  }
}

const migrationConfig = { migrationSource: new CoreMigrationSource(), tableName: 'cardshop_migrations' };

/** Applies pending migrations; running it again applies nothing. Returns the names applied. */
export async function migrate(db: Database): Promise<string[]> {
  const [, applied] = (await db.knex.migrate.latest(migrationConfig)) as [number, string[]];
  return applied;
}

export async function pendingMigrations(db: Database): Promise<string[]> {
  // knex lists pending migrations as the source gave them: here [name, migration] pairs.
  const [, pending] = (await db.knex.migrate.list(migrationConfig)) as [unknown, Array<[string, Migration] | { file: string } | string>];
  return pending.map((p) => (Array.isArray(p) ? p[0] : typeof p === 'string' ? p : p.file));
}
