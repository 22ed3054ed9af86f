import type { Knex } from 'knex';

/**
 * Restock and price-drop subscriptions (notices/watches.ts): one row per SKU, kind and address,
 * with the price the subscriber saw, in the language they used; `sent_at` once its one e-mail is
 * queued, so every app process's check mails it once.
 */
export async function up(knex: Knex): Promise<void> {
  if (await knex.schema.hasTable('product_watches')) return;
  await knex.schema.createTable('product_watches', (t) => {
    t.increments('id');
    t.integer('sku_id').unsigned().notNullable().references('skus.id');
    t.string('kind', 8).notNullable(); // stock | price
    t.string('email', 254).notNullable();
    t.integer('user_id').unsigned().references('users.id');
    // The owner of the sub-shop it was asked on: the subscriber's price is resolved through them.
    t.integer('site_owner_id').unsigned().references('users.id');
    t.string('locale', 8).notNullable();
    t.bigInteger('price').notNullable(); // what the subscriber paid per unit then, minor units
    t.bigInteger('created_at').notNullable();
    t.bigInteger('sent_at');
    t.unique(['sku_id', 'kind', 'email']);
    t.index(['kind', 'sent_at']);
    t.index(['email']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('product_watches');
}
