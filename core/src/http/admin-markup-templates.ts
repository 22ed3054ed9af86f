import { catalogTree } from '../catalog/catalog.js';
import type { ShopError } from '../errors.js';
import { translate } from '../i18n/messages.js';
import { toDecimalString } from '../money/money.js';
import { listLevels } from '../pricing/levels.js';
import {
  applyTemplate,
  deleteTemplate,
  detachSkus,
  getTemplate,
  listTemplates,
  previewTemplate,
  ROUND_MODES,
  ROUND_STEPS,
  saveTemplate,
  type MarkupRule,
  type MarkupTemplate,
  type TemplateInput,
} from '../pricing/templates.js';
import { adminJsonRouter } from './admin-api.js';
import { actorOf, consolePost, failureText, formOf, idParam, one, percentBp, yuan, type Form } from './admin-forms.js';
import { consoleData, consoleRouter, consoleTemplate, renderConsole } from './admin-layout.js';
import type { ShopContext, ShopRouter } from './context.js';

/**
 * The console's markup templates (pricing/templates.ts): write one, preview it on a category
 * (each SKU's price per level now and after), apply it, delete it. JSON twins under
 * /api/admin/markup-templates.
 */

const ruleRow = `<td><select name="{{key}}_kind" aria-label="{{t "admin.templates.kind"}}"><option value="">–</option><option value="percent"{{#if (eq kind "percent")}} selected{{/if}}>{{t "admin.templates.percent"}}</option><option value="fixed"{{#if (eq kind "fixed")}} selected{{/if}}>{{t "admin.templates.fixed"}}</option></select></td>
<td><input type="text" name="{{key}}_value" value="{{shown}}" inputmode="decimal" aria-label="{{t "admin.templates.value"}}" style="max-width:120px"></td>`;

const page = consoleTemplate(`{{#if saved}}<p class="notice" role="status">{{t "admin.saved"}}</p>{{/if}}
{{#if applied}}<p class="notice" role="status" data-applied>{{t "admin.templates.applied" n=applied}}</p>{{/if}}
{{#if deleted}}<p class="notice" role="status">{{t "admin.templates.deleted"}}</p>{{/if}}
{{#if error}}<p class="notice bad" role="alert">{{error}}</p>{{/if}}
<p class="hint">{{t "admin.templates.hint"}}</p>
<section aria-labelledby="l-h"><h2 id="l-h">{{t "admin.templates.list"}}</h2>
<table><thead><tr><th>{{t "admin.templates.name"}}</th><th>{{t "admin.templates.skus"}}</th></tr></thead><tbody>
{{#each templates}}<tr data-template="{{id}}"><td><a href="/admin/markup-templates/{{id}}">{{name}}</a></td><td>{{skus}}</td></tr>{{else}}<tr><td colspan="2">{{t "admin.none"}}</td></tr>{{/each}}
</tbody></table>{{#if form.id}}<p><a href="/admin/markup-templates">{{t "admin.templates.new"}}</a></p>{{/if}}</section>
<section aria-labelledby="f-h"><h2 id="f-h">{{#if form.id}}{{t "admin.templates.edit"}}{{else}}{{t "admin.templates.new"}}{{/if}}</h2>
<form method="post" action="/admin/markup-templates{{#if form.id}}/{{form.id}}{{/if}}"><input type="hidden" name="_csrf" value="{{csrf}}">
<label for="t-name">{{t "admin.templates.name"}}</label><input id="t-name" type="text" name="name" value="{{form.name}}" required maxlength="80">
<h3>{{t "admin.templates.rules"}}</h3>
<table><thead><tr><th>{{t "admin.templates.level"}}</th><th>{{t "admin.templates.kind"}}</th><th>{{t "admin.templates.value"}}</th></tr></thead><tbody>
{{#each form.rows}}<tr data-rule="{{key}}"><td>{{label}}</td>${ruleRow}</tr>{{/each}}
</tbody></table>
<h3>{{t "admin.templates.rounding"}}</h3>
<div class="row"><label for="t-step" style="margin:0">{{t "admin.templates.step"}}</label><select id="t-step" name="step">{{#each steps}}<option value="{{this}}"{{#if (eq this @root.form.step)}} selected{{/if}}>{{t (concat "admin.templates.step." this)}}</option>{{/each}}</select>
<label for="t-ending" style="margin:0">{{t "admin.templates.ending"}}</label><input id="t-ending" type="text" name="ending" value="{{form.ending}}" inputmode="decimal" style="max-width:90px">
<label for="t-mode" style="margin:0">{{t "admin.templates.mode"}}</label><select id="t-mode" name="mode">{{#each modes}}<option value="{{this}}"{{#if (eq this @root.form.mode)}} selected{{/if}}>{{t (concat "admin.templates.mode." this)}}</option>{{/each}}</select></div>
<p class="hint">{{t "admin.templates.endingHint"}}</p>
<button type="submit">{{t "admin.save"}}</button></form>
{{#if form.id}}<form method="post" action="/admin/markup-templates/{{form.id}}/delete"><input type="hidden" name="_csrf" value="{{csrf}}"><button class="small" type="submit">{{t "admin.templates.delete"}}</button></form>{{/if}}</section>
{{#if form.id}}<section aria-labelledby="p-h"><h2 id="p-h">{{t "admin.templates.preview"}}</h2><p class="hint">{{t "admin.templates.applyHint"}}</p>
<form method="get" action="/admin/markup-templates/{{form.id}}" class="row"><label for="p-cat" style="margin:0">{{t "admin.templates.category"}}</label>
<select id="p-cat" name="preview">{{#each categories}}<option value="{{id}}"{{#if (eq id @root.previewId)}} selected{{/if}}>{{name}}</option>{{/each}}</select><button class="small" type="submit">{{t "admin.templates.preview"}}</button></form>
{{#if preview}}<h3>{{t "admin.templates.previewOf" name=form.name category=preview.category}}</h3>
<table data-preview><thead><tr><th>SKU</th><th>{{t "admin.templates.cost"}}</th><th>{{t "admin.templates.retail"}}</th>{{#each levels}}<th>{{name}}</th>{{/each}}</tr></thead><tbody>
{{#each preview.rows}}<tr data-sku="{{code}}"><td><code>{{code}}</code></td><td>{{#if cost}}{{money cost}}{{else}}<span class="hint">{{t "admin.templates.noCost"}}</span>{{/if}}</td>
<td>{{money retail.now}} → <strong>{{money retail.then}}</strong></td>{{#each levels}}<td data-level="{{level}}">{{money now}} → <strong>{{money then}}</strong></td>{{/each}}</tr>{{else}}<tr><td colspan="3">{{t "admin.none"}}</td></tr>{{/each}}
</tbody></table>
<form method="post" action="/admin/markup-templates/{{form.id}}/apply"><input type="hidden" name="_csrf" value="{{csrf}}"><input type="hidden" name="category" value="{{previewId}}"><button type="submit">{{t "admin.templates.apply"}}</button></form>{{/if}}</section>{{/if}}`);

