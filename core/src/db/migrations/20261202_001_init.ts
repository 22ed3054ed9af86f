import type { Knex } from 'knex';

// Timestamps are milliseconds since the epoch in BIGINT columns: the same on SQLite and MySQL,
// and free of time-zone conversions. Money is BIGINT minor units.

export async function up(knex: Knex): Promise<void> {
  const has = (t: string) => knex.schema.hasTable(t);

  if (!(await has('settings'))) {
    await knex.schema.createTable('settings', (t) => {
      t.string('key', 64).primary();
      t.text('value').notNullable();
    });
  }

  if (!(await has('users'))) {
    await knex.schema.createTable('users', (t) => {
      t.increments('id');
      t.string('email', 254).notNullable().unique();
      t.string('password_hash', 200).notNullable();
      t.string('role', 16).notNullable().defaultTo('customer');
      t.string('display_name', 80);
      t.boolean('disabled').notNullable().defaultTo(false);
      t.bigInteger('created_at').notNullable();
    });
  }

  if (!(await has('sessions'))) {
    await knex.schema.createTable('sessions', (t) => {
      t.string('id', 64).primary(); // SHA-256 of the cookie token
      t.integer('user_id').unsigned().notNullable().references('users.id').onDelete('CASCADE');
      t.bigInteger('created_at').notNullable();
      t.bigInteger('expires_at').notNullable().index();
    });
  }

  if (!(await has('categories'))) {
    await knex.schema.createTable('categories', (t) => {
      t.increments('id');
      t.string('slug', 64).notNullable().unique();
      t.string('name', 120).notNullable();
      t.text('description');
      t.string('image_url', 500);
      t.integer('sort').notNullable().defaultTo(0);
      t.boolean('enabled').notNullable().defaultTo(true);
      t.bigInteger('created_at').notNullable();
    });
  }

  if (!(await has('products'))) {
    await knex.schema.createTable('products', (t) => {
      t.increments('id');
      t.integer('category_id').unsigned().notNullable().references('categories.id');
      t.string('slug', 64).notNullable().unique();
      t.string('name', 200).notNullable();
      t.text('description');
      t.string('image_url', 500);
      t.string('type', 16).notNullable(); // card | direct | manual | plugin types
      t.text('fields'); // JSON: the buyer input fields
      t.integer('sort').notNullable().defaultTo(0);
      t.boolean('enabled').notNullable().defaultTo(true);
      t.bigInteger('created_at').notNullable();
      t.bigInteger('updated_at').notNullable();
      t.index(['category_id', 'sort']);
    });
  }

  if (!(await has('skus'))) {
    await knex.schema.createTable('skus', (t) => {
      t.increments('id');
      t.integer('product_id').unsigned().notNullable().references('products.id');
      t.string('code', 64).notNullable().unique();
      t.string('name', 120).notNullable();
      t.bigInteger('price').notNullable();
      // Maintained counter of available card keys, changed in the same transaction as the keys.
      t.integer('stock').notNullable().defaultTo(0);
      t.integer('sold').notNullable().defaultTo(0);
      t.integer('min_quantity').notNullable().defaultTo(1);
      t.integer('max_quantity');
      t.integer('sort').notNullable().defaultTo(0);
      t.boolean('enabled').notNullable().defaultTo(true);
      t.bigInteger('created_at').notNullable();
      t.bigInteger('updated_at').notNullable();
      t.index(['product_id', 'sort']);
    });
  }

  if (!(await has('orders'))) {
    await knex.schema.createTable('orders', (t) => {
      t.increments('id');
      t.string('no', 32).notNullable().unique();
      t.string('token_hash', 64).notNullable();
      t.integer('user_id').unsigned().references('users.id');
      t.integer('sku_id').unsigned().notNullable().references('skus.id');
      t.integer('product_id').unsigned().notNullable().references('products.id');
      t.string('product_type', 16).notNullable();
      t.string('title', 330).notNullable();
      t.integer('quantity').notNullable();
      t.bigInteger('unit_price').notNullable();
      t.bigInteger('amount').notNullable();
      t.string('currency', 3).notNullable();
      t.string('status', 20).notNullable();
      t.string('payment', 32).notNullable();
      t.string('contact', 120);
      t.text('fields'); // JSON of the buyer's input
      t.text('delivery'); // encrypted text delivered by an admin or a supplier
      t.string('reason', 255);
      t.bigInteger('created_at').notNullable();
      t.bigInteger('paid_at');
      t.bigInteger('delivered_at');
      t.bigInteger('updated_at').notNullable();
      t.index(['user_id', 'id']);
      t.index(['status', 'id']);
    });
  }

  if (!(await has('card_keys'))) {
    await knex.schema.createTable('card_keys', (t) => {
      t.bigIncrements('id');
      t.integer('sku_id').unsigned().notNullable().references('skus.id');
      t.text('secret').notNullable(); // AES-256-GCM, see security/keys.ts
      t.string('fingerprint', 32).notNullable(); // HMAC of the normalised key, for dedupe
      t.string('status', 12).notNullable().defaultTo('available'); // available | sold | void
      t.integer('order_id').unsigned().references('orders.id');
      t.bigInteger('created_at').notNullable();
      t.bigInteger('sold_at');
      t.unique(['sku_id', 'fingerprint']);
      t.index(['sku_id', 'status', 'id']);
      t.index(['order_id']);
    });
  }

  if (!(await has('accounts'))) {
    await knex.schema.createTable('accounts', (t) => {
      t.increments('id');
      t.string('code', 64).notNullable().unique(); // wallet:<user id> | platform:revenue | ...
      t.string('kind', 32).notNullable();
      t.integer('user_id').unsigned().references('users.id');
      t.bigInteger('balance').notNullable().defaultTo(0);
      t.string('currency', 3).notNullable();
      t.bigInteger('created_at').notNullable();
    });
  }

  if (!(await has('journal_transactions'))) {
    await knex.schema.createTable('journal_transactions', (t) => {
      // Deterministic ids (e.g. "order:<no>:pay") make each money movement happen at most once.
      t.string('id', 96).primary();
      t.string('kind', 24).notNullable();
      t.integer('order_id').unsigned().references('orders.id');
      t.string('memo', 255);
      t.integer('actor_id').unsigned().references('users.id');
      t.bigInteger('created_at').notNullable();
    });
  }

  if (!(await has('journal_entries'))) {
    await knex.schema.createTable('journal_entries', (t) => {
      t.bigIncrements('id');
      t.string('txn_id', 96).notNullable().references('journal_transactions.id');
      t.integer('account_id').unsigned().notNullable().references('accounts.id');
      t.bigInteger('amount').notNullable(); // signed: balance += amount
      t.bigInteger('created_at').notNullable();
      t.index(['account_id']);
      t.index(['txn_id']);
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const t of ['journal_entries', 'journal_transactions', 'accounts', 'card_keys', 'orders', 'skus', 'products', 'categories', 'sessions', 'users', 'settings']) {
    await knex.schema.dropTableIfExists(t);
  }
}
