import type { Knex } from 'knex';

/**
 * Articles and announcements per site: the main shop's have `site_id` null, a sub-shop's its id.
 * `html` is the body rendered once when saved (escaped text, or the safe Markdown subset), so a
 * page view renders nothing.
 */
export async function up(knex: Knex): Promise<void> {
  if (await knex.schema.hasTable('articles')) return;
  await knex.schema.createTable('articles', (t) => {
    t.increments('id');
    t.integer('site_id').unsigned().references('sites.id').onDelete('CASCADE');
    t.string('title', 200).notNullable();
    t.string('format', 8).notNullable(); // text | markdown
    t.text('body', 'mediumtext').notNullable();
    t.text('html', 'mediumtext').notNullable();
    t.boolean('pinned').notNullable().defaultTo(false);
    t.boolean('published').notNullable().defaultTo(false);
    /** Shown on the site's home page while published. */
    t.boolean('announcement').notNullable().defaultTo(false);
    t.integer('author_id').unsigned();
    t.bigInteger('published_at');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.index(['site_id', 'published', 'pinned', 'published_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('articles');
}
