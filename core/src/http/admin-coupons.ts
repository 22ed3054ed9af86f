import { createCoupon, generateCoupons, listCoupons, setCouponActive, type CouponView, type Issuer } from '../coupons/coupons.js';
import type { Deps } from '../context.js';
import { errors, ShopError } from '../errors.js';
import { translate } from '../i18n/messages.js';
import { toShopError } from './errors.js';
import { consolePost, failureText, formOf, idParam, instantOf, one, whole, yuan, type Form } from './admin-forms.js';
import { consoleData, consoleRouter, consoleTemplate, renderConsole } from './admin-layout.js';
import { adminJsonRouter } from './admin-api.js';
import type { ShopContext, ShopRouter } from './context.js';
import { checkCsrf } from './session.js';

/**
 * The shop's coupons in the console (`/admin/coupons`: list, create, generate a batch of codes, turn
 * off and on) and as JSON under /api/admin/coupons. An agent's own are at /api/store/agent/coupons.
 */

const page = consoleTemplate(`{{#if saved}}<p class="notice" role="status">{{t "admin.saved"}}</p>{{/if}}
{{#if error}}<p class="notice bad" role="alert">{{error}}</p>{{/if}}
{{#if generated}}<section aria-labelledby="gen-h"><h2 id="gen-h">{{t "admin.coupons.generated" count=generated.codes.length}}</h2>
<textarea readonly rows="8" data-codes>{{#each generated.codes}}{{this}}
{{/each}}</textarea></section>{{/if}}
<section aria-labelledby="list-h"><h2 id="list-h">{{t "admin.coupons.list"}}</h2>
<table><thead><tr><th>{{t "admin.coupons.code"}}</th><th>{{t "admin.coupons.value"}}</th><th>{{t "admin.coupons.scope"}}</th><th>{{t "admin.coupons.minAmount"}}</th><th>{{t "admin.coupons.used"}}</th><th>{{t "admin.coupons.perBuyer"}}</th><th>{{t "admin.coupons.window"}}</th><th>{{t "admin.catalog.state"}}</th></tr></thead><tbody>
{{#each coupons}}<tr data-coupon="{{code}}"><td><code>{{code}}</code>{{#if batch}}<br><small>{{batch}}</small>{{/if}}</td>
<td>{{#if (eq kind "percent")}}{{value}}%{{else}}{{money value}}{{/if}}</td>
<td>{{#if (eq scope "order")}}{{t "admin.coupons.scopeOrder"}}{{else if (eq scope "category")}}{{t "admin.coupons.scopeCategory"}} {{target}}{{else}}SKU <code>{{target}}</code>{{/if}}</td>
<td>{{#if minAmount}}{{money minAmount}}{{/if}}</td>
<td>{{used}}{{#if maxUses}} / {{maxUses}}{{/if}}</td><td>{{perBuyer}}</td>
<td>{{#if startsAt}}{{date startsAt}}{{/if}} – {{#if endsAt}}{{date endsAt}}{{/if}}</td>
<td><form method="post" action="/admin/coupons/{{id}}/active"><input type="hidden" name="_csrf" value="{{@root.csrf}}">{{#if active}}<span class="ok-cell">{{t "admin.coupons.on"}}</span> <input type="hidden" name="active" value="0"><button class="small" type="submit">{{t "admin.coupons.disable"}}</button>{{else}}{{t "admin.coupons.off"}} <input type="hidden" name="active" value="1"><button class="small" type="submit">{{t "admin.coupons.enable"}}</button>{{/if}}</form></td></tr>
{{else}}<tr><td colspan="8">{{t "admin.none"}}</td></tr>{{/each}}</tbody></table></section>
{{#*inline "rules"}}
<label for="{{p}}-kind">{{t "admin.coupons.kind"}}</label><select id="{{p}}-kind" name="kind"><option value="percent"{{#if (eq f.kind "percent")}} selected{{/if}}>{{t "admin.coupons.percent"}}</option><option value="fixed"{{#if (eq f.kind "fixed")}} selected{{/if}}>{{t "admin.coupons.fixed"}}</option></select>
<label for="{{p}}-value">{{t "admin.coupons.value"}}</label><input id="{{p}}-value" name="value" value="{{f.value}}" required inputmode="decimal"><p class="hint">{{t "admin.coupons.valueHint"}}</p>
<label for="{{p}}-scope">{{t "admin.coupons.scope"}}</label><select id="{{p}}-scope" name="scope"><option value="order">{{t "admin.coupons.scopeOrder"}}</option><option value="category"{{#if (eq f.scope "category")}} selected{{/if}}>{{t "admin.coupons.scopeCategory"}}</option><option value="sku"{{#if (eq f.scope "sku")}} selected{{/if}}>SKU</option></select>
<label for="{{p}}-category">{{t "admin.coupons.category"}}</label><select id="{{p}}-category" name="category"><option value=""></option>{{#each categories}}<option value="{{id}}">{{name}}</option>{{/each}}</select>
<label for="{{p}}-sku">{{t "admin.coupons.sku"}}</label><input id="{{p}}-sku" name="sku" value="{{f.sku}}" maxlength="64">
<label for="{{p}}-min">{{t "admin.coupons.minAmount"}}</label><input id="{{p}}-min" name="minAmount" value="{{f.minAmount}}" inputmode="decimal" placeholder="0.00">
<label for="{{p}}-max">{{t "admin.coupons.maxUses"}}</label><input id="{{p}}-max" name="maxUses" value="{{f.maxUses}}" inputmode="numeric">
<label for="{{p}}-per">{{t "admin.coupons.perBuyer"}}</label><input id="{{p}}-per" name="perBuyer" value="{{f.perBuyer}}" inputmode="numeric">
<label for="{{p}}-from">{{t "admin.coupons.startsAt"}}</label><input id="{{p}}-from" name="startsAt" type="datetime-local" value="{{f.startsAt}}">
<label for="{{p}}-until">{{t "admin.coupons.endsAt"}}</label><input id="{{p}}-until" name="endsAt" type="datetime-local" value="{{f.endsAt}}">
<p class="hint">{{t "admin.coupons.limitsHint"}}</p>
{{/inline}}
<div class="cols">
<section aria-labelledby="new-h"><h2 id="new-h">{{t "admin.coupons.new"}}</h2>
<form method="post" action="/admin/coupons"><input type="hidden" name="_csrf" value="{{csrf}}">
<label for="n-code">{{t "admin.coupons.code"}}</label><input id="n-code" name="code" value="{{single.code}}" required maxlength="32" autocapitalize="characters">
{{> rules p="n" f=single categories=categories}}
<button type="submit">{{t "admin.coupons.create"}}</button></form></section>
<section aria-labelledby="batch-h"><h2 id="batch-h">{{t "admin.coupons.batch"}}</h2>
<form method="post" action="/admin/coupons/batch"><input type="hidden" name="_csrf" value="{{csrf}}">
<label for="b-count">{{t "admin.coupons.count"}}</label><input id="b-count" name="count" value="{{batch.count}}" required inputmode="numeric">
<label for="b-prefix">{{t "admin.coupons.prefix"}}</label><input id="b-prefix" name="prefix" value="{{batch.prefix}}" maxlength="8">
{{> rules p="b" f=batch categories=categories}}
<button type="submit">{{t "admin.coupons.generate"}}</button></form></section>
</div>`);

