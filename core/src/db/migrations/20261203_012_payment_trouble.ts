import type { Knex } from 'knex';

/**
 * Payment trouble an operator can see and fix: the log of every gateway callback, unpaid orders
 * holding their keys and counting against per-holder limits, backorders, and guarded order
 * look-ups (query password, one-time codes, attempt counters).
 */
export async function up(knex: Knex): Promise<void> {
  const has = (t: string) => knex.schema.hasTable(t);

  if (!(await has('payment_callbacks'))) {
    await knex.schema.createTable('payment_callbacks', (t) => {
      t.bigIncrements('id');
      t.string('gateway', 32).notNullable();
      t.string('kind', 8).notNullable(); // notify | return | replay | probe
      t.string('method', 8).notNullable();
      t.string('ip', 64);
      // Shown in the console: headers, query and body with secrets and personal data masked.
      t.text('headers');
      t.text('query');
      t.text('body', 'mediumtext');
      // The request exactly as received, sealed with AES-GCM: what a replay verifies again.
      t.text('sealed', 'mediumtext');
      t.boolean('signature_valid'); // null: not checked (a return, a probe)
      t.string('order_no', 32);
      t.bigInteger('amount');
      t.boolean('amount_match');
      t.string('status_before', 20);
      t.string('status_after', 20);
      t.string('outcome', 16).notNullable(); // paid | duplicate | late | invalid | refused | unconfirmed | error | ignored | …
      t.boolean('ok').notNullable(); // false: the failed-only filter
      t.string('reason', 255);
      t.integer('reply_status');
      t.string('reply_body', 255);
      t.bigInteger('replay_of');
      t.integer('actor_id').unsigned().references('users.id');
      t.bigInteger('created_at').notNullable();
      t.index(['gateway', 'id']);
      t.index(['gateway', 'ok', 'id']);
      t.index(['order_no', 'id']);
      t.index(['created_at']);
    });
  }

  const orderColumns: Array<[string, (t: Knex.AlterTableBuilder) => void]> = [
    // Keys an unpaid order holds (status `reserved`, this order's id) until it is paid or expires.
    ['reserved', (t) => t.integer('reserved').notNullable().defaultTo(0)],
    // The unpaid-order counters (unpaid_holds) this order counts against while it is unpaid: JSON.
    ['holds', (t) => t.text('holds')],
    ['client_ip', (t) => t.string('client_ip', 64)],
    // Paid while the SKU had no keys, and the SKU backorders: delivered when keys arrive, oldest first.
    ['backorder', (t) => t.boolean('backorder').notNullable().defaultTo(false)],
    // The buyer's query password for look-ups by order number or contact (scrypt).
    ['query_hash', (t) => t.string('query_hash', 200)],
  ];
  for (const [column, add] of orderColumns) {
    if (!(await knex.schema.hasColumn('orders', column))) await knex.schema.alterTable('orders', add);
  }
  if (!(await knex.schema.hasColumn('orders', 'contact_key'))) {
    // HMAC of the normalised contact, so a look-up by contact is an index hit.
    await knex.schema.alterTable('orders', (t) => {
      t.string('contact_key', 32);
      t.index(['contact_key', 'id']);
      t.index(['backorder', 'sku_id', 'id']);
    });
  }

  if (!(await knex.schema.hasColumn('skus', 'oversell'))) {
    // What a payment that finds no keys does: `refund` to the wallet (or owed to a guest), or `backorder`.
    await knex.schema.alterTable('skus', (t) => t.string('oversell', 12).notNullable().defaultTo('refund'));
  }

  if (!(await has('unpaid_holds'))) {
    // Unpaid orders per holder (a contact, an address, a browser session), kept by guarded UPDATEs.
    await knex.schema.createTable('unpaid_holds', (t) => {
      t.string('scope', 8).notNullable();
      t.string('holder', 40).notNullable();
      t.integer('unpaid').notNullable().defaultTo(0);
      t.primary(['scope', 'holder']);
    });
  }

  if (!(await has('rate_limits'))) {
    // Fixed-window attempt counters (order look-ups per address and per order).
    await knex.schema.createTable('rate_limits', (t) => {
      t.string('bucket', 100).primary();
      t.bigInteger('window_start').notNullable();
      t.integer('hits').notNullable();
    });
  }

  if (!(await has('lookup_codes'))) {
    // One-time codes sent to a contact so its owner can open that contact's orders.
    await knex.schema.createTable('lookup_codes', (t) => {
      t.bigIncrements('id');
      t.string('contact_key', 32).notNullable();
      t.string('code_hash', 64).notNullable();
      t.bigInteger('expires_at').notNullable();
      t.boolean('used').notNullable().defaultTo(false);
      t.bigInteger('created_at').notNullable();
      t.index(['contact_key', 'id']);
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const t of ['lookup_codes', 'rate_limits', 'unpaid_holds', 'payment_callbacks']) await knex.schema.dropTableIfExists(t);
  await knex.schema.alterTable('skus', (t) => t.dropColumn('oversell'));
  await knex.schema.alterTable('orders', (t) => {
    t.dropIndex(['contact_key', 'id']);
    t.dropIndex(['backorder', 'sku_id', 'id']);
    for (const c of ['reserved', 'holds', 'client_ip', 'backorder', 'query_hash', 'contact_key']) t.dropColumn(c);
  });
}
