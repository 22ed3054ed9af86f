import Router from '@koa/router';
import Handlebars from 'handlebars';
import { agentSiteId, deleteArticle, getArticle, listArticles, saveArticle, type ArticleView } from '../articles/articles.js';
import { errors } from '../errors.js';
import { translate } from '../i18n/messages.js';
import type { ShopContext, ShopRouter } from './context.js';
import { renderPage } from './render.js';

/**
 * Articles and announcements of the site a request is on: the pages `/articles` and
 * `/articles/:id` (themes' optional `articles` and `article` templates), the Store API's reads, and
 * a sub-shop owner's writes as JSON (the agent centre's forms are in agent-pages.ts).
 */

const siteIdOf = (ctx: ShopContext) => ctx.state.site?.id ?? null;
const pageOf = (ctx: ShopContext) => Number(ctx.query.page) || 1;
const idOf = (ctx: ShopContext) => Number((ctx as ShopContext & { params: Record<string, string> }).params.id);

/** The body was rendered and escaped when saved: a template outputs it as it is, with `{{article.html}}`. */
export const safeArticle = (a: ArticleView) => ({ ...a, html: new Handlebars.SafeString(a.html) });

export function articleRoutes(): ShopRouter {
  const r: ShopRouter = new Router();

  r.get('/articles', async (ctx) => {
    const list = await listArticles(ctx.shop, siteIdOf(ctx), { page: pageOf(ctx) });
    await renderPage(ctx, 'articles', { title: translate(ctx.state.locale, 'page.articles'), ...list });
  });

  r.get('/articles/:id', async (ctx) => {
    const article = await getArticle(ctx.shop, siteIdOf(ctx), idOf(ctx));
    await renderPage(ctx, 'article', { title: article.title, article: safeArticle(article) });
  });

  r.get('/api/store/articles', async (ctx) => {
    ctx.body = await listArticles(ctx.shop, siteIdOf(ctx), { page: pageOf(ctx), announcements: ctx.query.announcements === '1' });
  });

  r.get('/api/store/articles/:id', async (ctx) => {
    ctx.body = { article: await getArticle(ctx.shop, siteIdOf(ctx), idOf(ctx)) };
  });

  // A sub-shop owner's own articles, drafts too.
  const actor = (ctx: ShopContext) => ({ id: ctx.state.user!.id, ip: ctx.ip });
  const body = (ctx: ShopContext) => ctx.request.body ?? {};

  r.get('/api/store/agent/articles', async (ctx) => {
    ctx.body = await listArticles(ctx.shop, await agentSiteId(ctx.shop, ctx.state.user), { page: pageOf(ctx), drafts: true });
  });

  r.post('/api/store/agent/articles', async (ctx) => {
    ctx.status = 201;
    ctx.body = { article: await saveArticle(ctx.shop, await agentSiteId(ctx.shop, ctx.state.user), null, body(ctx), actor(ctx)) };
  });

  r.put('/api/store/agent/articles/:id', async (ctx) => {
    ctx.body = { article: await saveArticle(ctx.shop, await agentSiteId(ctx.shop, ctx.state.user), idOf(ctx) || -1, body(ctx), actor(ctx)) };
  });

  r.delete('/api/store/agent/articles/:id', async (ctx) => {
    const id = idOf(ctx);
    if (!Number.isSafeInteger(id) || id <= 0) throw errors.notFound();
    await deleteArticle(ctx.shop, await agentSiteId(ctx.shop, ctx.state.user), id, actor(ctx));
    ctx.status = 204;
  });

  return r;
}
