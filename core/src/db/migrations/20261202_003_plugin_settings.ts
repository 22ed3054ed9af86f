import type { Knex } from 'knex';

/** Plugin settings changed in the admin, sealed (they hold keys), over what the config file says. */
export async function up(knex: Knex): Promise<void> {
  if (await knex.schema.hasTable('plugin_settings')) return;
  await knex.schema.createTable('plugin_settings', (t) => {
    t.string('plugin', 40).primary();
    t.text('sealed').notNullable();
    t.integer('updated_by').unsigned().references('users.id');
    t.bigInteger('updated_at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('plugin_settings');
}
