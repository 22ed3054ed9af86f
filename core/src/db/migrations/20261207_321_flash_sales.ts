import type { Knex } from 'knex';

/**
 * Flash sales (限时秒杀), one per SKU at a time (pricing/flash.ts): `flash_price` per unit from
 * `flash_starts_at` until `flash_ends_at` (ms), for `flash_cap` units in all, of which
 * `flash_sold` are sold or held by unpaid orders (raised only by `flash_sold + n <= flash_cap`),
 * at most `flash_per_buyer` to one buyer. A null price: no sale.
 */
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasColumn('skus', 'flash_price'))) {
    await knex.schema.alterTable('skus', (t) => {
      t.bigInteger('flash_price');
      t.bigInteger('flash_starts_at');
      t.bigInteger('flash_ends_at');
      t.integer('flash_cap').notNullable().defaultTo(0);
      t.integer('flash_sold').notNullable().defaultTo(0);
      t.integer('flash_per_buyer');
    });
  }
  // Which flash-sale units an order holds, to give them back if it expires unpaid.
  if (!(await knex.schema.hasColumn('orders', 'flash_units'))) {
    await knex.schema.alterTable('orders', (t) => {
      t.integer('flash_units').notNullable().defaultTo(0);
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  if (await knex.schema.hasColumn('orders', 'flash_units')) {
    await knex.schema.alterTable('orders', (t) => {
      t.dropColumn('flash_units');
    });
  }
  if (await knex.schema.hasColumn('skus', 'flash_price')) {
    await knex.schema.alterTable('skus', (t) => {
      for (const c of ['flash_price', 'flash_starts_at', 'flash_ends_at', 'flash_cap', 'flash_sold', 'flash_per_buyer']) t.dropColumn(c);
    });
  }
}
