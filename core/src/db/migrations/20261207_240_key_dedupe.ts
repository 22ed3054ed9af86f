import type { Knex } from 'knex';

/**
 * Whether an import into a SKU skips keys it already holds (`dedupe`, on by default). Off, every
 * line becomes a key, repeats included: some codes are sold once per copy printed.
 */
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasColumn('skus', 'dedupe'))) {
    await knex.schema.alterTable('skus', (t) => {
      t.boolean('dedupe').notNullable().defaultTo(true);
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  if (await knex.schema.hasColumn('skus', 'dedupe')) await knex.schema.alterTable('skus', (t) => t.dropColumn('dedupe'));
}
