import type { Knex } from 'knex';
import { z } from 'zod';
import { audit } from '../audit/audit.js';
import { siteOf } from '../agents/sites.js';
import { requireAgent } from '../agents/tree.js';
import type { User } from '../agents/users.js';
import type { Deps } from '../context.js';
import type { Database } from '../db/connect.js';
import { affected, transaction } from '../db/dialect.js';
import { errors, fromZod } from '../errors.js';
import { plainText, renderBody, type ArticleFormat } from './markdown.js';
import { pageNumber } from '../db/paging.js';

/**
 * Articles and announcements (文章与公告) per site: the main shop's (site null), written by the
 * operator in the console, and each sub-shop's, written by its owner in the agent centre. Drafts
 * are seen only by their writers; an announcement is also shown on its site's home page while
 * published, pinned ones first.
 */

export const articleInput = z
  .object({
    title: z.string({ error: 'field.required' }).trim().min(1, 'field.required').max(200, 'field.too_long'),
    body: z.string({ error: 'field.required' }).trim().min(1, 'field.required').max(50_000, 'field.too_long'),
    format: z.enum(['text', 'markdown'], { error: 'field.invalid' }).default('text'),
    pinned: z.boolean({ error: 'field.invalid' }).default(false),
    published: z.boolean({ error: 'field.invalid' }).default(false),
    announcement: z.boolean({ error: 'field.invalid' }).default(false),
  })
  .strict();

export type ArticleInput = z.input<typeof articleInput>;

/** An article as lists show it. */
export interface ArticleSummary {
  id: number;
  title: string;
  /** The first words of the body, without markup. */
  excerpt: string;
  pinned: boolean;
  announcement: boolean;
  published: boolean;
  publishedAt: number | null;
  updatedAt: number;
}

/** An article as its page shows it: `html` is the body rendered when it was saved, safe to output. */
export interface ArticleView extends ArticleSummary {
  siteId: number | null;
  format: ArticleFormat;
  body: string;
  html: string;
  createdAt: number;
}

const EXCERPT = 140;

function excerptOf(format: ArticleFormat, body: string): string {
  const text = plainText(format, body).replace(/\s+/g, ' ').trim();
  return text.length > EXCERPT ? `${text.slice(0, EXCERPT)}…` : text;
}

