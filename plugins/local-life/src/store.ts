import type { PluginMigration } from '@cardshop/core';

/**
 * The plugin's tables: stores (merchants) and their staff, how each voucher SKU is issued, the
 * vouchers issued, and every redemption. Codes are stored sealed, and found by their HMAC.
 */
export const migrations: PluginMigration[] = [
  {
    name: '20261203_001_local_life',
    async up(knex) {
      if (!(await knex.schema.hasTable('local_life_merchants'))) {
        await knex.schema.createTable('local_life_merchants', (t) => {
          t.increments('id');
          t.string('code', 32).notNullable().unique(); // what staff type when they sign in
          t.string('name', 120).notNullable();
          t.string('address', 255);
          t.boolean('enabled').notNullable().defaultTo(true);
          t.bigInteger('created_at').notNullable();
        });
      }
      if (!(await knex.schema.hasTable('local_life_staff'))) {
        await knex.schema.createTable('local_life_staff', (t) => {
          t.increments('id');
          t.integer('merchant_id').unsigned().notNullable().references('local_life_merchants.id');
          t.string('name', 60).notNullable();
          t.string('pin_hash', 120).notNullable(); // scrypt, salted
          t.boolean('enabled').notNullable().defaultTo(true);
          t.bigInteger('created_at').notNullable();
          t.index(['merchant_id']);
        });
      }
      if (!(await knex.schema.hasTable('local_life_skus'))) {
        // How the shop's voucher SKUs are issued: the store, the uses, the validity, the rules.
        await knex.schema.createTable('local_life_skus', (t) => {
          t.string('sku', 64).primary();
          t.integer('merchant_id').unsigned().notNullable().references('local_life_merchants.id');
          t.string('title', 120).notNullable();
          t.integer('uses').notNullable(); // per voucher: 1, or a multi-use card
          t.integer('valid_days'); // from the day of purchase, or
          t.bigInteger('valid_from'); // fixed dates
          t.bigInteger('valid_until');
          t.text('rules');
          t.boolean('refund_expired').notNullable(); // an unused voucher that expires is refunded
          t.bigInteger('updated_at').notNullable();
        });
      }
      if (!(await knex.schema.hasTable('local_life_vouchers'))) {
        await knex.schema.createTable('local_life_vouchers', (t) => {
          t.bigIncrements('id');
          t.string('order_no', 32).notNullable();
          t.integer('seq').notNullable(); // the order's first, second, … voucher
          t.string('code_fp', 64).notNullable().unique(); // HMAC of the normalised code
          t.text('code_sealed').notNullable();
          t.string('code_tail', 8).notNullable();
          t.string('sku', 64).notNullable();
          t.integer('merchant_id').unsigned().notNullable().references('local_life_merchants.id');
          t.string('title', 120).notNullable();
          t.integer('uses_total').notNullable();
          t.integer('uses_left').notNullable();
          t.bigInteger('valid_from').notNullable();
          t.bigInteger('valid_until').notNullable();
          t.text('rules');
          t.boolean('refund_expired').notNullable();
          t.string('source', 40).notNullable(); // issued | the supplier's id
          // active | expired (unrefunded) | refunding | refunded | void (the order was refunded)
          t.string('status', 12).notNullable();
          t.bigInteger('created_at').notNullable();
          t.bigInteger('updated_at').notNullable();
          t.unique(['order_no', 'seq']);
          t.index(['status', 'valid_until']);
        });
      }
      if (!(await knex.schema.hasTable('local_life_redemptions'))) {
        await knex.schema.createTable('local_life_redemptions', (t) => {
          t.bigIncrements('id');
          t.bigInteger('voucher_id').unsigned().notNullable().references('local_life_vouchers.id');
          t.integer('merchant_id').unsigned().notNullable().references('local_life_merchants.id');
          t.integer('staff_id').unsigned().notNullable().references('local_life_staff.id');
          t.integer('uses').notNullable();
          t.string('ip', 64);
          t.bigInteger('created_at').notNullable();
          t.index(['voucher_id']);
          t.index(['merchant_id', 'created_at']);
        });
      }
    },
    async down(knex) {
      for (const t of ['local_life_redemptions', 'local_life_vouchers', 'local_life_skus', 'local_life_staff', 'local_life_merchants']) await knex.schema.dropTableIfExists(t);
    },
  },
];
