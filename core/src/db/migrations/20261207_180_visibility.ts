import type { Knex } from 'knex';

/**
 * Who can see a product or a SKU: `listed` (every list, search and API listing), `link` (only by
 * its address: not listed, not found by search, but its page and checkout work) or `hidden` (off
 * sale to everyone, 404). Separate from `enabled`, which a supplier's catalog sync turns back on.
 */
export async function up(knex: Knex): Promise<void> {
  for (const table of ['products', 'skus']) {
    if (!(await knex.schema.hasColumn(table, 'visibility'))) {
      await knex.schema.alterTable(table, (t) => {
        t.string('visibility', 8).notNullable().defaultTo('listed');
      });
    }
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['products', 'skus']) {
    if (await knex.schema.hasColumn(table, 'visibility')) await knex.schema.alterTable(table, (t) => t.dropColumn('visibility'));
  }
}
