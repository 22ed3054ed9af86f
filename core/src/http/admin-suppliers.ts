import { translate } from '../i18n/messages.js';
import { adminJsonRouter } from './admin-api.js';
import { consoleData, consoleRouter, consoleTemplate, renderConsole } from './admin-layout.js';
import type { ShopContext, ShopRouter } from './context.js';

/**
 * Supplier health for the operator (/admin/suppliers, and GET /api/admin/suppliers/health as
 * JSON): each supplier's circuit breaker, its calls of the last hour with their success rate and
 * p95 latency, its last error and last success (delivery/health.ts). Read-only.
 */

const page = consoleTemplate(`
<section>
<p class="hint">{{hint}}</p>
<table><thead><tr><th>{{t "admin.suppliers.supplier"}}</th><th>{{t "admin.suppliers.state"}}</th><th>{{t "admin.suppliers.calls"}}</th><th>{{t "admin.suppliers.rate"}}</th><th>{{t "admin.suppliers.p95"}}</th><th>{{t "admin.suppliers.last_error"}}</th><th>{{t "admin.suppliers.last_success"}}</th></tr></thead><tbody>
{{#each suppliers}}<tr data-supplier="{{supplier}}" data-state="{{state}}">
<td>{{label}}<br><small><code>{{supplier}}</code></small></td>
<td class="{{#if ok}}ok-cell{{else}}bad-cell{{/if}}">{{stateText}}{{#if retryText}}<br><small>{{retryText}}</small>{{/if}}{{#if failuresText}}<br><small>{{failuresText}}</small>{{/if}}{{#if inFlightText}}<br><small>{{inFlightText}}</small>{{/if}}</td>
<td data-calls="{{calls}}">{{calls}}</td><td data-rate>{{rateText}}</td><td data-p95>{{p95Text}}</td>
<td data-last-error>{{#if lastError}}<small>{{date lastErrorAt}}</small><br>{{lastError}}{{else}}–{{/if}}</td>
<td data-last-success>{{#if lastSuccessAt}}{{date lastSuccessAt}}{{else}}–{{/if}}</td></tr>
{{else}}<tr><td colspan="7">{{t "admin.none"}}</td></tr>{{/each}}
</tbody></table>
</section>`);

async function render(ctx: ShopContext) {
  const locale = ctx.state.locale;
  const t = (key: string, params?: Record<string, unknown>) => translate(locale, key, params);
  const time = new Intl.DateTimeFormat(locale, { timeStyle: 'medium', timeZone: 'Asia/Shanghai' });
  const { breakerFailures, breakerCoolDownMs } = ctx.shop.config.delivery;
  const suppliers = (await ctx.shop.delivery.health()).map((s) => ({
    ...s,
    label: ctx.shop.plugins.suppliers.get(s.supplier)?.label[locale] ?? s.supplier,
    ok: s.state === 'closed',
    stateText: t(`admin.suppliers.state.${s.state}`),
    retryText: s.state === 'open' && s.retryAt !== null ? t('admin.suppliers.retry_at', { time: time.format(s.retryAt) }) : '',
    failuresText: s.failures ? t('admin.suppliers.failures', { n: s.failures }) : '',
    inFlightText: s.inFlight ? t('admin.suppliers.in_flight', { n: s.inFlight }) : '',
    rateText: s.successRate === null ? '–' : `${(s.successRate * 100).toFixed(1)} %`,
    p95Text: s.p95Ms === null ? '–' : t('admin.suppliers.ms', { ms: s.p95Ms }),
  }));
  const hint = t('admin.suppliers.hint', { failures: breakerFailures, seconds: Math.round(breakerCoolDownMs / 1000) });
  renderConsole(ctx, { title: t('admin.suppliers.title'), body: page({ ...consoleData(ctx), hint, suppliers }) });
}

export function adminSuppliers(): ShopRouter[] {
  const pages = consoleRouter();
  pages.get('/suppliers', render);
  const api = adminJsonRouter('/api/admin/suppliers');
  api.get('/health', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { suppliers: await ctx.shop.delivery.health() };
  });
  return [pages, api];
}
