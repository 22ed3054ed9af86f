import type { Knex } from 'knex';

/**
 * Wholesale tiers (批发价): `wholesale_tiers` is a SKU's brackets as JSON, `[{ minQuantity,
 * percentOff }]` with the percent in basis points, deepest last (pricing/wholesale.ts); null: none.
 */
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasColumn('skus', 'wholesale_tiers'))) {
    await knex.schema.alterTable('skus', (t) => {
      t.text('wholesale_tiers');
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  if (await knex.schema.hasColumn('skus', 'wholesale_tiers')) {
    await knex.schema.alterTable('skus', (t) => {
      t.dropColumn('wholesale_tiers');
    });
  }
}
