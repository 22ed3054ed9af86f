import type { Knex } from 'knex';

/**
 * The delivery engine: a durable job table (the transactional outbox every paid order writes its
 * delivery into), supplier routes per SKU, and what was asked of each supplier for each order.
 */
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('delivery_jobs'))) {
    await knex.schema.createTable('delivery_jobs', (t) => {
      t.bigIncrements('id');
      t.string('kind', 24).notNullable(); // deliver | webhook
      // What the job is about (an order number, an order number and event): one job per kind and ref.
      t.string('ref', 96).notNullable();
      t.integer('order_id').unsigned().references('orders.id');
      t.text('payload'); // JSON, for jobs that carry more than their ref
      t.string('status', 10).notNullable(); // queued | running | done | dead
      t.integer('attempts').notNullable().defaultTo(0);
      // When a queued job may run; for a running job, when its lease ends (a dead worker's job is
      // claimed again from then on), so one index serves both.
      t.bigInteger('run_at').notNullable();
      t.string('claim', 32); // the claim that runs it now; only that claim may finish it
      t.string('last_error', 500);
      t.bigInteger('created_at').notNullable();
      t.bigInteger('updated_at').notNullable();
      t.unique(['kind', 'ref']);
      t.index(['status', 'run_at']);
      t.index(['order_id']);
    });
  }

  if (!(await knex.schema.hasTable('sku_suppliers'))) {
    // Which suppliers can fill a SKU: tried by priority (lower first) while enabled.
    await knex.schema.createTable('sku_suppliers', (t) => {
      t.increments('id');
      t.integer('sku_id').unsigned().notNullable().references('skus.id').onDelete('CASCADE');
      t.string('supplier', 40).notNullable(); // a registered connector's id
      t.string('supplier_sku', 96).notNullable(); // the supplier's code for it
      t.integer('priority').notNullable().defaultTo(0);
      t.bigInteger('cost'); // what the supplier charges a unit, as last seen
      t.integer('stock'); // the supplier's stock, as last seen (null: not reported)
      t.boolean('enabled').notNullable().defaultTo(true);
      t.bigInteger('synced_at');
      t.bigInteger('created_at').notNullable();
      t.bigInteger('updated_at').notNullable();
      t.unique(['sku_id', 'supplier']);
      t.index(['supplier', 'supplier_sku']);
    });
  }

  if (!(await knex.schema.hasTable('supplier_orders'))) {
    // One row per order and supplier: the row exists before the supplier is called, so a worker
    // that dies mid-call leaves a trace, and the next one asks the supplier before placing again.
    await knex.schema.createTable('supplier_orders', (t) => {
      t.bigIncrements('id');
      t.integer('order_id').unsigned().notNullable().references('orders.id');
      t.string('supplier', 40).notNullable();
      t.string('supplier_sku', 96).notNullable();
      t.string('status', 10).notNullable(); // placing | pending | delivered | failed
      t.string('supplier_order_no', 96);
      t.bigInteger('cost');
      t.string('reason', 255);
      t.bigInteger('created_at').notNullable();
      t.bigInteger('updated_at').notNullable();
      t.unique(['order_id', 'supplier']);
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const t of ['supplier_orders', 'sku_suppliers', 'delivery_jobs']) await knex.schema.dropTableIfExists(t);
}
