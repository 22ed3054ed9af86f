import type { Knex } from 'knex';

/**
 * A sub-shop's own host name answers only once the operator approved it: otherwise an agent could
 * claim the main shop's host (or another agent's) and serve its pages at its own prices.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('sites', (t) => {
    t.boolean('host_approved').notNullable().defaultTo(false);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('sites', (t) => t.dropColumn('host_approved'));
}