/** The rules of a coupon form (the console's, the agent centre's): money in yuan, a SKU by its code (an unknown one is refused as the scope's target). */
export async function couponRulesOf(deps: Deps, f: Form) {
  const kind = one(f.kind);
  const scope = one(f.scope) || 'order';
  const sku = scope === 'sku' && one(f.sku) ? await deps.db.read('skus').where('code', one(f.sku).trim()).first('id') : undefined;
  return {
    kind,
    value: kind === 'fixed' ? yuan(f.value) : whole(f.value),
    scope,
    scopeId: scope === 'category' ? (whole(f.category) ?? null) : scope === 'sku' ? (one(f.sku) ? (sku ? Number(sku.id) : -1) : null) : null,
    minAmount: one(f.minAmount) ? yuan(f.minAmount) : 0,
    maxUses: whole(f.maxUses) ?? null,
    perBuyer: whole(f.perBuyer) ?? null,
    startsAt: instantOf(one(f.startsAt)),
    endsAt: instantOf(one(f.endsAt)),
  };
}

const issuer = (ctx: ShopContext) => ({ actorId: ctx.state.user!.id, agentId: null, ip: ctx.ip });

/** Where a coupon applies, for the list: a category's name or a SKU's code. */
async function targets(deps: Deps, coupons: CouponView[]) {
  const ids = (scope: string) => [...new Set(coupons.filter((c) => c.scope === scope).map((c) => c.scopeId!))];
  const [cats, skus] = await Promise.all([
    ids('category').length ? deps.db.read('categories').whereIn('id', ids('category')).select('id', 'name') : [],
    ids('sku').length ? deps.db.read('skus').whereIn('id', ids('sku')).select('id', 'code') : [],
  ]);
  const names = new Map<string, string>([...cats.map((c: { id: number; name: string }) => [`category:${c.id}`, c.name] as const), ...skus.map((s: { id: number; code: string }) => [`sku:${s.id}`, s.code] as const)]);
  return coupons.map((c) => ({ ...c, target: names.get(`${c.scope}:${c.scopeId}`) ?? c.scopeId }));
}

