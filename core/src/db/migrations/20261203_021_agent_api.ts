import type { Knex } from 'knex';

/**
 * The Agent API: users' API keys (the secret is sealed, not hashed: the shop needs it to check
 * HMAC signatures and to sign webhooks), the nonces seen within the timestamp window, and on each
 * order the key that placed it, its Idempotency-Key (unique per user: a repeat can never make a
 * second order) and where to send its webhooks.
 */
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('api_keys'))) {
    await knex.schema.createTable('api_keys', (t) => {
      t.increments('id');
      t.string('key', 40).notNullable().unique(); // the public key id, sent as X-Cardshop-Key
      t.integer('user_id').unsigned().notNullable().references('users.id');
      t.text('secret').notNullable(); // AES-256-GCM, see security/keys.ts
      t.string('label', 80);
      t.bigInteger('created_at').notNullable();
      t.bigInteger('last_used_at');
      t.bigInteger('revoked_at');
      t.index(['user_id']);
    });
  }
  if (!(await knex.schema.hasTable('api_nonces'))) {
    await knex.schema.createTable('api_nonces', (t) => {
      t.string('key', 40).notNullable();
      t.string('nonce', 64).notNullable();
      t.bigInteger('expires_at').notNullable().index();
      t.primary(['key', 'nonce']);
    });
  }
  if (!(await knex.schema.hasColumn('orders', 'idempotency_key'))) {
    await knex.schema.alterTable('orders', (t) => {
      t.integer('api_key_id').unsigned(); // api_keys.id (no foreign key: SQLite would rebuild the table)
      t.string('idempotency_key', 64);
      t.string('callback_url', 500);
      t.unique(['user_id', 'idempotency_key']);
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('orders', (t) => {
    t.dropUnique(['user_id', 'idempotency_key']);
    t.dropColumns('api_key_id', 'idempotency_key', 'callback_url');
  });
  for (const t of ['api_nonces', 'api_keys']) await knex.schema.dropTableIfExists(t);
}
