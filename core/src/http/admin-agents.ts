import { approveSiteHost, listSites, setSiteDisabled } from '../agents/sites.js';
import { moveUser } from '../agents/tree.js';
import { errors, type ShopError } from '../errors.js';
import { translate } from '../i18n/messages.js';
import { toDecimalString } from '../money/money.js';
import { assignLevel, listLevels, listOverrides, saveLevel, setOverride, setSkuPricing } from '../pricing/levels.js';
import { pricingSnapshot } from '../pricing/pricing.js';
import { listTiers, setTier } from '../pricing/rebates.js';
import { consoleData, consoleRouter, consoleTemplate, renderConsole } from './admin-layout.js';
import { actorOf, consolePost, failureText, idParam, one, percentBp, yuan, type Form } from './admin-forms.js';
import type { ShopContext, ShopRouter } from './context.js';
import { checkCsrf } from './session.js';
import { decideWithdrawal, listWithdrawals, payeeOf } from '../wallet/withdrawals.js';
import { pageNumber } from '../db/paging.js';

/**
 * The console's agent pages: levels with their price rules, per-level overrides, rebate brackets
 * and SKU price protection (/admin/levels); the user tree with moves and levels (/admin/agents);
 * sub-shops (/admin/sites); withdrawals to pay out or refuse (/admin/withdrawals). Forms post to the same domain functions as /api/admin.
 */

/** An amount left empty is "none" (null); otherwise yuan as minor units, NaN (refused) when not one. */
const optionalYuan = (v: Form[string]) => (one(v) === '' ? null : yuan(v));
const ruleValue = (kind: string, v: Form[string]) => (kind === 'cost_plus_fixed' || kind === 'fixed' ? yuan(v) : percentBp(v));
const showRule = (kind: string, value: number) => (kind === 'cost_plus_fixed' || kind === 'fixed' ? toDecimalString(value) : String(value / 100));

const ruleOptions = `<option value="retail_percent"{{#if (eq kind "retail_percent")}} selected{{/if}}>{{t "admin.rule.retail_percent"}}</option>
<option value="cost_plus_percent"{{#if (eq kind "cost_plus_percent")}} selected{{/if}}>{{t "admin.rule.cost_plus_percent"}}</option>
<option value="cost_plus_fixed"{{#if (eq kind "cost_plus_fixed")}} selected{{/if}}>{{t "admin.rule.cost_plus_fixed"}}</option>`;

