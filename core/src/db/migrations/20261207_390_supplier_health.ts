import type { Knex } from 'knex';

/**
 * Suppliers that misbehave: each attempt counts the times it was sent (`tries`) and whether the
 * last one may have reached the supplier (`unsure`: asked about before it is sent again), and
 * `supplier_health` keeps each supplier's last breaker state, error and success for the console.
 */
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasColumn('supplier_orders', 'tries'))) {
    await knex.schema.alterTable('supplier_orders', (t) => {
      t.integer('tries').notNullable().defaultTo(0);
      t.boolean('unsure').notNullable().defaultTo(false);
    });
    // Attempts open before this change may have been sent: they are asked about first.
    await knex('supplier_orders').whereIn('status', ['placing', 'pending']).update({ tries: 1, unsure: true });
  }
  if (!(await knex.schema.hasTable('supplier_health'))) {
    await knex.schema.createTable('supplier_health', (t) => {
      t.string('supplier', 40).primary();
      t.string('state', 10).notNullable(); // closed | open | half-open
      t.string('last_error', 255);
      t.bigInteger('last_error_at');
      t.bigInteger('last_success_at');
      t.bigInteger('updated_at').notNullable();
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('supplier_health');
  if (await knex.schema.hasColumn('supplier_orders', 'tries')) {
    await knex.schema.alterTable('supplier_orders', (t) => {
      t.dropColumn('tries');
      t.dropColumn('unsure');
    });
  }
}
