import type { Knex } from 'knex';

/** Orders paid through a gateway: when an unpaid one expires, the gateway's trade number, refunds owed. */
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasColumn('orders', 'expires_at'))) {
    await knex.schema.alterTable('orders', (t) => {
      t.bigInteger('expires_at');
      t.index(['status', 'expires_at']);
    });
  }
  if (!(await knex.schema.hasColumn('orders', 'trade_no'))) {
    await knex.schema.alterTable('orders', (t) => t.string('trade_no', 128));
  }
  if (!(await knex.schema.hasColumn('orders', 'pay_action'))) {
    // How the buyer pays (a link, QR content or a form), kept so the order page can show it again.
    await knex.schema.alterTable('orders', (t) => t.text('pay_action'));
  }
  if (!(await knex.schema.hasColumn('orders', 'refund_due'))) {
    // Money received that must go back to the buyer by hand or through the gateway (guest orders).
    await knex.schema.alterTable('orders', (t) => t.boolean('refund_due').notNullable().defaultTo(false));
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('orders', (t) => {
    t.dropIndex(['status', 'expires_at']);
    t.dropColumn('expires_at');
    t.dropColumn('trade_no');
    t.dropColumn('pay_action');
    t.dropColumn('refund_due');
  });
}