const levelsPage = consoleTemplate(`
{{#if saved}}<p class="notice" role="status">{{t "admin.saved"}}</p>{{/if}}
{{#if error}}<p class="notice bad" role="alert">{{error}}</p>{{/if}}
<section aria-labelledby="levels-h"><h2 id="levels-h">{{t "admin.levels.title"}}</h2>
<p class="hint">{{t "admin.levels.hint"}}</p>
<table><thead><tr><th>{{t "admin.levels.code"}}</th><th>{{t "admin.levels.name"}}</th><th>{{t "admin.levels.rank"}}</th><th>{{t "admin.levels.rule"}}</th><th>{{t "admin.levels.value"}}</th><th>{{t "admin.levels.spend"}}</th><th>{{t "admin.levels.price"}}</th><th></th></tr></thead><tbody>
{{#each levels}}<tr><td colspan="8"><form method="post" action="/admin/levels" class="row">
<input type="hidden" name="_csrf" value="{{@root.csrf}}"><input type="hidden" name="code" value="{{code}}"><code>{{code}}</code>
<input type="text" name="name" value="{{name}}" aria-label="{{t "admin.levels.name"}}" style="max-width:140px">
<input type="number" name="rank" value="{{rank}}" aria-label="{{t "admin.levels.rank"}}" style="max-width:80px">
<select name="ruleKind" aria-label="{{t "admin.levels.rule"}}" style="max-width:200px">${ruleOptions}</select>
<input type="text" name="ruleValue" value="{{shown}}" aria-label="{{t "admin.levels.value"}}" style="max-width:90px">
<input type="text" name="upgradeSpend" value="{{spend}}" aria-label="{{t "admin.levels.spend"}}" placeholder="{{t "admin.levels.none"}}" style="max-width:110px">
<input type="text" name="upgradePrice" value="{{price}}" aria-label="{{t "admin.levels.price"}}" placeholder="{{t "admin.levels.none"}}" style="max-width:110px">
<button class="small" type="submit">{{t "admin.save"}}</button></form></td></tr>{{/each}}
</tbody></table>
<h3>{{t "admin.levels.add"}}</h3>
<form method="post" action="/admin/levels" class="row"><input type="hidden" name="_csrf" value="{{csrf}}">
<input type="text" name="code" required placeholder="{{t "admin.levels.code"}}" style="max-width:120px">
<input type="text" name="name" required placeholder="{{t "admin.levels.name"}}" style="max-width:140px">
<input type="number" name="rank" required placeholder="{{t "admin.levels.rank"}}" style="max-width:80px">
<select name="ruleKind" style="max-width:200px">{{#with newRule}}${ruleOptions}{{/with}}</select>
<input type="text" name="ruleValue" required placeholder="{{t "admin.levels.value"}}" style="max-width:90px">
<input type="text" name="upgradeSpend" placeholder="{{t "admin.levels.spend"}}" style="max-width:110px">
<input type="text" name="upgradePrice" placeholder="{{t "admin.levels.price"}}" style="max-width:110px">
<button class="small" type="submit">{{t "admin.add"}}</button></form>
</section>

<section aria-labelledby="ov-h"><h2 id="ov-h">{{t "admin.overrides.title"}}</h2>
<p class="hint">{{t "admin.overrides.hint"}}</p>
<table><thead><tr><th>{{t "admin.levels.code"}}</th><th>{{t "admin.overrides.target"}}</th><th>{{t "admin.levels.rule"}}</th><th>{{t "admin.levels.value"}}</th><th></th></tr></thead><tbody>
{{#each overrides}}<tr><td>{{level}}</td><td>{{scope}} <code>{{target}}</code></td><td>{{ruleText}}</td><td>{{shown}}</td>
<td><form method="post" action="/admin/levels/overrides/delete"><input type="hidden" name="_csrf" value="{{@root.csrf}}"><input type="hidden" name="level" value="{{level}}"><input type="hidden" name="scope" value="{{scope}}"><input type="hidden" name="target" value="{{target}}"><button class="small" type="submit">{{t "admin.remove"}}</button></form></td></tr>
{{else}}<tr><td colspan="5">{{t "admin.none"}}</td></tr>{{/each}}
</tbody></table>
<form method="post" action="/admin/levels/overrides" class="row"><input type="hidden" name="_csrf" value="{{csrf}}">
<select name="level" aria-label="{{t "admin.levels.code"}}" style="max-width:140px">{{#each levels}}<option value="{{code}}">{{name}}</option>{{/each}}</select>
<select name="scope" aria-label="{{t "admin.overrides.scope"}}" style="max-width:120px"><option value="sku">SKU</option><option value="category">{{t "admin.overrides.category"}}</option></select>
<input type="text" name="target" required placeholder="{{t "admin.overrides.target"}}" style="max-width:160px">
<select name="ruleKind" aria-label="{{t "admin.levels.rule"}}" style="max-width:200px"><option value="fixed">{{t "admin.rule.fixed"}}</option>{{#with newRule}}${ruleOptions}{{/with}}</select>
<input type="text" name="ruleValue" required placeholder="{{t "admin.levels.value"}}" style="max-width:90px">
<button class="small" type="submit">{{t "admin.add"}}</button></form>
</section>

<section aria-labelledby="prot-h"><h2 id="prot-h">{{t "admin.protection.title"}}</h2>
<p class="hint">{{t "admin.protection.hint"}}</p>
<table><thead><tr><th>SKU</th><th>{{t "admin.protection.retail"}}</th><th>{{t "admin.protection.cost"}}</th><th>{{t "admin.protection.floor"}}</th><th>{{t "admin.protection.ceiling"}}</th></tr></thead><tbody>
{{#each protected}}<tr><td><code>{{code}}</code></td><td>{{money retail}}</td><td>{{money cost}}</td><td>{{money floor}}</td><td>{{money ceiling}}</td></tr>{{else}}<tr><td colspan="5">{{t "admin.none"}}</td></tr>{{/each}}
</tbody></table>
<form method="post" action="/admin/levels/protection" class="row"><input type="hidden" name="_csrf" value="{{csrf}}">
<input type="text" name="sku" required placeholder="SKU" style="max-width:160px">
<input type="text" name="cost" placeholder="{{t "admin.protection.cost"}}" style="max-width:110px">
<input type="text" name="floor" placeholder="{{t "admin.protection.floor"}}" style="max-width:110px">
<input type="text" name="ceiling" placeholder="{{t "admin.protection.ceiling"}}" style="max-width:110px">
<button class="small" type="submit">{{t "admin.save"}}</button></form>
</section>

<section aria-labelledby="tiers-h"><h2 id="tiers-h">{{t "admin.tiers.title"}}</h2>
<p class="hint">{{t "admin.tiers.hint"}}</p>
<table><thead><tr><th>{{t "admin.levels.code"}}</th><th>{{t "admin.tiers.volume"}}</th><th>{{t "admin.tiers.percent"}}</th><th></th></tr></thead><tbody>
{{#each tiers}}<tr><td>{{level}}</td><td>{{money minVolume}}</td><td>{{percent}} %</td>
<td><form method="post" action="/admin/levels/tiers"><input type="hidden" name="_csrf" value="{{@root.csrf}}"><input type="hidden" name="level" value="{{level}}"><input type="hidden" name="minVolume" value="{{volume}}"><button class="small" type="submit">{{t "admin.remove"}}</button></form></td></tr>
{{else}}<tr><td colspan="4">{{t "admin.none"}}</td></tr>{{/each}}
</tbody></table>
<form method="post" action="/admin/levels/tiers" class="row"><input type="hidden" name="_csrf" value="{{csrf}}">
<select name="level" aria-label="{{t "admin.levels.code"}}" style="max-width:140px">{{#each levels}}<option value="{{code}}">{{name}}</option>{{/each}}</select>
<input type="text" name="minVolume" required placeholder="{{t "admin.tiers.volume"}}" style="max-width:140px">
<input type="text" name="percent" required placeholder="{{t "admin.tiers.percent"}}" style="max-width:90px">
<button class="small" type="submit">{{t "admin.add"}}</button></form>
</section>`);

