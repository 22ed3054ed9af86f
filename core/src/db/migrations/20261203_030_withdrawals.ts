import type { Knex } from 'knex';

/** Withdrawals (提现): a user's request to be paid out from its wallet, and the payout record. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('withdrawals', (t) => {
    t.increments('id');
    t.integer('user_id').unsigned().notNullable().references('users.id');
    t.bigInteger('amount').notNullable();
    t.string('method', 16).notNullable(); // alipay | wechat | bank
    t.text('payee').notNullable(); // sealed: the account to pay to, as the user typed it
    t.string('payee_masked', 80).notNullable();
    t.string('status', 12).notNullable(); // pending | paid | rejected
    t.string('reason', 255);
    t.string('payout_ref', 100); // the bank's or Alipay's reference of the transfer
    t.integer('decided_by').unsigned().references('users.id');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('decided_at');
    t.index(['status', 'id']);
    t.index(['user_id', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('withdrawals');
}
