import type { Knex } from 'knex';

/**
 * Coupons (优惠券): `kind` percent (value 1–100) or fixed (value in minor units), for the whole order,
 * a category or a SKU (`scope`, `scope_id`); `used` counts redemptions against `max_uses` (null: no
 * limit) and is raised only by a guarded UPDATE in the order's transaction; `per_buyer` limits one
 * buyer, counted in `coupon_buyers` (a row per coupon and buyer, raised the same way). `owner_id`:
 * an agent's coupon, funded from that agent's margin (coupons/coupons.ts). The order keeps the
 * coupon (its id and code) and the discount it got.
 */
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('coupons'))) {
    await knex.schema.createTable('coupons', (t) => {
      t.increments('id');
      t.string('code', 32).notNullable().unique();
      t.string('kind', 8).notNullable();
      t.bigInteger('value').notNullable();
      t.string('scope', 8).notNullable().defaultTo('order');
      t.integer('scope_id');
      t.bigInteger('min_amount').notNullable().defaultTo(0);
      t.integer('max_uses');
      t.integer('used').notNullable().defaultTo(0);
      t.integer('per_buyer');
      t.bigInteger('starts_at');
      t.bigInteger('ends_at');
      t.boolean('active').notNullable().defaultTo(true);
      t.integer('owner_id').unsigned().references('users.id');
      t.string('batch', 32);
      t.bigInteger('created_at').notNullable();
      t.bigInteger('updated_at').notNullable();
      t.index(['owner_id', 'id']);
    });
  }
  if (!(await knex.schema.hasTable('coupon_buyers'))) {
    await knex.schema.createTable('coupon_buyers', (t) => {
      t.integer('coupon_id').unsigned().notNullable().references('coupons.id');
      // `user:<id>`, or an HMAC of a guest's contact (never the contact itself).
      t.string('buyer', 64).notNullable();
      t.integer('uses').notNullable().defaultTo(0);
      t.primary(['coupon_id', 'buyer']);
    });
  }
  if (!(await knex.schema.hasColumn('orders', 'coupon_id'))) {
    await knex.schema.alterTable('orders', (t) => {
      t.integer('coupon_id').unsigned().references('coupons.id');
      t.string('coupon_code', 32);
      t.bigInteger('discount').notNullable().defaultTo(0);
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  if (await knex.schema.hasColumn('orders', 'coupon_id')) {
    await knex.schema.alterTable('orders', (t) => {
      t.dropForeign(['coupon_id']);
      t.dropColumn('coupon_id');
      t.dropColumn('coupon_code');
      t.dropColumn('discount');
    });
  }
  await knex.schema.dropTableIfExists('coupon_buyers');
  await knex.schema.dropTableIfExists('coupons');
}
