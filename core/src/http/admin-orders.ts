import { Readable } from 'node:stream';
import { ShopError } from '../errors.js';
import { translate } from '../i18n/messages.js';
import { toDecimalString } from '../money/money.js';
import { exportOrders, orderFilter, orderFilterSchema, searchOrders, type OrderFilter, type OrderPage } from '../orders/search.js';
import { ORDER_STATUSES } from '../orders/state.js';
import { csvChunks, csvTime } from '../reports/csv.js';
import { consoleData, consoleRouter, consoleTemplate, renderConsole } from './admin-layout.js';
import type { ShopContext, ShopRouter } from './context.js';
import { toShopError } from './errors.js';

/**
 * The console's order list (/admin/orders): search by number, contact, SKU, status, dates, agent
 * and sub-shop, a page at a time by id, and the same search as a streamed CSV. Each order opens
 * its page (/admin/orders/:no, in admin-payments.ts) with its trail and the actions.
 */

const PAGE_SIZE = 50;

const page = consoleTemplate(`
<style>@media (max-width:640px){.wide{display:none}}</style>
<section>
<form method="get" action="/admin/orders" class="cols" style="gap:0 16px">
{{#each fields}}<div><label for="f-{{name}}">{{label}}</label>
{{#if options}}<select id="f-{{name}}" name="{{name}}"><option value="">{{@root.anyText}}</option>{{#each options}}<option value="{{value}}"{{#if selected}} selected{{/if}}>{{label}}</option>{{/each}}</select>
{{else}}<input id="f-{{name}}" type="{{type}}" name="{{name}}" value="{{value}}"{{#if placeholder}} placeholder="{{placeholder}}"{{/if}}>{{/if}}
{{#if error}}<p class="error" data-error="{{name}}">{{error}}</p>{{/if}}</div>{{/each}}
<div class="row"><button type="submit">{{t "admin.orders.search"}}</button> <a href="/admin/orders" style="margin-top:16px">{{t "admin.orders.clear"}}</a>
{{#unless error}}<a href="/admin/orders/export.csv{{#if query}}?{{query}}{{/if}}" style="margin-top:16px" download>{{t "admin.orders.export"}}</a>{{/unless}}</div>
</form>
</section>
{{#if error}}<p class="notice bad" role="alert">{{error}}</p>{{/if}}
<section>
<p class="hint">{{hint}}</p>
<table><thead><tr><th>{{t "admin.cb.order"}}</th><th>{{t "admin.orders.placed"}}</th><th>{{t "admin.orders.status"}}</th><th class="wide">{{t "admin.orders.item"}}</th><th>{{t "admin.order.amount"}}</th><th class="wide">{{t "admin.orders.buyer"}}</th><th class="wide">{{t "admin.order.gateway"}}</th></tr></thead><tbody>
{{#each orders}}<tr data-order="{{no}}"><td><a href="/admin/orders/{{no}}">{{no}}</a></td><td>{{date createdAt}}</td><td>{{statusText}}</td>
<td class="wide">{{title}} ×{{quantity}}<br><small><code>{{sku}}</code>{{#if site}} · {{site}}{{/if}}</small></td><td>{{money amount}}</td>
<td class="wide">{{#if buyer}}{{buyer}}{{else}}<small>{{@root.guestText}}</small>{{/if}}{{#if contact}}<br><small>{{contact}}</small>{{/if}}</td><td class="wide">{{payment}}</td></tr>
{{else}}<tr><td colspan="7">{{t "admin.orders.none"}}</td></tr>{{/each}}
</tbody></table>
<p class="row">{{#if newerLink}}<a href="/admin/orders?{{newestLink}}">{{t "admin.orders.newest"}}</a> · <a href="/admin/orders?{{newerLink}}" rel="prev">← {{t "admin.orders.newer"}}</a>{{/if}}
{{#if olderLink}}<a href="/admin/orders?{{olderLink}}" rel="next">{{t "admin.orders.older"}} →</a>{{/if}}</p>
</section>`);

const FIELDS: Array<{ name: keyof typeof orderFilterSchema.shape; label: string; type?: string; placeholder?: string }> = [
  { name: 'no', label: 'admin.orders.no', placeholder: '261203-' },
  { name: 'contact', label: 'admin.orders.contact' },
  { name: 'sku', label: 'admin.orders.sku' },
  { name: 'status', label: 'admin.orders.status' },
  { name: 'from', label: 'admin.orders.from', type: 'date' },
  { name: 'to', label: 'admin.orders.to', type: 'date' },
  { name: 'agent', label: 'admin.orders.agent' },
  { name: 'site', label: 'admin.orders.site' },
];

