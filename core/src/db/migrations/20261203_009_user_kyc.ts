import type { Knex } from 'knex';

/**
 * Real-name verification per user: the outcome, what may be shown (masked), the ID number sealed
 * with AES-GCM (read only through an audited reveal) and its HMAC fingerprint (the same person
 * across accounts, blacklists), and the attempts counted against a daily limit.
 */
export async function up(knex: Knex): Promise<void> {
  if (await knex.schema.hasTable('user_kyc')) return;
  await knex.schema.createTable('user_kyc', (t) => {
    t.integer('user_id').unsigned().primary().references('users.id').onDelete('CASCADE');
    t.string('status', 12).notNullable(); // none | verified | rejected
    t.string('name_masked', 80);
    t.string('id_masked', 40);
    t.text('id_sealed');
    t.string('id_fingerprint', 32).index();
    t.string('phone_masked', 24);
    t.string('provider', 40);
    t.string('reason', 16); // mismatch | no_record | other
    t.string('detail', 255);
    t.string('reference', 128);
    t.integer('attempts').notNullable().defaultTo(0);
    t.bigInteger('attempts_since').notNullable();
    t.bigInteger('verified_at');
    t.bigInteger('updated_at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('user_kyc');
}
