import type { PluginMigration } from '@cardshop/core';

/**
 * The plugin's tables (its own migration table, cardshop_migrations_usdt):
 * - usdt_addresses: the receiving addresses, a row to lock while amounts are handed out, and how
 *   far the watcher has read each one;
 * - usdt_payments: one per order, with its unique amount; `slot` ("address:amount") is set while
 *   the amount is reserved and its unique index is what keeps two open orders off one amount;
 * - usdt_transfers: every incoming transfer seen, once (its transaction id is the key), and what
 *   became of it.
 */
export const migrations: PluginMigration[] = [
  {
    name: '20261207_250_usdt_init',
    async up(knex) {
      if (!(await knex.schema.hasTable('usdt_addresses'))) {
        await knex.schema.createTable('usdt_addresses', (t) => {
          t.string('address', 64).primary();
          t.bigInteger('cursor_ts').notNullable().defaultTo(0);
        });
      }
      if (!(await knex.schema.hasTable('usdt_payments'))) {
        await knex.schema.createTable('usdt_payments', (t) => {
          t.increments('id');
          t.string('order_no', 40).notNullable().unique();
          t.string('gateway', 32).notNullable();
          t.string('address', 64).notNullable();
          t.bigInteger('amount_micro').notNullable();
          t.bigInteger('amount_fen').notNullable();
          t.bigInteger('rate_micro').notNullable();
          t.bigInteger('created_at').notNullable();
          t.bigInteger('expires_at').notNullable();
          t.bigInteger('hold_until').notNullable();
          t.string('slot', 100).nullable().unique();
          // open | paid | kept | review
          t.string('status', 16).notNullable().defaultTo('open');
          t.string('tx_id', 100).nullable();
          t.index(['address', 'amount_micro']);
          t.index(['hold_until']);
        });
      }
      if (!(await knex.schema.hasTable('usdt_transfers'))) {
        await knex.schema.createTable('usdt_transfers', (t) => {
          t.string('tx_id', 100).primary();
          t.string('address', 64).notNullable();
          t.string('sender', 64).notNullable();
          t.bigInteger('amount_micro').notNullable();
          t.bigInteger('block_ts').notNullable();
          t.string('order_no', 40).nullable().index();
          // paid | late | short | over | extra | unmatched
          t.string('outcome', 16).notNullable();
          // paid | kept | review | closed
          t.string('action', 16).notNullable();
          // The order's side is done (confirmed or kept); until then every scan tries again.
          t.boolean('settled').notNullable().defaultTo(false);
          t.string('note', 255).nullable();
          t.bigInteger('seen_at').notNullable().index();
        });
      }
    },
    async down(knex) {
      await knex.schema.dropTableIfExists('usdt_transfers');
      await knex.schema.dropTableIfExists('usdt_payments');
      await knex.schema.dropTableIfExists('usdt_addresses');
    },
  },
];
