import type { Knex } from 'knex';

/**
 * Indexes the operator's console needs to stay fast with a million orders (bench/console.mjs):
 * the order list filtered by SKU or contact, read newest first by id; an agent's orders through its
 * margins; and covering indexes the reports scan without touching the table rows: orders by time
 * (the dashboard), orders by buyer (customer insight), margins by time (agents' volume).
 */
const INDEXES: Array<[string, string[]]> = [
  ['orders', ['sku_id', 'id']],
  ['orders', ['contact', 'id']],
  ['orders', ['created_at', 'status', 'sku_id', 'quantity', 'amount', 'paid_at', 'delivered_at']],
  ['orders', ['user_id', 'contact', 'status', 'amount', 'created_at']],
  ['order_margins', ['agent_id', 'order_id']],
  ['order_margins', ['created_at', 'status', 'agent_id', 'sale', 'amount']],
];

// Short names: MySQL allows 64 characters.
const name = (table: string, columns: string[]) => `${table}_console_${columns.slice(0, 2).join('_')}`;

export async function up(knex: Knex): Promise<void> {
  for (const [table, columns] of INDEXES) {
    await knex.schema.alterTable(table, (t) => t.index(columns, name(table, columns)));
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const [table, columns] of INDEXES) {
    await knex.schema.alterTable(table, (t) => t.dropIndex(columns, name(table, columns)));
  }
}
