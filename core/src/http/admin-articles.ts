import { deleteArticle, getArticle, listArticles, saveArticle, type ArticleView } from '../articles/articles.js';
import { siteByCode } from '../agents/sites.js';
import { errors, type ShopError } from '../errors.js';
import { translate } from '../i18n/messages.js';
import { actorOf, consolePost, failureText, formOf, idParam, one, type Form } from './admin-forms.js';
import { consoleData, consoleRouter, consoleTemplate, renderConsole } from './admin-layout.js';
import { adminJsonRouter } from './admin-api.js';
import type { ShopContext, ShopRouter } from './context.js';

/**
 * The console's articles and announcements: the main shop's, or with `?site=<code>` a sub-shop's
 * (the operator may correct or take down what an agent wrote). JSON twins under /api/admin/articles.
 */

const page = consoleTemplate(`{{#if saved}}<p class="notice" role="status">{{t "admin.saved"}}</p>{{/if}}
{{#if error}}<p class="notice bad" role="alert">{{error}}</p>{{/if}}
<form method="get" action="/admin/articles" class="row"><label for="a-site" class="hint" style="margin:0">{{t "admin.articles.site"}}</label>
<input id="a-site" type="text" name="site" value="{{site}}" placeholder="{{t "admin.articles.mainShop"}}" style="max-width:200px"><button class="small" type="submit">{{t "admin.articles.show"}}</button></form>
<section aria-labelledby="list-h"><h2 id="list-h">{{#if site}}{{t "admin.articles.ofSite" site=site}}{{else}}{{t "admin.articles.ofMain"}}{{/if}}</h2>
<table><thead><tr><th>{{t "admin.articles.title"}}</th><th>{{t "admin.catalog.state"}}</th><th>{{t "admin.articles.updated"}}</th><th></th></tr></thead><tbody>
{{#each list.articles}}<tr data-article="{{id}}"><td><a href="/admin/articles/{{id}}{{#if @root.site}}?site={{@root.site}}{{/if}}">{{title}}</a></td>
<td>{{#if published}}<span class="ok-cell">{{t "admin.articles.published"}}</span>{{else}}{{t "admin.articles.draft"}}{{/if}}{{#if pinned}} · {{t "admin.articles.pinned"}}{{/if}}{{#if announcement}} · {{t "admin.articles.announcement"}}{{/if}}</td>
<td>{{date updatedAt}}</td>
<td><form method="post" action="/admin/articles/{{id}}/delete"><input type="hidden" name="_csrf" value="{{@root.csrf}}"><input type="hidden" name="site" value="{{@root.site}}"><button class="small" type="submit">{{t "admin.articles.delete"}}</button></form></td></tr>
{{else}}<tr><td colspan="4">{{t "admin.none"}}</td></tr>{{/each}}</tbody></table></section>
<section aria-labelledby="form-h"><h2 id="form-h">{{#if article.id}}{{t "admin.articles.edit"}}{{else}}{{t "admin.articles.new"}}{{/if}}</h2>
<form method="post" action="/admin/articles{{#if article.id}}/{{article.id}}{{/if}}"><input type="hidden" name="_csrf" value="{{csrf}}"><input type="hidden" name="site" value="{{site}}">
<label for="a-title">{{t "admin.articles.title"}}</label><input id="a-title" type="text" name="title" value="{{article.title}}" required maxlength="200">
<label for="a-format">{{t "admin.articles.format"}}</label><select id="a-format" name="format"><option value="text"{{#if (eq article.format "text")}} selected{{/if}}>{{t "admin.articles.formatText"}}</option><option value="markdown"{{#if (eq article.format "markdown")}} selected{{/if}}>Markdown</option></select>
<p class="hint">{{t "admin.articles.formatHint"}}</p>
<label for="a-body">{{t "admin.articles.body"}}</label><textarea id="a-body" name="body" rows="12" required maxlength="50000">{{article.body}}</textarea>
<div class="row"><label style="font-weight:400"><input type="checkbox" name="published" value="1"{{#if article.published}} checked{{/if}}> {{t "admin.articles.publish"}}</label>
<label style="font-weight:400"><input type="checkbox" name="pinned" value="1"{{#if article.pinned}} checked{{/if}}> {{t "admin.articles.pin"}}</label>
<label style="font-weight:400"><input type="checkbox" name="announcement" value="1"{{#if article.announcement}} checked{{/if}}> {{t "admin.articles.announce"}}</label></div>
<p class="hint">{{t "admin.articles.announceHint"}}</p>
<button type="submit">{{t "admin.save"}}</button>{{#if article.id}} <a href="/admin/articles{{#if site}}?site={{site}}{{/if}}">{{t "admin.articles.new"}}</a>{{/if}}</form></section>`);