const agentsPage = consoleTemplate(`
{{#if saved}}<p class="notice" role="status">{{t "admin.saved"}}</p>{{/if}}
{{#if error}}<p class="notice bad" role="alert">{{error}}</p>{{/if}}
<section>
<form method="get" action="/admin/agents" class="row"><label for="q" class="hint">{{t "admin.agents.search"}}</label>
<input id="q" type="text" name="q" value="{{q}}" style="max-width:260px"><button class="small" type="submit">{{t "admin.agents.find"}}</button></form>
{{#if parent}}<p>{{t "admin.agents.below" email=parent.email}} · <a href="/admin/agents{{#if parent.uplineId}}?parent={{parent.uplineId}}{{/if}}">{{t "admin.agents.up"}}</a></p>{{else}}<p class="hint">{{t "admin.agents.top"}}</p>{{/if}}
<table><thead><tr><th>#</th><th>{{t "admin.agents.email"}}</th><th>{{t "admin.agents.role"}}</th><th>{{t "admin.levels.code"}}</th><th>{{t "admin.agents.upline"}}</th><th>{{t "admin.agents.members"}}</th><th>{{t "admin.agents.balance"}}</th><th>{{t "admin.agents.actions"}}</th></tr></thead><tbody>
{{#each users}}<tr><td>{{id}}</td><td><a href="/admin/users/{{id}}">{{email}}</a></td><td>{{role}}</td><td>{{level}}</td><td>{{#if uplineId}}<a href="/admin/agents?parent={{uplineId}}">#{{uplineId}}</a>{{/if}}</td><td>{{#if members}}<a href="/admin/agents?parent={{id}}">{{members}}</a>{{else}}0{{/if}}</td><td>{{money balance}}</td>
<td><form method="post" action="/admin/agents/{{id}}/upline" class="row"><input type="hidden" name="_csrf" value="{{@root.csrf}}"><input type="hidden" name="parent" value="{{@root.parentId}}"><input type="text" name="upline" placeholder="{{t "admin.agents.newUpline"}}" aria-label="{{t "admin.agents.newUpline"}}" style="max-width:120px"><button class="small" type="submit">{{t "admin.agents.move"}}</button></form>
<form method="post" action="/admin/agents/{{id}}/level" class="row"><input type="hidden" name="_csrf" value="{{@root.csrf}}"><input type="hidden" name="parent" value="{{@root.parentId}}"><select name="level" aria-label="{{t "admin.levels.code"}}" style="max-width:140px">{{#each @root.levels}}<option value="{{code}}"{{#if (eq name ../level)}} selected{{/if}}>{{name}}</option>{{/each}}</select><button class="small" type="submit">{{t "admin.agents.setLevel"}}</button></form></td></tr>
{{else}}<tr><td colspan="8">{{t "admin.none"}}</td></tr>{{/each}}
</tbody></table>
<p class="row">{{#if prev}}<a href="?{{#if parentId}}parent={{parentId}}&{{/if}}{{#if q}}q={{q}}&{{/if}}page={{prev}}">{{t "admin.prev"}}</a>{{/if}} {{t "admin.page" page=page pages=pages}} {{#if next}}<a href="?{{#if parentId}}parent={{parentId}}&{{/if}}{{#if q}}q={{q}}&{{/if}}page={{next}}">{{t "admin.next"}}</a>{{/if}}</p>
</section>`);

