import Router from '@koa/router';
import { translate } from '../i18n/messages.js';
import { formatMoney } from '../money/money.js';
import { barChart } from '../reports/chart.js';
import { dashboard } from '../reports/dashboard.js';
import { PERIODS, type Period } from '../reports/periods.js';
import { consoleData, consoleTemplate, consoleUser, renderConsole } from './admin-layout.js';
import type { ShopContext, ShopRouter } from './context.js';

/**
 * The console's front page (/admin): the figures of reports/dashboard.ts as a chart and tables.
 * Read-only; the chart is SVG drawn here, with its figures in a table beside it.
 */

const page = consoleTemplate(`
<style>.tabs a{padding:4px 10px;border-radius:6px}.tabs a[aria-current]{background:#1d4ed8;color:#fff;text-decoration:none}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px}.tile{font-size:13px}.tile strong{display:block;font-size:22px}
.bar{display:inline-block;height:8px;border-radius:4px;background:#1d4ed8;vertical-align:middle}.bar.low{background:#b42318}tr.low td{color:#b42318}</style>
<nav class="row tabs" aria-label="{{t "admin.dash.bucket"}}">{{#each periods}}<a href="?period={{id}}"{{#if active}} aria-current="page"{{/if}}>{{label}}</a>{{/each}}
<span class="hint">{{asOf}} · <a href="?period={{period}}&amp;refresh=1">{{t "admin.dash.refresh"}}</a></span></nav>

<section aria-labelledby="sales-h"><h2 id="sales-h">{{t "admin.dash.chart"}}</h2>
<div class="tiles">
<p class="tile">{{t "admin.dash.orders"}}<strong data-total="orders">{{d.totals.orders}}</strong></p>
<p class="tile">{{t "admin.dash.sales"}}<strong data-total="sales">{{money d.totals.sales}}</strong></p>
<p class="tile">{{t "admin.dash.margin"}}<strong data-total="margin">{{money d.totals.margin}}</strong></p>
</div>
{{{chart}}}
<p class="hint">{{t "admin.dash.margin_hint"}}</p>
<details><summary>{{t "admin.dash.figures"}}</summary>
<table><thead><tr><th>{{t "admin.dash.bucket"}}</th><th>{{t "admin.dash.orders"}}</th><th>{{t "admin.dash.sales"}}</th><th>{{t "admin.dash.cost"}}</th><th>{{t "admin.dash.commissions"}}</th><th>{{t "admin.dash.margin"}}</th></tr></thead><tbody>
{{#each d.series}}<tr data-bucket="{{key}}" data-orders="{{orders}}" data-sales="{{sales}}" data-margin="{{margin}}"><td>{{key}}</td><td>{{orders}}</td><td>{{money sales}}</td><td>{{money cost}}</td><td>{{money commissions}}</td><td>{{money margin}}</td></tr>{{/each}}
</tbody></table></details>
</section>

<div class="cols">
<section aria-labelledby="status-h"><h2 id="status-h">{{t "admin.dash.statuses"}}</h2>
<table><tbody>{{#each statuses}}<tr data-status="{{status}}"><td><a href="/admin/orders?status={{status}}">{{label}}</a></td><td>{{count}}</td><td><span class="bar" style="width:{{pct}}px"></span></td></tr>
{{else}}<tr><td>{{t "admin.none"}}</td></tr>{{/each}}</tbody></table>
</section>

<section aria-labelledby="skus-h"><h2 id="skus-h">{{t "admin.dash.top_skus"}}</h2>
<table><thead><tr><th>SKU</th><th>{{t "admin.dash.quantity"}}</th><th>{{t "admin.dash.sales"}}</th></tr></thead><tbody>
{{#each d.topSkus}}<tr data-sku="{{code}}"><td><a href="/admin/orders?sku={{code}}">{{code}}</a><br><small>{{name}}</small></td><td>{{quantity}}</td><td>{{money sales}}</td></tr>
{{else}}<tr><td colspan="3">{{t "admin.none"}}</td></tr>{{/each}}</tbody></table>
</section>

<section aria-labelledby="agents-h"><h2 id="agents-h">{{t "admin.dash.top_agents"}}</h2>
<table><thead><tr><th>{{t "admin.order.agent"}}</th><th>{{t "admin.dash.orders"}}</th><th>{{t "admin.dash.volume"}}</th><th>{{t "admin.dash.earned"}}</th></tr></thead><tbody>
{{#each d.topAgents}}<tr data-agent="{{id}}"><td><a href="/admin/orders?agent=%23{{id}}">{{email}}</a></td><td>{{orders}}</td><td>{{money volume}}</td><td>{{money earned}}</td></tr>
{{else}}<tr><td colspan="4">{{t "admin.none"}}</td></tr>{{/each}}</tbody></table>
</section>

<section aria-labelledby="sup-h"><h2 id="sup-h">{{t "admin.dash.suppliers"}}</h2>
<table><thead><tr><th>{{t "admin.dash.supplier"}}</th><th>{{t "admin.dash.delivered"}}</th><th>{{t "admin.dash.failed"}}</th><th>{{t "admin.dash.waiting"}}</th><th>{{t "admin.dash.rate"}}</th><th>{{t "admin.dash.latency"}}</th></tr></thead><tbody>
{{#each suppliers}}<tr data-supplier="{{supplier}}"><td>{{label}}</td><td>{{delivered}}</td><td{{#if failed}} class="bad-cell"{{/if}}>{{failed}}</td><td>{{waiting}}</td><td data-rate>{{rateText}}</td><td>{{latencyText}}</td></tr>
{{else}}<tr><td colspan="6">{{t "admin.none"}}</td></tr>{{/each}}</tbody></table>
</section>
</div>

<section aria-labelledby="stock-h"><h2 id="stock-h">{{t "admin.dash.stock"}}</h2>
<p data-stock-summary>{{stockSummary}}</p>
<table><thead><tr><th>SKU</th><th>{{t "admin.dash.product"}}</th><th>{{t "admin.dash.stock"}}</th><th></th><th>{{t "admin.dash.sold"}}</th></tr></thead><tbody>
{{#each stock}}<tr data-stock="{{code}}"{{#if low}} class="low" data-low{{/if}}><td><a href="/admin/inventory?q={{code}}"><code>{{code}}</code></a></td><td>{{product}} · {{name}}</td><td>{{stock}}{{#if lowStock}} <small>/ {{lowStock}}</small>{{/if}}{{#if low}} <strong>{{t "admin.dash.low"}}</strong>{{/if}}</td><td><span class="bar{{#if low}} low{{/if}}" style="width:{{pct}}px"></span></td><td>{{sold}}</td></tr>
{{else}}<tr><td colspan="5">{{t "admin.none"}}</td></tr>{{/each}}</tbody></table>
</section>

<section aria-labelledby="float-h"><h2 id="float-h">{{t "admin.dash.float"}}</h2>
<table><thead><tr><th></th><th>{{t "admin.dash.accounts"}}</th><th>{{t "admin.dash.balance"}}</th><th>{{t "admin.dash.journal"}}</th><th></th></tr></thead><tbody>
{{#each float}}<tr data-float="{{kind}}" data-balance="{{balance}}" data-journal="{{journal}}"><td>{{label}}</td><td>{{accounts}}</td><td>{{money balance}}</td><td>{{money journal}}</td><td class="{{#if ok}}ok-cell{{else}}bad-cell{{/if}}">{{#if ok}}{{t "admin.dash.matches"}}{{else}}{{t "admin.dash.differs"}}{{/if}}</td></tr>
{{else}}<tr><td colspan="5">{{t "admin.none"}}</td></tr>{{/each}}</tbody></table>
<p class="hint">{{t "admin.dash.float_hint"}}</p>
</section>`);

