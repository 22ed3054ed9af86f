import type { Knex } from 'knex';

/**
 * Agents: levels and their price rules, per-level overrides, the upline tree, agents' markups for
 * their downline, the margin split frozen on each order, sub-shops and monthly rebates.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('agent_levels', (t) => {
    t.increments('id');
    t.string('code', 32).notNullable().unique();
    t.string('name', 60).notNullable();
    // Higher rank, better prices; the lowest rank is every new user's (and every guest's) level.
    t.integer('rank').notNullable().unique();
    t.string('rule_kind', 24).notNullable(); // retail_percent | cost_plus_percent | cost_plus_fixed
    t.bigInteger('rule_value').notNullable(); // basis points, or minor units for cost_plus_fixed
    t.bigInteger('upgrade_spend'); // lifted here automatically at this cumulative spend
    t.bigInteger('upgrade_price'); // or bought from the wallet at this price
    t.bigInteger('created_at').notNullable();
  });
  // Every shop has a base level: retail price, no upgrade. The operator adds the others.
  await knex('agent_levels').insert({ code: 'member', name: 'Member', rank: 0, rule_kind: 'retail_percent', rule_value: 10_000, created_at: Date.now() });

  // One level's price for a category or a SKU, overriding the level's own rule.
  await knex.schema.createTable('price_overrides', (t) => {
    t.increments('id');
    t.integer('level_id').unsigned().notNullable().references('agent_levels.id').onDelete('CASCADE');
    t.string('scope', 8).notNullable(); // category | sku
    t.integer('scope_id').unsigned().notNullable();
    t.string('rule_kind', 24).notNullable(); // fixed | retail_percent | cost_plus_percent | cost_plus_fixed
    t.bigInteger('rule_value').notNullable();
    t.unique(['level_id', 'scope', 'scope_id']);
  });

  await knex.schema.alterTable('skus', (t) => {
    t.bigInteger('cost'); // what the shop pays its supplier, for cost-plus rules
    t.bigInteger('floor_price'); // price protection: no level or agent sells below or above
    t.bigInteger('ceiling_price');
  });

  await knex.schema.alterTable('users', (t) => {
    t.integer('level_id').unsigned().references('agent_levels.id');
    t.integer('upline_id').unsigned().references('users.id');
    t.string('invite_code', 16).unique();
    t.bigInteger('spend_total').notNullable().defaultTo(0);
    t.index(['upline_id']);
  });

  // An agent's markup for its downline: per level (null: any), per SKU, category or everything.
  await knex.schema.createTable('agent_markups', (t) => {
    t.increments('id');
    t.integer('agent_id').unsigned().notNullable().references('users.id').onDelete('CASCADE');
    t.integer('level_id').unsigned().references('agent_levels.id').onDelete('CASCADE');
    t.string('scope', 8).notNullable(); // all | category | sku
    t.integer('scope_id').unsigned().notNullable().defaultTo(0);
    t.string('kind', 8).notNullable(); // fixed | percent
    t.bigInteger('value').notNullable(); // minor units, or basis points
    t.bigInteger('updated_at').notNullable();
    // level 0 stands for "any level" so the unique key also holds where NULLs would not collide.
    t.integer('level_key').unsigned().notNullable().defaultTo(0);
    t.unique(['agent_id', 'scope', 'scope_id', 'level_key']);
  });

  await knex.schema.createTable('sites', (t) => {
    t.increments('id');
    t.integer('owner_id').unsigned().notNullable().unique().references('users.id');
    t.string('code', 32).notNullable().unique();
    t.string('host', 253).unique();
    t.string('name', 80).notNullable();
    t.string('logo_url', 500);
    t.string('notice', 1000);
    t.string('theme', 120);
    t.boolean('enabled').notNullable().defaultTo(true);
    t.boolean('disabled_by_admin').notNullable().defaultTo(false);
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
  });

  await knex.schema.alterTable('orders', (t) => {
    t.integer('site_id').unsigned().references('sites.id');
    t.index(['site_id', 'id']);
  });

  // How an order's price splits up the chain, frozen when the order is placed; credited to the
  // agents' wallets on delivery (pending → credited) and taken back on refund (→ reversed).
  await knex.schema.createTable('order_margins', (t) => {
    t.bigIncrements('id');
    t.integer('order_id').unsigned().notNullable().references('orders.id');
    t.integer('agent_id').unsigned().notNullable().references('users.id');
    // The agent's direct downline member the order came through (the buyer, or its upline).
    t.integer('via_user_id').unsigned().references('users.id');
    t.bigInteger('amount').notNullable();
    t.bigInteger('sale').notNullable(); // the order's amount, for volume
    t.string('status', 10).notNullable(); // pending | credited | reversed
    t.bigInteger('created_at').notNullable();
    t.unique(['order_id', 'agent_id']);
    t.index(['agent_id', 'created_at']);
  });

  await knex.schema.createTable('rebate_tiers', (t) => {
    t.increments('id');
    t.integer('level_id').unsigned().notNullable().references('agent_levels.id').onDelete('CASCADE');
    t.bigInteger('min_volume').notNullable();
    t.integer('percent_bp').notNullable();
    t.unique(['level_id', 'min_volume']);
  });

  await knex.schema.createTable('rebate_payouts', (t) => {
    t.increments('id');
    t.string('month', 7).notNullable();
    t.integer('user_id').unsigned().notNullable().references('users.id');
    t.bigInteger('volume').notNullable();
    t.integer('percent_bp').notNullable();
    t.bigInteger('amount').notNullable();
    t.bigInteger('created_at').notNullable();
    t.unique(['month', 'user_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const t of ['rebate_payouts', 'rebate_tiers', 'order_margins']) await knex.schema.dropTableIfExists(t);
  await knex.schema.alterTable('orders', (t) => {
    t.dropIndex(['site_id', 'id']);
    t.dropColumn('site_id');
  });
  for (const t of ['sites', 'agent_markups']) await knex.schema.dropTableIfExists(t);
  await knex.schema.alterTable('users', (t) => {
    t.dropIndex(['upline_id']);
    t.dropColumns('level_id', 'upline_id', 'invite_code', 'spend_total');
  });
  await knex.schema.alterTable('skus', (t) => t.dropColumns('cost', 'floor_price', 'ceiling_price'));
  for (const t of ['price_overrides', 'agent_levels']) await knex.schema.dropTableIfExists(t);
}