/** A rule as the form shows it: percents as percents, amounts in yuan. */
const shownRule = (r: MarkupRule | null | undefined) => (r ? { kind: r.kind, shown: r.kind === 'percent' ? String(r.value / 100) : toDecimalString(r.value) } : { kind: '', shown: '' });

function ruleOf(f: Form, key: string): MarkupRule | null {
  const kind = one(f[`${key}_kind`]);
  if (!kind || one(f[`${key}_value`]) === '') return null;
  return { kind: kind as MarkupRule['kind'], value: kind === 'percent' ? percentBp(f[`${key}_value`]) : yuan(f[`${key}_value`]) };
}

/** The form as a template's input (levels by code; `lv_<code>` rows). */
function inputOf(f: Form, levelCodes: string[]): TemplateInput {
  const levels: Record<string, MarkupRule> = {};
  for (const code of levelCodes) {
    const rule = ruleOf(f, `lv_${code}`);
    if (rule) levels[code] = rule;
  }
  return { name: one(f.name), retail: ruleOf(f, 'retail'), levels, rounding: { step: Number(one(f.step)) || 1, ending: one(f.ending) ? yuan(f.ending) : 0, mode: (one(f.mode) || 'up') as 'up' } };
}

async function render(ctx: ShopContext, failure?: ShopError) {
  const id = Number((ctx as ShopContext & { params: Record<string, string> }).params?.id) || null;
  const [templates, levels, categories] = await Promise.all([listTemplates(ctx.shop), listLevels(ctx.shop), catalogTree(ctx.shop)]);
  const saved: Partial<MarkupTemplate> = id ? await getTemplate(ctx.shop, id) : {};
  // A refused form comes back as it was typed.
  const typed = failure ? inputOf(formOf(ctx), levels.map((l) => l.code)) : undefined;
  const t = typed ?? saved;
  const previewId = Number(ctx.query.preview) || null;
  const rows = [
    { key: 'retail', label: translate(ctx.state.locale, 'admin.templates.retail'), ...shownRule(t.retail) },
    ...levels.map((l) => ({ key: `lv_${l.code}`, label: `${l.name} (${l.code})`, ...shownRule(t.levels?.[l.code]) })),
  ];
  const body = page({
    ...consoleData(ctx),
    saved: ctx.query.saved === '1',
    applied: Number(ctx.query.applied) || (ctx.query.applied === '0' ? '0' : null),
    deleted: ctx.query.deleted === '1',
    error: failure && failureText(ctx, failure),
    templates,
    levels,
    categories,
    steps: ROUND_STEPS,
    modes: ROUND_MODES,
    previewId,
    preview: id && previewId && saved.name ? await previewTemplate(ctx.shop, { name: saved.name, retail: saved.retail, levels: saved.levels, rounding: saved.rounding }, previewId) : null,
    form: { id, name: t.name ?? '', rows, step: t.rounding?.step ?? 1, ending: toDecimalString(t.rounding?.ending ?? 0), mode: t.rounding?.mode ?? 'up' },
  });
  renderConsole(ctx, { title: translate(ctx.state.locale, 'admin.templates.page'), body, status: failure?.status });
}

