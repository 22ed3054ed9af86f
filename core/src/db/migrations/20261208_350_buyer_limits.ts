import type { Knex } from 'knex';

/**
 * Purchase limits per buyer (限购, orders/limits.ts): a SKU may cap the units one buyer gets
 * (`buyer_limit`) per day or ever (`buyer_limit_per`); a flash sale's `flash_per_buyer` caps them
 * at its price. `buyer_units` counts a buyer's units per SKU and period (`d:<day>`, `ever`,
 * `f:<sale start>`), raised only by a guarded UPDATE in the order's transaction; the order keeps the
 * periods it counted in (`limit_periods`, space-separated) to give them back if it is never paid
 * for or is refunded.
 */
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasColumn('skus', 'buyer_limit'))) {
    await knex.schema.alterTable('skus', (t) => {
      t.integer('buyer_limit');
      t.string('buyer_limit_per', 8);
    });
  }
  if (!(await knex.schema.hasTable('buyer_units'))) {
    await knex.schema.createTable('buyer_units', (t) => {
      t.integer('sku_id').unsigned().notNullable().references('skus.id');
      // `user:<id>`, or an HMAC of a guest's contact (never the contact itself).
      t.string('buyer', 64).notNullable();
      t.string('period', 24).notNullable();
      t.integer('units').notNullable().defaultTo(0);
      t.primary(['sku_id', 'buyer', 'period']);
    });
  }
  if (!(await knex.schema.hasColumn('orders', 'limit_periods'))) {
    await knex.schema.alterTable('orders', (t) => {
      t.string('limit_periods', 64);
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  if (await knex.schema.hasColumn('orders', 'limit_periods')) {
    await knex.schema.alterTable('orders', (t) => {
      t.dropColumn('limit_periods');
    });
  }
  await knex.schema.dropTableIfExists('buyer_units');
  if (await knex.schema.hasColumn('skus', 'buyer_limit')) {
    await knex.schema.alterTable('skus', (t) => {
      t.dropColumn('buyer_limit');
      t.dropColumn('buyer_limit_per');
    });
  }
}
