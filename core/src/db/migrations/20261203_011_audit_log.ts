import type { Knex } from 'knex';

/** Who did what to which record, with the record before and after: every admin action writes one row. */
export async function up(knex: Knex): Promise<void> {
  if (await knex.schema.hasTable('audit_log')) return;
  await knex.schema.createTable('audit_log', (t) => {
    t.bigIncrements('id');
    t.integer('actor_id').unsigned().references('users.id'); // null: the shop itself (a job)
    t.string('action', 64).notNullable(); // e.g. order.confirm, payment.replay
    t.string('target_type', 32).notNullable(); // order, user, callback, sku, …
    t.string('target_id', 64).notNullable();
    t.text('before'); // JSON
    t.text('after'); // JSON
    t.string('ip', 64);
    t.bigInteger('created_at').notNullable();
    t.index(['target_type', 'target_id', 'id']);
    t.index(['actor_id', 'id']);
    t.index(['created_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('audit_log');
}