function toView(r: Record<string, any>): ArticleView {
  return {
    id: Number(r.id),
    siteId: r.site_id === null ? null : Number(r.site_id),
    title: r.title,
    format: r.format,
    body: r.body,
    html: r.html,
    excerpt: excerptOf(r.format, r.body),
    pinned: Boolean(r.pinned),
    announcement: Boolean(r.announcement),
    published: Boolean(r.published),
    publishedAt: r.published_at === null ? null : Number(r.published_at),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

const summary = ({ id, title, excerpt, pinned, announcement, published, publishedAt, updatedAt }: ArticleView): ArticleSummary => ({
  id,
  title,
  excerpt,
  pinned,
  announcement,
  published,
  publishedAt,
  updatedAt,
});

/** Rows of one site: the main shop's are those without a site. */
const ofSite = (q: Knex.QueryBuilder, siteId: number | null) => (siteId === null ? q.whereNull('site_id') : q.where('site_id', siteId));

/** Newest first, pinned ones before the rest; drafts (never published) by their last change. */
const ORDER = [{ column: 'pinned', order: 'desc' }, { column: 'published_at', order: 'desc' }, { column: 'id', order: 'desc' }] as const;

export interface ArticlePage {
  articles: ArticleSummary[];
  page: number;
  pages: number;
  total: number;
}

/** A site's articles, a page at a time: published only, unless `drafts` (their writers' view). */
export async function listArticles(deps: Deps, siteId: number | null, opts: { page?: number; pageSize?: number; drafts?: boolean; announcements?: boolean } = {}): Promise<ArticlePage> {
  const pageSize = Math.min(Math.max(opts.pageSize ?? 20, 1), 100);
  const page = pageNumber(opts.page);
  const filtered = () => {
    const q = ofSite(deps.db.read('articles'), siteId);
    if (!opts.drafts) q.where('published', true);
    if (opts.announcements) q.where('announcement', true);
    return q;
  };
  const [rows, count] = await Promise.all([
    filtered().orderBy([...ORDER]).limit(pageSize).offset((page - 1) * pageSize).select(),
    filtered().count({ n: '*' }).first(),
  ]);
  const total = Number(count?.n ?? 0);
  return { articles: rows.map((r: Record<string, any>) => summary(toView(r))), page, pages: Math.max(1, Math.ceil(total / pageSize)), total };
}

/** One article of a site; a draft only with `drafts`. 404 otherwise, also for another site's. */
export async function getArticle(deps: Deps, siteId: number | null, id: number, opts: { drafts?: boolean } = {}): Promise<ArticleView> {
  if (!Number.isSafeInteger(id) || id <= 0) throw errors.notFound();
  const q = ofSite(deps.db.read('articles'), siteId).where('id', id);
  if (!opts.drafts) q.where('published', true);
  const row = await q.first();
  if (!row) throw errors.notFound();
  return toView(row);
}

/*
 * The home page shows its site's announcements on every view, so they are kept in memory per
 * site for a few seconds, and dropped at once when this process saves an article.
 */
const ANNOUNCEMENTS_TTL_MS = 5000;
const ANNOUNCEMENTS_MAX = 5;
const announcementCache = new WeakMap<Database, Map<string, { at: number; value: Promise<ArticleSummary[]> }>>();

function dropAnnouncements(deps: Deps): void {
  announcementCache.delete(deps.db);
}

/** The site's published announcements for its home page: pinned first, newest first, at most five. */
export function announcementsOf(deps: Deps, siteId: number | null): Promise<ArticleSummary[]> {
  let bySite = announcementCache.get(deps.db);
  if (!bySite) announcementCache.set(deps.db, (bySite = new Map()));
  const key = String(siteId);
  const hit = bySite.get(key);
  const now = Date.now();
  if (hit && now - hit.at < ANNOUNCEMENTS_TTL_MS) return hit.value;
  const value = listArticles(deps, siteId, { announcements: true, pageSize: ANNOUNCEMENTS_MAX }).then((p) => p.articles);
  bySite.set(key, { at: now, value });
  value.catch(() => bySite.delete(key));
  return value;
}

type Actor = { id: number; ip?: string };

/**
 * Writes an article of a site: a new one (`id` null) or a change of one of that site's. The body
 * is rendered here, once. Publishing stamps the time it first went out; unpublishing keeps it.
 */
export async function saveArticle(deps: Deps, siteId: number | null, id: number | null, input: unknown, actor: Actor): Promise<ArticleView> {
  const parsed = articleInput.safeParse(input);
  if (!parsed.success) throw fromZod(parsed.error);
  const a = parsed.data;
  const now = deps.now();
  const row = {
    title: a.title,
    format: a.format,
    body: a.body,
    html: renderBody(a.format, a.body),
    pinned: a.pinned,
    published: a.published,
    announcement: a.announcement,
    updated_at: now,
  };
  const saved = await transaction(deps.db, async (trx) => {
    if (id === null) {
      const [newId] = await trx('articles').insert({ ...row, site_id: siteId, author_id: actor.id, published_at: a.published ? now : null, created_at: now });
      await audit(deps, trx, { actorId: actor.id, action: 'article.create', targetType: 'article', targetId: Number(newId), after: { siteId, title: a.title, published: a.published, announcement: a.announcement }, ip: actor.ip });
      return Number(newId);
    }
    const before = await ofSite(trx('articles'), siteId).where('id', id).first('title', 'published', 'pinned', 'announcement', 'published_at');
    if (!before) throw errors.notFound();
    await trx('articles')
      .where('id', id)
      .update({ ...row, published_at: a.published && before.published_at === null ? now : before.published_at });
    await audit(deps, trx, {
      actorId: actor.id,
      action: 'article.update',
      targetType: 'article',
      targetId: id,
      before: { title: before.title, published: Boolean(before.published), pinned: Boolean(before.pinned), announcement: Boolean(before.announcement) },
      after: { title: a.title, published: a.published, pinned: a.pinned, announcement: a.announcement },
      ip: actor.ip,
    });
    return id;
  });
  dropAnnouncements(deps);
  return getArticle(deps, siteId, saved, { drafts: true });
}

export async function deleteArticle(deps: Deps, siteId: number | null, id: number, actor: Actor): Promise<void> {
  await transaction(deps.db, async (trx) => {
    const before = await ofSite(trx('articles'), siteId).where('id', id).first('title', 'published');
    if (!before || affected(await trx('articles').where('id', id).delete()) !== 1) throw errors.notFound();
    await audit(deps, trx, { actorId: actor.id, action: 'article.delete', targetType: 'article', targetId: id, before: { siteId, title: before.title, published: Boolean(before.published) }, ip: actor.ip });
  });
  dropAnnouncements(deps);
}

/** The sub-shop whose articles an agent writes: its own (an agent without a sub-shop has none to write). */
export async function agentSiteId(deps: Deps, user: User | undefined): Promise<number> {
  const site = await siteOf(deps, requireAgent(user).id);
  if (!site) throw errors.validation({ site: 'error.no_site' });
  return site.id;
}