/** The console names fields for the catalog's forms, where `code` is a SKU's: here it is the coupon's. */
const couponFields = (e: ShopError) =>
  e.fields?.code ? new ShopError(e.code, e.status, e.messageKey, Object.fromEntries(Object.entries(e.fields).map(([k, v]) => [k === 'code' ? 'couponCode' : k, v])), e.params) : e;

async function render(ctx: ShopContext, failure?: ShopError, generated?: { batch: string; codes: string[] }) {
  const f = failure ? formOf(ctx) : {};
  const batchForm = failure && ctx.path.endsWith('/batch');
  const coupons = await listCoupons(ctx.shop, null);
  const body = page({
    ...consoleData(ctx),
    saved: ctx.query.saved === '1',
    error: failure && failureText(ctx, couponFields(failure)),
    generated,
    coupons: await targets(ctx.shop, coupons),
    categories: await ctx.shop.db.read('categories').orderBy('id').select('id', 'name'),
    single: failure && !batchForm ? f : { kind: 'percent' },
    batch: batchForm ? f : { kind: 'fixed', count: '10', maxUses: '1' },
  });
  renderConsole(ctx, { title: translate(ctx.state.locale, 'admin.coupons.page'), body, status: failure?.status });
}

export function adminCoupons(): ShopRouter {
  const r = consoleRouter();
  r.get('/coupons', (ctx) => render(ctx));
  consolePost(r, '/coupons', render, async (ctx, f) => {
    await createCoupon(ctx.shop, issuer(ctx), { code: one(f.code), ...(await couponRulesOf(ctx.shop, f)) });
    return '/admin/coupons?saved=1';
  });
  // The codes are shown once, on the page that made them (and listed below it from then on).
  r.post('/coupons/batch', async (ctx) => {
    checkCsrf(ctx);
    const f = formOf(ctx);
    try {
      const made = await generateCoupons(ctx.shop, issuer(ctx), { count: whole(f.count) ?? NaN, prefix: one(f.prefix), ...(await couponRulesOf(ctx.shop, f)) });
      await render(ctx, undefined, made);
    } catch (err) {
      const e = toShopError(err);
      if (e.status >= 500) throw err;
      await render(ctx, e);
    }
  });
  consolePost(r, '/coupons/:id/active', render, async (ctx, f) => {
    await setCouponActive(ctx.shop, issuer(ctx), idParam(ctx), one(f.active) === '1');
    return '/admin/coupons?saved=1';
  });
  return r;
}

const body = (ctx: ShopContext) => (ctx.request.body ?? {}) as Record<string, unknown>;

/** `{ active: boolean }`, the body that turns a coupon on or off. */
function activeOf(b: Record<string, unknown>): boolean {
  if (typeof b.active !== 'boolean') throw errors.validation({ active: 'field.required' });
  return b.active;
}

/**
 * The coupon JSON routes under `prefix` of `r`: list, `POST` one, `POST /batch` N random codes,
 * `PUT /:id/active { active }`, each for the coupons of `issuerOf(ctx)` (the shop's or an agent's).
 */
export function couponJsonRoutes(r: ShopRouter, prefix: string, issuerOf: (ctx: ShopContext) => Issuer): void {
  const list = prefix || '/';
  r.get(list, async (ctx) => {
    ctx.body = { coupons: await listCoupons(ctx.shop, issuerOf(ctx).agentId) };
  });
  r.post(list, async (ctx) => {
    ctx.status = 201;
    ctx.body = { coupon: await createCoupon(ctx.shop, issuerOf(ctx), body(ctx)) };
  });
  r.post(`${prefix}/batch`, async (ctx) => {
    ctx.status = 201;
    ctx.body = await generateCoupons(ctx.shop, issuerOf(ctx), body(ctx));
  });
  r.put(`${prefix}/:id/active`, async (ctx) => {
    ctx.body = { coupon: await setCouponActive(ctx.shop, issuerOf(ctx), Number(ctx.params.id) || 0, activeOf(body(ctx))) };
  });
}

/** `/api/admin/coupons`: the shop's coupons. */
export function adminCouponsApi(): ShopRouter {
  const r = adminJsonRouter('/api/admin/coupons');
  couponJsonRoutes(r, '', issuer);
  return r;
}
