import type { Knex } from 'knex';

/**
 * The console's inventory and access: per-SKU low-stock threshold and restock target (null: not
 * watched), and when a session was last used on the console, for its idle timeout.
 */
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasColumn('skus', 'low_stock'))) {
    await knex.schema.alterTable('skus', (t) => {
      t.integer('low_stock');
      t.integer('restock_target');
    });
  }
  if (!(await knex.schema.hasColumn('sessions', 'console_seen_at'))) {
    await knex.schema.alterTable('sessions', (t) => t.bigInteger('console_seen_at'));
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('skus', (t) => {
    t.dropColumn('low_stock');
    t.dropColumn('restock_target');
  });
  await knex.schema.alterTable('sessions', (t) => t.dropColumn('console_seen_at'));
}