const levelCodes = async (ctx: ShopContext) => (await listLevels(ctx.shop)).map((l) => l.code);

export function adminMarkupTemplates(): ShopRouter {
  const r = consoleRouter();
  r.get('/markup-templates', (ctx) => render(ctx));
  r.get('/markup-templates/:id', (ctx) => render(ctx));
  consolePost(r, '/markup-templates', render, async (ctx, f) => `/admin/markup-templates/${(await saveTemplate(ctx.shop, null, inputOf(f, await levelCodes(ctx)), actorOf(ctx))).id}?saved=1`);
  consolePost(r, '/markup-templates/:id', render, async (ctx, f) => {
    const id = idParam(ctx);
    await saveTemplate(ctx.shop, id, inputOf(f, await levelCodes(ctx)), actorOf(ctx));
    return `/admin/markup-templates/${id}?saved=1`;
  });
  consolePost(r, '/markup-templates/:id/apply', render, async (ctx, f) => {
    const id = idParam(ctx);
    const changes = await applyTemplate(ctx.shop, id, { category: Number(one(f.category)) || one(f.category) }, actorOf(ctx));
    return `/admin/markup-templates/${id}?preview=${encodeURIComponent(one(f.category))}&applied=${changes.length}`;
  });
  consolePost(r, '/markup-templates/:id/delete', render, async (ctx) => {
    await deleteTemplate(ctx.shop, idParam(ctx), actorOf(ctx));
    return '/admin/markup-templates?deleted=1';
  });
  return r;
}

type Body = { template?: unknown; id?: unknown; category?: unknown; skus?: unknown };
const target = (b: Body) => ({ category: typeof b.category === 'string' || typeof b.category === 'number' ? b.category : undefined, skus: Array.isArray(b.skus) ? (b.skus as string[]) : undefined });

export function adminMarkupTemplatesApi(): ShopRouter {
  const r = adminJsonRouter('/api/admin/markup-templates');
  const body = (ctx: ShopContext) => (ctx.request.body ?? {}) as Body;
  const actor = (ctx: ShopContext) => ({ id: ctx.state.user!.id, ip: ctx.ip });
  r.get('/', async (ctx) => {
    ctx.body = { templates: await listTemplates(ctx.shop) };
  });
  r.post('/', async (ctx) => {
    ctx.status = 201;
    ctx.body = { template: await saveTemplate(ctx.shop, null, ctx.request.body ?? {}, actor(ctx)) };
  });
  // `{ template: {…} | id, category }`: each SKU's price per level now and under the template; nothing is written.
  r.post('/preview', async (ctx) => {
    const b = body(ctx);
    const template = typeof b.id === 'number' ? await getTemplate(ctx.shop, b.id) : b.template;
    const t = template as MarkupTemplate;
    const input = typeof b.id === 'number' ? { name: t.name, retail: t.retail, levels: t.levels, rounding: t.rounding } : (template ?? {});
    ctx.body = await previewTemplate(ctx.shop, input, target(b).category ?? '');
  });
  // SKUs (by code) out of their templates.
  r.post('/detach', async (ctx) => {
    ctx.body = { repriced: await detachSkus(ctx.shop, target(body(ctx)).skus ?? [], actor(ctx)) };
  });
  r.put('/:id', async (ctx) => {
    ctx.body = { template: await saveTemplate(ctx.shop, idParam(ctx), ctx.request.body ?? {}, actor(ctx)) };
  });
  r.delete('/:id', async (ctx) => {
    await deleteTemplate(ctx.shop, idParam(ctx), actor(ctx));
    ctx.status = 204;
  });
  // `{ category }` (id or slug) or `{ skus: [codes] }`.
  r.post('/:id/apply', async (ctx) => {
    ctx.body = { repriced: await applyTemplate(ctx.shop, idParam(ctx), target(body(ctx)), actor(ctx)) };
  });
  return r;
}