/** The filter as typed: the first value of each known query parameter. */
function typed(ctx: ShopContext): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { name } of FIELDS) {
    const v = ctx.query[name];
    const s = Array.isArray(v) ? v[0] : v;
    if (s?.trim()) out[name] = s.trim();
  }
  return out;
}

const cursor = (v: unknown) => (typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : undefined);

async function render(ctx: ShopContext) {
  const locale = ctx.state.locale;
  const t = (key: string, params?: Record<string, unknown>) => translate(locale, key, params);
  const input = typed(ctx);
  const query = new URLSearchParams(input).toString();
  const link = (extra: Record<string, number>) => new URLSearchParams({ ...input, ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, String(v)])) }).toString();
  let result: OrderPage = { orders: [] };
  let failure: ShopError | undefined;
  try {
    const filter = await orderFilter(ctx.shop, input);
    result = await searchOrders(ctx.shop, filter, { before: cursor(ctx.query.before), after: cursor(ctx.query.after), limit: PAGE_SIZE });
  } catch (err) {
    failure = toShopError(err);
    if (!(err instanceof ShopError) || failure.status >= 500) throw err;
  }
  const fields = FIELDS.map((f) => ({
    ...f,
    type: f.type ?? 'text',
    label: t(f.label),
    value: input[f.name] ?? '',
    options: f.name === 'status' ? ORDER_STATUSES.map((s) => ({ value: s, label: t(`admin.status.${s}`), selected: input.status === s })) : undefined,
    error: failure?.fields?.[f.name] ? t(failure.fields[f.name]!, failure.params) : undefined,
  }));
  const body = page({
    ...consoleData(ctx),
    fields,
    query,
    anyText: t('admin.orders.any'),
    guestText: t('admin.orders.guest'),
    hint: t('admin.orders.hint', { n: PAGE_SIZE }),
    error: failure ? t(failure.messageKey, failure.params) : undefined,
    orders: result.orders.map((o) => ({ ...o, statusText: t(`admin.status.${o.status}`) })),
    newestLink: query,
    newerLink: result.newer !== undefined ? link({ after: result.newer }) : undefined,
    olderLink: result.older !== undefined ? link({ before: result.older }) : undefined,
  });
  renderConsole(ctx, { title: t('admin.orders.title'), body, status: failure?.status });
}

/** The CSV's rows, pulled from the database a batch at a time as the client reads. */
async function* csvRows(ctx: ShopContext, filter: OrderFilter) {
  const status = (s: string) => translate(ctx.state.locale, `admin.status.${s}`);
  for await (const o of exportOrders(ctx.shop, filter)) {
    yield [o.no, csvTime(o.createdAt), status(o.status), o.title, o.sku, o.quantity, toDecimalString(o.amount), o.currency, o.payment, o.buyer ?? '', o.contact ?? '', o.site ?? '', csvTime(o.paidAt), csvTime(o.deliveredAt)];
  }
}

export function adminOrders(): ShopRouter {
  const r = consoleRouter();

  r.get('/orders', render);

  // Registered before the order page (/orders/:no, admin-payments.ts), which would otherwise take it.
  r.get('/orders/export.csv', async (ctx) => {
    const t = (key: string) => translate(ctx.state.locale, key);
    let filter: OrderFilter;
    try {
      filter = await orderFilter(ctx.shop, typed(ctx));
    } catch (err) {
      if (!(err instanceof ShopError)) throw err;
      return render(ctx);
    }
    const header = [
      t('admin.cb.order'),
      t('admin.orders.placed'),
      t('admin.orders.status'),
      t('admin.orders.item'),
      'SKU',
      t('admin.orders.quantity'),
      t('admin.order.amount'),
      t('admin.orders.currency'),
      t('admin.order.gateway'),
      t('admin.orders.buyer'),
      t('admin.order.contact'),
      t('admin.order.site'),
      t('admin.orders.paid_at'),
      t('admin.orders.delivered_at'),
    ];
    ctx.type = 'text/csv; charset=utf-8';
    ctx.set('Content-Disposition', `attachment; filename="orders-${new Date(ctx.shop.now()).toISOString().slice(0, 10)}.csv"`);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = Readable.from(csvChunks(header, csvRows(ctx, filter)));
  });

  return r;
}
