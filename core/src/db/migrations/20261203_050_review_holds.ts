import type { Knex } from 'knex';

/**
 * Orders held for review: a `before.checkout` check (the risk plugin's score) may ask that an
 * order's delivery wait for an admin. `orders.review` says why; the order's delivery job waits in
 * the status `held` until an admin approves (it runs) or rejects (the order is refunded).
 */
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasColumn('orders', 'review'))) {
    await knex.schema.alterTable('orders', (t) => {
      t.string('review', 255);
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  if (await knex.schema.hasColumn('orders', 'review')) {
    await knex.schema.alterTable('orders', (t) => {
      t.dropColumn('review');
    });
  }
}
