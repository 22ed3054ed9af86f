import type { Knex } from 'knex';

/**
 * Markup templates: a price per level (and optionally the retail price) from the SKU's cost, with a
 * rounding rule. A SKU under a template (`skus.markup_template_id`) has its per-level overrides
 * written by it (`price_overrides.template_id`), recomputed whenever its cost changes; an override
 * set by hand has no template_id and is left alone.
 */
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('markup_templates'))) {
    await knex.schema.createTable('markup_templates', (t) => {
      t.increments('id');
      t.string('name', 80).notNullable().unique();
      /** JSON: { retail?: { kind, value }, levels: { <level code>: { kind, value } } }. */
      t.text('rules').notNullable();
      /** Prices are k × step + ending, fen; mode picks k: up, down or nearest. */
      t.integer('round_step').notNullable().defaultTo(1);
      t.integer('round_ending').notNullable().defaultTo(0);
      t.string('round_mode', 8).notNullable().defaultTo('up');
      t.bigInteger('created_at').notNullable();
      t.bigInteger('updated_at').notNullable();
    });
  }
  if (!(await knex.schema.hasColumn('skus', 'markup_template_id'))) {
    await knex.schema.alterTable('skus', (t) => {
      t.integer('markup_template_id').unsigned().references('markup_templates.id').onDelete('SET NULL');
      t.index(['markup_template_id']);
    });
  }
  if (!(await knex.schema.hasColumn('price_overrides', 'template_id'))) {
    await knex.schema.alterTable('price_overrides', (t) => {
      t.integer('template_id').unsigned();
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  if (await knex.schema.hasColumn('price_overrides', 'template_id')) await knex.schema.alterTable('price_overrides', (t) => t.dropColumn('template_id'));
  if (await knex.schema.hasColumn('skus', 'markup_template_id')) {
    await knex.schema.alterTable('skus', (t) => {
      t.dropForeign(['markup_template_id']);
      t.dropIndex(['markup_template_id']);
      t.dropColumn('markup_template_id');
    });
  }
  await knex.schema.dropTableIfExists('markup_templates');
}