/** The site the page or form is about: `site=<code>` (404 for an unknown one), else the main shop. */
async function siteOfForm(ctx: ShopContext, code: string): Promise<{ code: string; id: number | null }> {
  if (!code) return { code: '', id: null };
  const site = await siteByCode(ctx.shop, code);
  if (!site) throw errors.notFound();
  return { code: site.code, id: site.id };
}

const fromForm = (f: Form) => ({
  title: one(f.title),
  body: one(f.body),
  format: (one(f.format) || 'text') as ArticleView['format'],
  published: one(f.published) === '1',
  pinned: one(f.pinned) === '1',
  announcement: one(f.announcement) === '1',
});

async function render(ctx: ShopContext, failure?: ShopError) {
  const f = failure ? formOf(ctx) : undefined;
  const site = await siteOfForm(ctx, f ? one(f.site) : typeof ctx.query.site === 'string' ? ctx.query.site.trim() : '');
  const id = Number((ctx as ShopContext & { params: Record<string, string> }).params?.id) || null;
  const article: Partial<ArticleView> = f ? { id: id ?? undefined, ...fromForm(f) } : id ? await getArticle(ctx.shop, site.id, id, { drafts: true }) : { format: 'text' };
  const body = page({
    ...consoleData(ctx),
    saved: ctx.query.saved === '1',
    error: failure && failureText(ctx, failure),
    site: site.code,
    list: await listArticles(ctx.shop, site.id, { drafts: true, pageSize: 100 }),
    article,
  });
  renderConsole(ctx, { title: translate(ctx.state.locale, 'admin.articles.page'), body, status: failure?.status });
}

const back = (site: string) => `/admin/articles?${site ? `site=${encodeURIComponent(site)}&` : ''}saved=1`;

export function adminArticles(): ShopRouter {
  const r = consoleRouter();
  r.get('/articles', (ctx) => render(ctx));
  r.get('/articles/:id', (ctx) => render(ctx));
  consolePost(r, '/articles', render, async (ctx, f) => {
    const site = await siteOfForm(ctx, one(f.site));
    await saveArticle(ctx.shop, site.id, null, fromForm(f), actorOf(ctx));
    return back(site.code);
  });
  consolePost(r, '/articles/:id', render, async (ctx, f) => {
    const site = await siteOfForm(ctx, one(f.site));
    await saveArticle(ctx.shop, site.id, idParam(ctx), fromForm(f), actorOf(ctx));
    return back(site.code);
  });
  consolePost(r, '/articles/:id/delete', render, async (ctx, f) => {
    const site = await siteOfForm(ctx, one(f.site));
    await deleteArticle(ctx.shop, site.id, idParam(ctx), actorOf(ctx));
    return back(site.code);
  });
  return r;
}

/** `/api/admin/articles[?site=code]`: list (drafts too), `POST` `{ site?, …article }`, `PUT|DELETE /:id[?site=code]`. */
export function adminArticlesApi(): ShopRouter {
  const r = adminJsonRouter('/api/admin/articles');
  const site = (ctx: ShopContext) => siteOfForm(ctx, typeof ctx.query.site === 'string' ? ctx.query.site : '');
  const actor = (ctx: ShopContext) => ({ id: ctx.state.user!.id, ip: ctx.ip });
  r.get('/', async (ctx) => {
    ctx.body = await listArticles(ctx.shop, (await site(ctx)).id, { drafts: true, page: Number(ctx.query.page) || 1 });
  });
  r.post('/', async (ctx) => {
    ctx.status = 201;
    ctx.body = { article: await saveArticle(ctx.shop, (await site(ctx)).id, null, ctx.request.body ?? {}, actor(ctx)) };
  });
  r.put('/:id', async (ctx) => {
    ctx.body = { article: await saveArticle(ctx.shop, (await site(ctx)).id, idParam(ctx), ctx.request.body ?? {}, actor(ctx)) };
  });
  r.delete('/:id', async (ctx) => {
    await deleteArticle(ctx.shop, (await site(ctx)).id, idParam(ctx), actor(ctx));
    ctx.status = 204;
  });
  return r;
}