const sitesPage = consoleTemplate(`
{{#if saved}}<p class="notice" role="status">{{t "admin.saved"}}</p>{{/if}}
<section><table><thead><tr><th>#</th><th>{{t "admin.sites.code"}}</th><th>{{t "admin.sites.name"}}</th><th>{{t "admin.sites.host"}}</th><th>{{t "admin.sites.owner"}}</th><th>{{t "admin.sites.state"}}</th><th></th></tr></thead><tbody>
{{#each sites}}<tr><td>{{id}}</td><td><a href="/s/{{code}}/">{{code}}</a></td><td>{{name}}</td>
<td>{{#if host}}{{host}} {{#if hostApproved}}<span class="ok-cell">{{t "admin.sites.hostApproved"}}</span>{{else}}<span class="bad-cell">{{t "admin.sites.hostWaiting"}}</span>{{/if}}
<form method="post" action="/admin/sites/{{id}}/host"><input type="hidden" name="_csrf" value="{{@root.csrf}}"><input type="hidden" name="approved" value="{{#if hostApproved}}0{{else}}1{{/if}}"><button class="small" type="submit">{{#if hostApproved}}{{t "admin.sites.hostRevoke"}}{{else}}{{t "admin.sites.hostApprove"}}{{/if}}</button></form>{{/if}}</td><td>{{ownerEmail}}</td>
<td>{{#if disabledByAdmin}}<span class="bad-cell">{{t "admin.sites.closedByAdmin"}}</span>{{else if enabled}}<span class="ok-cell">{{t "admin.sites.open"}}</span>{{else}}{{t "admin.sites.closedByAgent"}}{{/if}}</td>
<td><form method="post" action="/admin/sites/{{id}}"><input type="hidden" name="_csrf" value="{{@root.csrf}}"><input type="hidden" name="disabled" value="{{#if disabledByAdmin}}0{{else}}1{{/if}}"><button class="small" type="submit">{{#if disabledByAdmin}}{{t "admin.sites.reopen"}}{{else}}{{t "admin.sites.close"}}{{/if}}</button></form></td></tr>
{{else}}<tr><td colspan="7">{{t "admin.none"}}</td></tr>{{/each}}
</tbody></table>
<p class="row">{{#if prev}}<a href="?page={{prev}}">{{t "admin.prev"}}</a>{{/if}} {{t "admin.page" page=page pages=pages}} {{#if next}}<a href="?page={{next}}">{{t "admin.next"}}</a>{{/if}}</p>
</section>`);

