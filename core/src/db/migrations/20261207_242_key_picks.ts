import type { Knex } from 'knex';

/**
 * Key pre-selection (卡密预选): `pick_shown` is what a buyer sees of each key to pick from (`head`,
 * `tail` or `card`; null: picking is off), `pick_chars` how many characters, `pick_surcharge` what
 * each key picked costs on top of the price (minor units).
 */
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasColumn('skus', 'pick_shown'))) {
    await knex.schema.alterTable('skus', (t) => {
      t.string('pick_shown', 8);
      t.integer('pick_chars').notNullable().defaultTo(4);
      t.bigInteger('pick_surcharge').notNullable().defaultTo(0);
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  if (await knex.schema.hasColumn('skus', 'pick_shown')) {
    await knex.schema.alterTable('skus', (t) => {
      t.dropColumn('pick_shown');
      t.dropColumn('pick_chars');
      t.dropColumn('pick_surcharge');
    });
  }
}
