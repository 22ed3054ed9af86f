import { Readable } from 'node:stream';
import { translate } from '../i18n/messages.js';
import { toDecimalString } from '../money/money.js';
import { csvChunks, csvTime } from '../reports/csv.js';
import { customerPage, filterCustomers, insight, PAIR_DAYS, SEGMENTS, type Segment } from '../reports/insight.js';
import { consoleData, consoleRouter, consoleTemplate, renderConsole } from './admin-layout.js';
import type { ShopContext, ShopRouter } from './context.js';

/** 用户中台 (/admin/insight): customers by RFM segment, repeat buyers, SKUs bought together, CSV. */

const page = consoleTemplate(`
<style>tr.repeat td:first-child{border-left:4px solid #16a34a}.tag{display:inline-block;padding:0 6px;border-radius:4px;background:#ecfdf3;color:#067647;font-size:12px}
@media (max-width:640px){.wide{display:none}}</style>
<section>
<p data-summary>{{summary}}</p>
<p class="hint">{{asOf}} · <a href="?{{query}}{{#if query}}&amp;{{/if}}refresh=1">{{t "admin.dash.refresh"}}</a></p>
<p class="row">{{#each segments}}<a href="?segment={{id}}"{{#if active}} aria-current="page"{{/if}} data-segment="{{id}}">{{label}} ({{count}})</a>{{/each}}</p>
<form method="get" action="/admin/insight" class="row">
<label for="segment" class="hint">{{t "admin.insight.segment"}}</label>
<select id="segment" name="segment" style="max-width:180px"><option value="">{{t "admin.insight.all"}}</option>{{#each segments}}<option value="{{id}}"{{#if active}} selected{{/if}}>{{label}}</option>{{/each}}</select>
<label><input type="checkbox" name="repeat" value="1"{{#if repeat}} checked{{/if}}> {{t "admin.insight.repeat_only"}}</label>
<button class="small" type="submit">{{t "admin.insight.filter"}}</button>
<a href="/admin/insight.csv{{#if query}}?{{query}}{{/if}}" download>{{t "admin.insight.export"}}</a>
</form>
<p class="hint">{{t "admin.insight.hint"}}</p>
</section>
<section>
<table><thead><tr><th>{{t "admin.insight.customer"}}</th><th>{{t "admin.insight.segment"}}</th><th>{{t "admin.insight.orders"}}</th><th>{{t "admin.insight.spent"}}</th><th>{{t "admin.insight.last"}}</th><th class="wide">{{t "admin.insight.first"}}</th><th class="wide">R / F / M</th></tr></thead><tbody>
{{#each customers}}<tr data-customer="{{name}}"{{#if repeat}} class="repeat" data-repeat{{/if}}>
<td><a href="/admin/orders?contact={{link}}">{{name}}</a>{{#unless userId}} <small>{{@root.guestText}}</small>{{/unless}}{{#if repeat}} <span class="tag">{{@root.repeatText}}</span>{{/if}}</td>
<td data-segment="{{segment}}">{{segmentText}}</td><td>{{orders}}</td><td>{{money spent}}</td><td>{{date lastAt}}</td><td class="wide">{{date firstAt}}</td><td class="wide">{{r}} / {{f}} / {{m}}</td></tr>
{{else}}<tr><td colspan="7">{{t "admin.none"}}</td></tr>{{/each}}
</tbody></table>
<p class="row">{{#if prev}}<a href="?{{prev}}">{{t "admin.prev"}}</a>{{/if}} {{t "admin.page" page=p.page pages=p.pages}} {{#if next}}<a href="?{{next}}">{{t "admin.next"}}</a>{{/if}}</p>
</section>
<section aria-labelledby="pairs-h"><h2 id="pairs-h">{{t "admin.insight.pairs"}}</h2>
<p class="hint">{{pairsHint}}</p>
<table><thead><tr><th>SKU</th><th>SKU</th><th>{{t "admin.insight.times"}}</th></tr></thead><tbody>
{{#each pairs}}<tr data-pair="{{a.code}}+{{b.code}}"><td><code>{{a.code}}</code><br><small>{{a.name}}</small></td><td><code>{{b.code}}</code><br><small>{{b.name}}</small></td><td>{{times}}</td></tr>
{{else}}<tr><td colspan="3">{{t "admin.none"}}</td></tr>{{/each}}
</tbody></table>
</section>`);