const withdrawalsPage = consoleTemplate(`
{{#if saved}}<p class="notice" role="status">{{t "admin.saved"}}</p>{{/if}}
{{#if error}}<p class="notice bad" role="alert">{{error}}</p>{{/if}}
<p class="row">{{#each tabs}}<a href="?status={{id}}"{{#if active}} aria-current="page"{{/if}}>{{label}}</a> {{/each}}</p>
<section><table><thead><tr><th>#</th><th>{{t "admin.agents.email"}}</th><th>{{t "admin.wd.amount"}}</th><th>{{t "admin.wd.method"}}</th><th>{{t "admin.wd.payee"}}</th><th>{{t "admin.time"}}</th><th>{{t "admin.sites.state"}}</th><th>{{t "admin.agents.actions"}}</th></tr></thead><tbody>
{{#each withdrawals}}<tr data-withdrawal="{{id}}"><td>{{id}}</td><td><a href="/admin/agents?q={{email}}">{{email}}</a></td><td>{{money amount}}</td><td>{{methodText}}</td>
<td>{{#if revealed}}<strong>{{revealed}}</strong>{{else}}{{payee}}{{#if (eq status "pending")}}<form method="post" action="/admin/withdrawals/{{id}}/payee"><input type="hidden" name="_csrf" value="{{@root.csrf}}"><button class="small" type="submit">{{t "admin.wd.reveal"}}</button></form>{{/if}}{{/if}}</td>
<td>{{date createdAt}}</td><td>{{statusText}}{{#if payoutRef}} <code>{{payoutRef}}</code>{{/if}}{{#if reason}} · {{reason}}{{/if}}</td>
<td>{{#if (eq status "pending")}}<form method="post" action="/admin/withdrawals/{{id}}" class="row"><input type="hidden" name="_csrf" value="{{@root.csrf}}"><input type="hidden" name="decision" value="paid"><input type="text" name="payoutRef" required maxlength="100" placeholder="{{t "admin.wd.ref"}}" aria-label="{{t "admin.wd.ref"}}" style="max-width:180px"><button class="small" type="submit">{{t "admin.wd.pay"}}</button></form>
<form method="post" action="/admin/withdrawals/{{id}}" class="row"><input type="hidden" name="_csrf" value="{{@root.csrf}}"><input type="hidden" name="decision" value="rejected"><input type="text" name="reason" required maxlength="255" placeholder="{{t "admin.wd.reason"}}" aria-label="{{t "admin.wd.reason"}}" style="max-width:180px"><button class="small" type="submit">{{t "admin.wd.reject"}}</button></form>{{/if}}</td></tr>
{{else}}<tr><td colspan="8">{{t "admin.none"}}</td></tr>{{/each}}
</tbody></table>
{{#if older}}<p><a href="?status={{status}}&before={{older}}">{{t "admin.next"}}</a></p>{{/if}}
</section>`);

async function renderLevels(ctx: ShopContext, failure?: ShopError) {
  const [levels, overrides, tiers, protectedRows] = await Promise.all([
    listLevels(ctx.shop),
    listOverrides(ctx.shop),
    listTiers(ctx.shop),
    ctx.shop.db.read('skus').where((q) => q.whereNotNull('cost').orWhereNotNull('floor_price').orWhereNotNull('ceiling_price')).orderBy('code').limit(500).select('code', 'price', 'cost', 'floor_price', 'ceiling_price'),
  ]);
  const amount = (v: number | null) => (v === null ? '' : toDecimalString(v));
  const body = levelsPage({
    ...consoleData(ctx),
    saved: ctx.query.saved === '1',
    error: failure && failureText(ctx, failure),
    newRule: { kind: 'retail_percent' },
    levels: levels.map((l) => ({ ...l, kind: l.rule.kind, shown: showRule(l.rule.kind, l.rule.value), spend: amount(l.upgradeSpend), price: amount(l.upgradePrice) })),
    overrides: overrides.map((o) => ({ ...o, shown: showRule(o.ruleKind, o.ruleValue), ruleText: translate(ctx.state.locale, `admin.rule.${o.ruleKind}`) })),
    tiers: tiers.map((t) => ({ ...t, volume: toDecimalString(t.minVolume), percent: t.percentBp / 100 })),
    protected: protectedRows.map((r: Record<string, any>) => ({
      code: r.code,
      retail: Number(r.price),
      ...Object.fromEntries(['cost', 'floor_price', 'ceiling_price'].map((k) => [k.replace('_price', ''), r[k] === null ? null : Number(r[k])])),
    })),
  });
  renderConsole(ctx, { title: translate(ctx.state.locale, 'admin.levels.page'), body, status: failure?.status });
}

const PAGE = 50;

