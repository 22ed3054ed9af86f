import type { Knex } from 'knex';

/**
 * Bot-defence challenges are signed and stateless until used: a solved one is recorded here by the
 * SHA-256 of its token, so the primary key refuses a second use in every app process. Rows go
 * once the challenge has expired anyway.
 */
export async function up(knex: Knex): Promise<void> {
  if (await knex.schema.hasTable('challenge_uses')) return;
  await knex.schema.createTable('challenge_uses', (t) => {
    t.string('id', 64).primary();
    t.bigInteger('expires_at').notNullable().index();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('challenge_uses');
}
