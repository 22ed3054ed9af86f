import type { Knex } from 'knex';

/**
 * Notices: which one-off alerts were already raised (`notice_marks`, by key, so every app process
 * raises each once), and the language a buyer used at checkout, so the order's e-mails speak it.
 */
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('notice_marks'))) {
    await knex.schema.createTable('notice_marks', (t) => {
      t.string('key', 120).primary();
      t.bigInteger('created_at').notNullable();
    });
  }
  if (!(await knex.schema.hasColumn('orders', 'locale'))) {
    await knex.schema.alterTable('orders', (t) => {
      t.string('locale', 8); // null: the shop's language
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  if (await knex.schema.hasColumn('orders', 'locale')) await knex.schema.alterTable('orders', (t) => t.dropColumn('locale'));
  await knex.schema.dropTableIfExists('notice_marks');
}