async function renderAgents(ctx: ShopContext, failure?: ShopError) {
  const knex = ctx.shop.db.read;
  const parentId = Number(ctx.query.parent) || null;
  const q = typeof ctx.query.q === 'string' ? ctx.query.q.trim().slice(0, 100) : '';
  const page = pageNumber(ctx.query.page);
  const scope = () => {
    const s = knex('users');
    if (q) s.where('email', 'like', `%${q.replace(/[%_\\]/g, (c) => `\\${c}`)}%`);
    else if (parentId) s.where('upline_id', parentId);
    else s.whereNull('upline_id');
    return s;
  };
  const [rows, count, parent, { levelById, baseLevelId, levels }] = await Promise.all([
    scope().orderBy('id').limit(PAGE).offset((page - 1) * PAGE).select('id', 'email', 'role', 'level_id', 'upline_id'),
    scope().count({ n: '*' }).first(),
    parentId ? knex('users').where('id', parentId).first('email', 'upline_id') : undefined,
    pricingSnapshot(ctx.shop),
  ]);
  const ids = rows.map((r: { id: number }) => r.id);
  const [sizes, balances] = ids.length
    ? await Promise.all([
        knex('users').whereIn('upline_id', ids).groupBy('upline_id').select('upline_id').count({ n: '*' }),
        knex('accounts').whereIn('user_id', ids).where('kind', 'wallet').select('user_id', 'balance'),
      ])
    : [[], []];
  const sizeOf = new Map(sizes.map((r: Record<string, unknown>) => [Number(r.upline_id), Number(r.n)]));
  const balanceOf = new Map(balances.map((r: Record<string, unknown>) => [Number(r.user_id), Number(r.balance)]));
  const pages = Math.max(1, Math.ceil(Number(count?.n ?? 0) / PAGE));
  const body = agentsPage({
    ...consoleData(ctx),
    saved: ctx.query.saved === '1',
    error: failure && failureText(ctx, failure),
    q,
    parentId,
    parent: parent && { email: parent.email, uplineId: parent.upline_id },
    levels: levels.map((l) => ({ code: l.code, name: l.name })),
    users: rows.map((r: Record<string, any>) => ({
      id: r.id,
      email: r.email,
      role: r.role,
      uplineId: r.upline_id,
      level: levelById.get(r.level_id ?? baseLevelId)?.name,
      members: sizeOf.get(Number(r.id)) ?? 0,
      balance: balanceOf.get(Number(r.id)) ?? 0,
    })),
    page,
    pages,
    prev: page > 1 ? page - 1 : null,
    next: page < pages ? page + 1 : null,
  });
  renderConsole(ctx, { title: translate(ctx.state.locale, 'admin.agents.page'), body, status: failure?.status });
}

async function renderWithdrawals(ctx: ShopContext, extra: { failure?: ShopError; revealed?: { id: number; payee: string } } = {}) {
  const locale = ctx.state.locale;
  const status = (['pending', 'paid', 'rejected'] as const).find((st) => st === ctx.query.status) ?? 'pending';
  const before = Number(ctx.query.before) || undefined;
  const list = await listWithdrawals(ctx.shop, { status, beforeId: before, limit: 50 });
  const emails = new Map(
    (list.length ? await ctx.shop.db.read('users').whereIn('id', [...new Set(list.map((w) => w.userId))]).select('id', 'email') : []).map((u: { id: number; email: string }) => [Number(u.id), u.email]),
  );
  const body = withdrawalsPage({
    ...consoleData(ctx),
    saved: ctx.query.saved === '1',
    error: extra.failure && failureText(ctx, extra.failure),
    status,
    tabs: (['pending', 'paid', 'rejected'] as const).map((id) => ({ id, label: translate(locale, `admin.wd.status.${id}`), active: id === status })),
    withdrawals: list.map((w) => ({
      ...w,
      email: emails.get(w.userId),
      methodText: translate(locale, `admin.wd.method.${w.method}`),
      statusText: translate(locale, `admin.wd.status.${w.status}`),
      revealed: extra.revealed?.id === w.id ? extra.revealed.payee : null,
    })),
    older: list.length === 50 ? list.at(-1)!.id : null,
  });
  renderConsole(ctx, { title: translate(locale, 'admin.wd.page'), body, status: extra.failure?.status });
}

