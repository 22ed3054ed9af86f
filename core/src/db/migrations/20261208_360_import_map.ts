import type { Knex } from 'knex';

/**
 * What `cardshop import` brought over from another shop (import/map.ts): one row per old row,
 * written in the same transaction as the rows it made, so a batch found here is done and an
 * import killed half way and run again adds nothing twice. `new_id` is null for an old row that
 * was read and deliberately left out (a deleted product's keys), so it is not read again either.
 */
export async function up(knex: Knex): Promise<void> {
  if (await knex.schema.hasTable('import_map')) return;
  await knex.schema.createTable('import_map', (t) => {
    t.string('source', 16).notNullable(); // dujiaoka | acg-faka
    t.string('table', 32).notNullable(); // the old table
    t.string('old_id', 64).notNullable();
    t.bigInteger('new_id');
    t.primary(['source', 'table', 'old_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('import_map');
}