function filterOf(ctx: ShopContext): { segment?: Segment; repeat: boolean } {
  const segment = SEGMENTS.find((s) => s === ctx.query.segment);
  return { segment, repeat: ctx.query.repeat === '1' };
}

const queryOf = (f: { segment?: Segment; repeat: boolean }, extra: Record<string, string> = {}) =>
  new URLSearchParams({ ...(f.segment ? { segment: f.segment } : {}), ...(f.repeat ? { repeat: '1' } : {}), ...extra }).toString();

async function render(ctx: ShopContext) {
  const locale = ctx.state.locale;
  const t = (key: string, params?: Record<string, unknown>) => translate(locale, key, params);
  const data = await insight(ctx.shop, { fresh: ctx.query.refresh === '1' });
  const f = filterOf(ctx);
  const p = customerPage(data, { ...f, page: Number(ctx.query.page) || 1 });
  const total = data.customers.length;
  const body = page({
    ...consoleData(ctx),
    p,
    repeat: f.repeat,
    query: queryOf(f),
    asOf: t('admin.dash.as_of', { time: new Intl.DateTimeFormat(locale, { timeStyle: 'medium', timeZone: 'Asia/Shanghai' }).format(data.at) }),
    summary: t('admin.insight.summary', { total, repeat: data.repeatBuyers, rate: total ? ((data.repeatBuyers / total) * 100).toFixed(1) : '0.0' }),
    segments: SEGMENTS.map((id) => ({ id, label: t(`admin.segment.${id}`), count: data.segments[id], active: f.segment === id })),
    customers: p.customers.map((c) => ({ ...c, link: encodeURIComponent(c.name), segmentText: t(`admin.segment.${c.segment}`) })),
    guestText: t('admin.insight.guest'),
    repeatText: t('admin.insight.repeat'),
    prev: p.page > 1 ? queryOf(f, { page: String(p.page - 1) }) : undefined,
    next: p.page < p.pages ? queryOf(f, { page: String(p.page + 1) }) : undefined,
    pairs: data.pairs,
    pairsHint: t('admin.insight.pairs_hint', { days: PAIR_DAYS }),
  });
  renderConsole(ctx, { title: t('admin.insight.title'), body });
}

export function adminInsight(): ShopRouter {
  const r = consoleRouter();

  r.get('/insight', render);

  r.get('/insight.csv', async (ctx) => {
    const t = (key: string) => translate(ctx.state.locale, key);
    const data = await insight(ctx.shop);
    const rows = filterCustomers(data, filterOf(ctx)).map((c) => [
      c.name,
      c.userId === null ? t('admin.insight.guest') : '',
      t(`admin.segment.${c.segment}`),
      c.orders,
      toDecimalString(c.spent),
      csvTime(c.firstAt),
      csvTime(c.lastAt),
      c.r,
      c.f,
      c.m,
      c.repeat ? 1 : 0,
    ]);
    const header = [t('admin.insight.customer'), '', t('admin.insight.segment'), t('admin.insight.orders'), t('admin.insight.spent'), t('admin.insight.first'), t('admin.insight.last'), 'R', 'F', 'M', t('admin.insight.repeat')];
    ctx.type = 'text/csv; charset=utf-8';
    ctx.set('Content-Disposition', `attachment; filename="customers-${new Date(ctx.shop.now()).toISOString().slice(0, 10)}.csv"`);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = Readable.from(csvChunks(header, rows));
  });

  return r;
}