/** Bar lengths in pixels (at most 120) relative to the largest value shown. */
const widths = (values: number[]) => {
  const max = Math.max(1, ...values);
  return values.map((v) => Math.round((v / max) * 120));
};

async function render(ctx: ShopContext) {
  const locale = ctx.state.locale;
  const t = (key: string, params?: Record<string, unknown>) => translate(locale, key, params);
  const period: Period = PERIODS.includes(ctx.query.period as Period) ? (ctx.query.period as Period) : 'day';
  const d = await dashboard(ctx.shop, period, { fresh: ctx.query.refresh === '1' });
  const currency = ctx.shop.config.shop.currency;
  const chart = barChart({
    title: t('admin.dash.chart'),
    labels: d.series.map((p) => (period === 'month' ? p.key : p.key.slice(5))),
    series: [
      { label: t('admin.dash.sales'), values: d.series.map((p) => p.sales), color: '#1d4ed8' },
      { label: t('admin.dash.margin'), values: d.series.map((p) => p.margin), color: '#16a34a' },
    ],
    format: (v) => formatMoney(Math.round(v), currency),
  });
  const statusPx = widths(d.statuses.map((s) => s.count));
  const stockPx = widths(d.stock.lowest.map((s) => s.stock));
  const body = page({
    ...consoleData(ctx),
    d,
    period,
    chart,
    periods: PERIODS.map((id) => ({ id, label: t(`admin.dash.period.${id}`), active: id === period })),
    asOf: t('admin.dash.as_of', { time: new Intl.DateTimeFormat(locale, { timeStyle: 'medium', timeZone: 'Asia/Shanghai' }).format(d.at) }),
    statuses: d.statuses.map((s, i) => ({ ...s, label: t(`admin.status.${s.status}`), pct: statusPx[i] })),
    suppliers: d.suppliers.map((s) => ({
      ...s,
      label: s.supplier === 'stock' ? t('admin.dash.own_stock') : s.supplier,
      rateText: s.rate === null ? '–' : `${(s.rate * 100).toFixed(1)} %`,
      latencyText: s.avgMs === null ? '–' : t('admin.dash.seconds', { s: (s.avgMs / 1000).toFixed(1) }),
    })),
    stockSummary: t('admin.dash.stock_summary', { skus: d.stock.skus, keys: d.stock.keys, low: d.stock.low }),
    stock: d.stock.lowest.map((s, i) => ({ ...s, pct: stockPx[i] })),
    float: d.float.map((f) => ({ ...f, label: t(`admin.dash.kind.${f.kind}`) })),
  });
  renderConsole(ctx, { title: t('admin.dash.title'), body });
}

export function adminDashboard(): ShopRouter {
  const r: ShopRouter = new Router({ prefix: '/admin' });
  r.get('/', async (ctx) => {
    if (!consoleUser(ctx)) return;
    await render(ctx);
  });
  return r;
}
