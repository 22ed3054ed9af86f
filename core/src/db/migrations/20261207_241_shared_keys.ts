import type { Knex } from 'knex';

/**
 * How a card SKU sells its keys: `unique` (each key to one buyer, the stock is the keys in stock)
 * or `shared` (循环卡密: every buyer gets a copy of the SKU's key, and the stock is a count the
 * operator sets).
 */
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasColumn('skus', 'key_mode'))) {
    await knex.schema.alterTable('skus', (t) => {
      t.string('key_mode', 8).notNullable().defaultTo('unique');
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  if (await knex.schema.hasColumn('skus', 'key_mode')) await knex.schema.alterTable('skus', (t) => t.dropColumn('key_mode'));
}