export function adminAgents(): ShopRouter {
  const r = consoleRouter();
  const saved = (path: string) => `${path}${path.includes('?') ? '&' : '?'}saved=1`;

  r.get('/levels', (ctx) => renderLevels(ctx));
  const levels = '/admin/levels';
  const act = <T>(back: string, fn: (ctx: ShopContext, f: Form) => Promise<T>) => async (ctx: ShopContext, f: Form) => {
    await fn(ctx, f);
    return saved(back);
  };
  consolePost(r, '/levels', renderLevels, act(levels, (ctx, f) =>
    saveLevel(
      ctx.shop,
      { code: one(f.code), name: one(f.name), rank: Number(one(f.rank)), ruleKind: one(f.ruleKind), ruleValue: ruleValue(one(f.ruleKind), f.ruleValue), upgradeSpend: optionalYuan(f.upgradeSpend), upgradePrice: optionalYuan(f.upgradePrice) },
      actorOf(ctx),
    ),
  ));
  const overrideKey = (f: Form) => ({ level: one(f.level), scope: one(f.scope), target: one(f.target) });
  consolePost(r, '/levels/overrides', renderLevels, act(levels, (ctx, f) =>
    setOverride(ctx.shop, { ...overrideKey(f), ruleKind: one(f.ruleKind), ruleValue: ruleValue(one(f.ruleKind), f.ruleValue) }, actorOf(ctx)),
  ));
  consolePost(r, '/levels/overrides/delete', renderLevels, act(levels, (ctx, f) => setOverride(ctx.shop, overrideKey(f), actorOf(ctx), true)));
  consolePost(r, '/levels/protection', renderLevels, act(levels, (ctx, f) =>
    setSkuPricing(ctx.shop, { sku: one(f.sku), cost: optionalYuan(f.cost), floor: optionalYuan(f.floor), ceiling: optionalYuan(f.ceiling) }, actorOf(ctx)),
  ));
  consolePost(r, '/levels/tiers', renderLevels, act(levels, (ctx, f) =>
    setTier(ctx.shop, { level: one(f.level), minVolume: optionalYuan(f.minVolume), percentBp: one(f.percent) ? percentBp(f.percent) : null }, actorOf(ctx)),
  ));

  r.get('/agents', (ctx) => renderAgents(ctx));
  // Back to the branch of the tree the form was on.
  const agents = (f: Form) => {
    const parent = Number(one(f.parent));
    return `/admin/agents${Number.isInteger(parent) && parent > 0 ? `?parent=${parent}` : ''}`;
  };
  consolePost(r, '/agents/:id/upline', renderAgents, async (ctx, f) => {
    const upline = one(f.upline) ? Number(one(f.upline)) : null;
    if (upline !== null && !(Number.isInteger(upline) && upline > 0)) throw errors.validation({ upline: 'field.integer' });
    await moveUser(ctx.shop, { userId: idParam(ctx), uplineId: upline, actorId: ctx.state.user!.id, ip: ctx.ip });
    return saved(agents(f));
  });
  consolePost(r, '/agents/:id/level', renderAgents, async (ctx, f) => {
    await assignLevel(ctx.shop, { userId: idParam(ctx), level: one(f.level), actorId: ctx.state.user!.id, ip: ctx.ip });
    return saved(agents(f));
  });

  r.get('/withdrawals', (ctx) => renderWithdrawals(ctx));
  r.post('/withdrawals/:id/payee', async (ctx) => {
    checkCsrf(ctx);
    const id = idParam(ctx);
    await renderWithdrawals(ctx, { revealed: { id, payee: await payeeOf(ctx.shop, id, actorOf(ctx)) } });
  });
  consolePost(r, '/withdrawals/:id', (ctx, e) => renderWithdrawals(ctx, { failure: e }), act('/admin/withdrawals', (ctx, f) =>
    decideWithdrawal(ctx.shop, idParam(ctx), one(f.decision) === 'paid' ? { decision: 'paid', payoutRef: one(f.payoutRef) } : { decision: one(f.decision), reason: one(f.reason) }, actorOf(ctx)),
  ));

  r.get('/sites', async (ctx) => {
    const page = pageNumber(ctx.query.page);
    const list = await listSites(ctx.shop, { page });
    const pages = Math.max(1, Math.ceil(list.total / list.pageSize));
    const body = sitesPage({ ...consoleData(ctx), ...list, saved: ctx.query.saved === '1', pages, prev: page > 1 ? page - 1 : null, next: page < pages ? page + 1 : null });
    renderConsole(ctx, { title: translate(ctx.state.locale, 'admin.sites.page'), body });
  });
  const sites = '/admin/sites';
  // These forms are buttons: a refusal has no form to show again, so it is the error page.
  const refuse = async (_: ShopContext, e: ShopError) => {
    throw e;
  };
  consolePost(r, '/sites/:id/host', refuse, act(sites, (ctx, f) => approveSiteHost(ctx.shop, { siteId: idParam(ctx), approved: one(f.approved) === '1', actorId: ctx.state.user!.id, ip: ctx.ip })));
  consolePost(r, '/sites/:id', refuse, act(sites, (ctx, f) => setSiteDisabled(ctx.shop, { siteId: idParam(ctx), disabled: one(f.disabled) === '1', actorId: ctx.state.user!.id, ip: ctx.ip })));

  return r;
}
