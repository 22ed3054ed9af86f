import type { InputField } from '../catalog/fields.js';
import { listAudit } from '../audit/audit.js';
import { errors, ShopError } from '../errors.js';
import { translate, type MessageKey } from '../i18n/messages.js';
import { callbackCounts, getCallback, listCallbacks, replayCallback } from '../orders/callbacks.js';
import { checkNotifyUrl, notifyUrlOf, type NotifyCheck } from '../orders/notify-check.js';
import { ORDER_NO } from '../orders/numbers.js';
import { canDeliverManually, deliverManually, refundOrder } from '../orders/orders.js';
import { bulkAction, confirmOrder, paymentDetails, retryDelivery, stuckOrders, type BulkResult } from '../orders/repair.js';
import { orderTrail } from '../orders/trail.js';
import { consoleData, consoleRouter, consoleTemplate, renderConsole } from './admin-layout.js';
import { requestInfo, type ShopContext, type ShopRouter } from './context.js';
import { toShopError } from './errors.js';
import { checkCsrf } from './session.js';

/**
 * The console's payment pages: gateways and their callback log (with replay and "check my notify
 * URL"), an order's payment (补单, refund, retry), the stuck-orders queue with bulk actions, and
 * the audit log. Thin: every action is a domain function in orders/.
 */

const overview = consoleTemplate(`
{{#if check}}<section aria-labelledby="check-h">
<h2 id="check-h">{{t "admin.pay.check"}}: {{check.gateway}}</h2>
{{#if check.ok}}<p class="notice" role="status">{{t "admin.check.ok"}}</p>{{else}}<p class="notice bad" role="alert">{{t "admin.check.failed"}}</p>{{/if}}
<p><code>{{check.url}}</code></p>
<ul>{{#each check.problems}}<li>{{this}}</li>{{/each}}</ul>
<p class="hint">{{#if check.status}}{{t "admin.check.status"}}: {{check.status}} · {{/if}}{{t "admin.check.time" ms=check.ms}}</p>
{{#if check.bodyStart}}<p class="hint">{{t "admin.check.answer"}}</p><pre>{{check.bodyStart}}</pre>{{/if}}
</section>{{/if}}
{{#unless gateways.length}}<p>{{t "admin.pay.none"}}</p>{{/unless}}
{{#each gateways}}
<section aria-labelledby="g-{{id}}">
<h2 id="g-{{id}}">{{label}} <small><code>{{id}}</code></small></h2>
<p>{{t "admin.pay.notify_url"}}<br><code>{{notifyUrl}}</code></p>
<p>{{t "admin.pay.last_day" total=total failed=failed}}</p>
<div class="row">
<a href="/admin/payments/{{id}}/callbacks">{{t "admin.pay.view_all"}}</a> ·
<a href="/admin/payments/{{id}}/callbacks?failed=1">{{t "admin.pay.view_failed"}}</a>
<form method="post" action="/admin/payments/{{id}}/check"><input type="hidden" name="_csrf" value="{{@root.csrf}}"><button class="small" type="submit">{{t "admin.pay.check"}}</button></form>
</div>
</section>
{{/each}}
<section aria-labelledby="open-h">
<h2 id="open-h">{{t "admin.pay.open_order"}}</h2>
<form method="get" action="/admin/payments/orders" class="row">
<label for="open-no" class="hint">{{t "admin.pay.order_no"}}</label>
<input id="open-no" type="text" name="no" required maxlength="32" style="max-width:260px">
<button class="small" type="submit">{{t "admin.pay.open"}}</button>
</form>
</section>`);

const callbackRows = `<table><thead><tr><th>#</th><th>{{t "admin.time"}}</th><th>{{t "admin.cb.kind"}}</th><th>{{t "admin.cb.ip"}}</th><th>{{t "admin.cb.order"}}</th><th>{{t "admin.cb.signature"}}</th><th>{{t "admin.cb.amount"}}</th><th>{{t "admin.cb.state"}}</th><th>{{t "admin.cb.outcome"}}</th><th>{{t "admin.cb.reason"}}</th></tr></thead><tbody>
{{#each callbacks}}<tr data-callback="{{id}}">
<td><a href="/admin/payments/callbacks/{{id}}">#{{id}}</a></td><td>{{date createdAt}}</td><td>{{kind}}{{#if replayOf}} (#{{replayOf}}){{/if}}</td><td>{{ip}}</td>
<td>{{#if orderNo}}<a href="/admin/payments/orders/{{orderNo}}">{{orderNo}}</a>{{/if}}</td>
<td>{{#if (eq signatureValid true)}}<span class="ok-cell">{{t "admin.cb.valid"}}</span>{{else if (eq signatureValid false)}}<span class="bad-cell">{{t "admin.cb.invalid"}}</span>{{/if}}</td>
<td>{{money amount}}{{#if (eq amountMatch false)}} <span class="bad-cell">{{t "admin.cb.mismatch"}}</span>{{/if}}</td>
<td>{{statusBefore}}{{#if statusAfter}} → {{statusAfter}}{{/if}}</td>
<td class="{{#if ok}}ok-cell{{else}}bad-cell{{/if}}">{{outcome}}</td><td>{{reason}}</td>
</tr>{{else}}<tr><td colspan="10">{{t "admin.cb.none"}}</td></tr>{{/each}}
</tbody></table>`;

const callbackList = consoleTemplate(`
<p class="row"><a href="?"{{#unless failedOnly}} aria-current="page"{{/unless}}>{{t "admin.pay.view_all"}}</a> · <a href="?failed=1"{{#if failedOnly}} aria-current="page"{{/if}}>{{t "admin.pay.view_failed"}}</a></p>
<section>${callbackRows}
{{#if older}}<p><a href="?{{#if failedOnly}}failed=1&{{/if}}before={{older}}">{{t "admin.cb.older"}}</a></p>{{/if}}
</section>`);

const callbackDetail = consoleTemplate(`
{{#if replayed}}<p class="notice" role="status">{{t "admin.cb.replayed"}}</p>{{/if}}
{{#if error}}<p class="notice bad" role="alert">{{error}}</p>{{/if}}
<section><table>
<tr><th>{{t "admin.time"}}</th><td>{{date cb.createdAt}}</td></tr>
<tr><th>{{t "admin.cb.kind"}}</th><td>{{cb.kind}} · {{cb.gateway}} · {{cb.method}}{{#if cb.replayOf}} · <a href="/admin/payments/callbacks/{{cb.replayOf}}">{{t "admin.cb.replay_of" id=cb.replayOf}}</a>{{/if}}</td></tr>
<tr><th>{{t "admin.cb.ip"}}</th><td>{{cb.ip}}</td></tr>
<tr><th>{{t "admin.cb.order"}}</th><td>{{#if cb.orderNo}}<a href="/admin/payments/orders/{{cb.orderNo}}">{{cb.orderNo}}</a>{{/if}}</td></tr>
<tr><th>{{t "admin.cb.signature"}}</th><td>{{#if (eq cb.signatureValid true)}}{{t "admin.cb.valid"}}{{else if (eq cb.signatureValid false)}}<span class="bad-cell">{{t "admin.cb.invalid"}}</span>{{/if}}</td></tr>
<tr><th>{{t "admin.cb.amount"}}</th><td>{{money cb.amount}}{{#if (eq cb.amountMatch true)}} {{t "admin.cb.match"}}{{else if (eq cb.amountMatch false)}} <span class="bad-cell">{{t "admin.cb.mismatch"}}</span>{{/if}}</td></tr>
<tr><th>{{t "admin.cb.state"}}</th><td>{{cb.statusBefore}}{{#if cb.statusAfter}} → {{cb.statusAfter}}{{/if}}</td></tr>
<tr><th>{{t "admin.cb.outcome"}}</th><td class="{{#if cb.ok}}ok-cell{{else}}bad-cell{{/if}}" data-outcome>{{cb.outcome}}</td></tr>
<tr><th>{{t "admin.cb.reason"}}</th><td data-reason>{{cb.reason}}</td></tr>
<tr><th>{{t "admin.cb.reply"}}</th><td>{{cb.replyStatus}} <code>{{cb.replyBody}}</code></td></tr>
</table>
{{#if cb.replayable}}<form method="post" action="/admin/payments/callbacks/{{cb.id}}/replay">
<input type="hidden" name="_csrf" value="{{csrf}}"><button type="submit" data-replay>{{t "admin.cb.replay"}}</button>
<p class="hint">{{t "admin.cb.replay_hint"}}</p></form>{{/if}}
</section>
<section><h2>{{t "admin.cb.headers"}}</h2><pre>{{json cb.headers}}</pre>
<h2>{{t "admin.cb.query"}}</h2><pre>{{json cb.query}}</pre>
<h2>{{t "admin.cb.body"}}</h2><pre>{{cb.body}}</pre></section>
{{#if replays.length}}<section><h2>{{t "admin.cb.replays"}}</h2>{{> rows callbacks=replays}}</section>{{/if}}`);

const orderPage = consoleTemplate(`
{{#if notice}}<p class="notice" role="status">{{notice}}</p>{{/if}}
{{#if error}}<p class="notice bad" role="alert">{{error}}</p>{{/if}}
<div class="cols">
<section><table>
<tr><th>{{t "admin.order.status"}}</th><td data-status>{{d.order.status}}</td></tr>
<tr><th>{{t "admin.order.amount"}}</th><td>{{money d.order.amount}} · {{d.order.title}} ×{{d.order.quantity}}</td></tr>
{{#if d.order.coupon}}<tr><th>{{t "admin.order.coupon"}}</th><td data-coupon><code>{{d.order.coupon}}</code> −{{money d.order.discount}}</td></tr>{{/if}}
<tr><th>{{t "admin.order.gateway"}}</th><td>{{d.order.payment}}</td></tr>
<tr><th>{{t "admin.order.trade_no"}}</th><td><code>{{d.tradeNo}}</code></td></tr>
<tr><th>{{t "admin.order.created"}}</th><td>{{date d.order.createdAt}}</td></tr>
{{#if d.order.expiresAt}}<tr><th>{{t "admin.order.expires"}}</th><td>{{date d.order.expiresAt}}</td></tr>{{/if}}
{{#if d.order.paidAt}}<tr><th>{{t "admin.order.paid"}}</th><td>{{date d.order.paidAt}}</td></tr>{{/if}}
{{#if d.order.reason}}<tr><th>{{t "admin.order.reason"}}</th><td>{{d.order.reason}}</td></tr>{{/if}}
{{#if d.order.refundDue}}<tr><th></th><td class="bad-cell">{{t "admin.order.refund_due"}}</td></tr>{{/if}}
{{#if d.order.backorder}}<tr><th></th><td>{{t "admin.order.backorder"}}</td></tr>{{/if}}
{{#if d.job}}<tr><th>job</th><td>{{d.job.status}} ({{d.job.attempts}}) {{d.job.lastError}}</td></tr>{{/if}}
<tr><th>{{t "admin.order.sku"}}</th><td><code>{{trail.sku}}</code></td></tr>
<tr><th>{{t "admin.order.buyer"}}</th><td>{{#if trail.buyer}}<a href="/admin/orders?contact={{trail.buyerLink}}">{{trail.buyer.email}}</a>{{else}}{{t "admin.orders.guest"}}{{/if}}</td></tr>
{{#if trail.contact}}<tr><th>{{t "admin.order.contact"}}</th><td>{{trail.contact}}</td></tr>{{/if}}
{{#each inputs}}<tr data-input="{{name}}"><th>{{label}}</th><td>{{value}}</td></tr>{{/each}}
{{#if trail.site}}<tr><th>{{t "admin.order.site"}}</th><td><a href="/admin/orders?site={{trail.site}}">{{trail.site}}</a></td></tr>{{/if}}
{{#if trail.clientIp}}<tr><th>{{t "admin.order.ip"}}</th><td>{{trail.clientIp}}</td></tr>{{/if}}
</table>
{{#if d.canRetry}}<form method="post" action="{{base}}/{{d.order.no}}/retry"><input type="hidden" name="_csrf" value="{{csrf}}"><button type="submit">{{t "admin.order.retry"}}</button></form>{{/if}}
</section>
{{#if d.canConfirm}}<section aria-labelledby="confirm-h">
<h2 id="confirm-h">{{t "admin.order.confirm"}}</h2>
{{#if d.gateway}}<p><strong>{{t "admin.order.gateway_says"}}:</strong>
{{#if d.gateway.answer}}<span data-gateway-says>{{d.gateway.answer.status}}{{#if d.gateway.answer.amount}} · {{money d.gateway.answer.amount}}{{/if}}{{#if d.gateway.answer.tradeNo}} · <code>{{d.gateway.answer.tradeNo}}</code>{{/if}}</span>
{{else}}<span class="bad-cell">{{t "admin.order.gateway_error" error=d.gateway.error}}</span>{{/if}}</p>{{/if}}
<p class="hint">{{t "admin.order.confirm_hint"}}</p>
<form method="post" action="{{base}}/{{d.order.no}}/confirm" data-confirm-form>
<input type="hidden" name="_csrf" value="{{csrf}}">
<label for="tradeNo">{{t "admin.order.trade_no_field"}}</label><input id="tradeNo" type="text" name="tradeNo" maxlength="128" required value="{{#if d.gateway.answer.tradeNo}}{{d.gateway.answer.tradeNo}}{{/if}}">
{{#if fields.tradeNo}}<p class="error">{{fields.tradeNo}}</p>{{/if}}
<label for="note">{{t "admin.order.note"}}</label><input id="note" type="text" name="note" maxlength="255" required>
{{#if fields.note}}<p class="error">{{fields.note}}</p>{{/if}}
<button type="submit">{{t "admin.order.confirm"}}</button>
</form></section>{{/if}}
{{#if d.canRefund}}<section aria-labelledby="refund-h">
<h2 id="refund-h">{{t "admin.order.refund"}}</h2>
<form method="post" action="{{base}}/{{d.order.no}}/refund">
<input type="hidden" name="_csrf" value="{{csrf}}">
<label for="to">{{t "admin.order.refund_to"}}</label>
<select id="to" name="to">{{#if d.tradeNo}}<option value="gateway">{{t "admin.order.to_gateway"}}</option>{{/if}}{{#if d.order.userId}}<option value="wallet">{{t "admin.order.to_wallet"}}</option>{{/if}}</select>
<label for="reason">{{t "admin.order.refund_reason"}}</label><input id="reason" type="text" name="reason" maxlength="255" required>
<button type="submit">{{t "admin.order.refund"}}</button>
</form></section>{{/if}}
</div>
{{#if canDeliver}}<section aria-labelledby="deliver-h">
<h2 id="deliver-h">{{t "admin.order.deliver"}}</h2>
<form method="post" action="{{base}}/{{d.order.no}}/deliver" data-deliver-form>
<input type="hidden" name="_csrf" value="{{csrf}}">
<label for="content">{{t "admin.order.content"}}</label><textarea id="content" name="content" rows="4" maxlength="20000" required></textarea>
<p class="hint">{{t "admin.order.deliver_hint"}}</p>
{{#if fields.content}}<p class="error">{{fields.content}}</p>{{/if}}
<button type="submit">{{t "admin.order.deliver"}}</button>
</form></section>{{/if}}
<section><h2>{{t "admin.order.jobs"}}</h2><table><thead><tr><th>{{t "admin.order.kind"}}</th><th>{{t "admin.order.status"}}</th><th>{{t "admin.order.tries"}}</th><th>{{t "admin.order.next_run"}}</th><th>{{t "admin.order.error"}}</th><th>{{t "admin.order.updated"}}</th></tr></thead><tbody>
{{#each trail.jobs}}<tr data-job="{{kind}}"><td>{{kind}}</td><td>{{status}}</td><td>{{attempts}}</td><td>{{date runAt}}</td><td>{{lastError}}</td><td>{{date updatedAt}}</td></tr>{{else}}<tr><td colspan="6">{{t "admin.none"}}</td></tr>{{/each}}
</tbody></table>
{{#if trail.attempts.length}}<h3>{{t "admin.order.attempts"}}</h3><table><thead><tr><th>{{t "admin.order.supplier"}}</th><th>{{t "admin.order.status"}}</th><th>{{t "admin.order.supplier_no"}}</th><th>{{t "admin.order.cost"}}</th><th>{{t "admin.order.reason"}}</th><th>{{t "admin.order.created"}}</th><th>{{t "admin.order.updated"}}</th></tr></thead><tbody>
{{#each trail.attempts}}<tr data-attempt="{{supplier}}"><td>{{supplier}} <small><code>{{supplierSku}}</code></small></td><td>{{status}}</td><td><code>{{supplierOrderNo}}</code></td><td>{{money cost}}</td><td>{{reason}}</td><td>{{date createdAt}}</td><td>{{date updatedAt}}</td></tr>{{/each}}
</tbody></table>{{/if}}</section>
<section><h2>{{t "admin.order.ledger"}}</h2><table><thead><tr><th>{{t "admin.time"}}</th><th>{{t "admin.order.txn"}}</th><th>{{t "admin.order.account"}}</th><th>{{t "admin.order.amount"}}</th><th>{{t "admin.order.memo"}}</th></tr></thead><tbody>
{{#each trail.ledger}}<tr data-entry="{{txn}} {{account}}"><td>{{date createdAt}}</td><td><code>{{txn}}</code> {{kind}}</td><td><code>{{account}}</code></td><td>{{money amount}}</td><td>{{memo}}</td></tr>{{else}}<tr><td colspan="5">{{t "admin.none"}}</td></tr>{{/each}}
</tbody></table>
{{#if trail.margins.length}}<h3>{{t "admin.order.margins"}}</h3><table><tbody>
{{#each trail.margins}}<tr data-margin="{{agentId}}"><td><a href="/admin/orders?agent=%23{{agentId}}">{{email}}</a></td><td>{{money amount}}</td><td>{{status}}</td></tr>{{/each}}
</tbody></table>{{/if}}</section>
<section><h2>{{t "admin.order.callbacks"}}</h2>{{> rows}}</section>
<section><h2>{{t "admin.order.audit"}}</h2>{{> audit}}</section>`);

const auditRows = `<table><thead><tr><th>{{t "admin.time"}}</th><th>{{t "admin.audit.actor"}}</th><th>{{t "admin.audit.action"}}</th><th>{{t "admin.audit.target"}}</th><th>{{t "admin.audit.change"}}</th></tr></thead><tbody>
{{#each audit}}<tr data-audit="{{action}}"><td>{{date createdAt}}</td><td>{{#if actorId}}#{{actorId}}{{else}}{{t "admin.audit.system"}}{{/if}}{{#if ip}} <small>{{ip}}</small>{{/if}}</td><td>{{action}}</td><td>{{targetType}} {{targetId}}</td><td><pre>{{json before}}</pre><pre>{{json after}}</pre></td></tr>
{{else}}<tr><td colspan="5">{{t "admin.audit.none"}}</td></tr>{{/each}}</tbody></table>`;

const stuckPage = consoleTemplate(`
{{#if error}}<p class="notice bad" role="alert">{{error}}</p>{{/if}}
{{#if results.length}}<section aria-labelledby="results-h"><h2 id="results-h">{{t "admin.stuck.results"}}</h2><ul>
{{#each results}}<li data-result="{{no}}" class="{{#if ok}}ok-cell{{else}}bad-cell{{/if}}"><a href="/admin/payments/orders/{{no}}">{{no}}</a>: {{text}}</li>{{/each}}</ul></section>{{/if}}
<form method="post" action="/admin/payments/stuck">
<input type="hidden" name="_csrf" value="{{csrf}}">
<section><table><thead><tr><th>{{t "admin.stuck.select"}}</th><th>{{t "admin.cb.order"}}</th><th>{{t "admin.stuck.why"}}</th><th>{{t "admin.order.status"}}</th><th>{{t "admin.order.amount"}}</th><th>{{t "admin.order.gateway"}}</th><th>{{t "admin.order.paid"}}</th><th>{{t "admin.order.reason"}}</th></tr></thead><tbody>
{{#each orders}}<tr data-stuck="{{no}}"><td><input type="checkbox" name="nos" value="{{no}}" aria-label="{{no}}"></td>
<td><a href="/admin/payments/orders/{{no}}">{{no}}</a><br><small>{{title}}</small></td><td>{{whyText}}{{#if gatewayTradeNo}} <code>{{gatewayTradeNo}}</code>{{/if}}</td><td>{{status}}</td><td>{{money amount}}</td><td>{{payment}}</td><td>{{date paidAt}}</td><td>{{reason}}</td></tr>
{{else}}<tr><td colspan="8">{{t "admin.stuck.none"}}</td></tr>{{/each}}</tbody></table></section>
{{#if orders.length}}<section>
<label for="action" class="hint">{{t "admin.stuck.action"}}</label>
<select id="action" name="action"><option value="confirm">{{t "admin.stuck.do_confirm"}}</option><option value="retry">{{t "admin.stuck.do_retry"}}</option><option value="refund_wallet">{{t "admin.stuck.do_refund_wallet"}}</option><option value="refund_gateway">{{t "admin.stuck.do_refund_gateway"}}</option></select>
<label for="bulk-note">{{t "admin.stuck.note"}}</label><input id="bulk-note" type="text" name="note" maxlength="255">
<button type="submit">{{t "admin.stuck.run"}}</button></section>{{/if}}
</form>`);

const auditPage = consoleTemplate(`<section>${auditRows}</section>`);

const partials = { rows: consoleTemplate(callbackRows), audit: consoleTemplate(auditRows) };

const tr = (ctx: ShopContext, key: MessageKey | string, params?: Record<string, unknown>) => translate(ctx.state.locale, key, params);
const form = (ctx: ShopContext) => (ctx.request.body ?? {}) as Record<string, unknown>;
const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
const actor = (ctx: ShopContext) => ({ id: ctx.state.user!.id, ip: ctx.ip });

/** An action's failure a user may see (bad input, wrong state) re-renders the page with it; anything else is a 500. */
function visible(err: unknown): ShopError {
  const e = toShopError(err);
  if (e.status >= 500 || !(err instanceof ShopError)) throw err;
  return e;
}

async function renderOverview(ctx: ShopContext, check?: NotifyCheck & { gateway: string }) {
  const counts = await callbackCounts(ctx.shop, ctx.shop.now() - 86_400_000);
  const origin = requestInfo(ctx).origin;
  const gateways = [...ctx.shop.plugins.gateways.values()].map((g) => ({
    id: g.id,
    label: g.label[ctx.state.locale],
    notifyUrl: notifyUrlOf(ctx.shop, g.id, origin),
    ...(counts.get(g.id) ?? { total: 0, failed: 0 }),
  }));
  const problems = check?.problems.map((p) => tr(ctx, p, { location: check.location ?? '', status: check.status ?? '', error: check.error ?? '' }));
  const body = overview({ ...consoleData(ctx), gateways, check: check && { ...check, problems } });
  renderConsole(ctx, { title: tr(ctx, 'admin.pay.title'), body });
}

/** Where an order's page lives: under /admin/orders (staff may use it), and where the payment pages link. */
const ORDER_PAGES = ['/admin/orders', '/admin/payments/orders'];
const orderBase = (ctx: ShopContext) => ORDER_PAGES.find((p) => ctx.path.startsWith(`${p}/`)) ?? ORDER_PAGES[0]!;

async function renderOrder(ctx: ShopContext, no: string, extra: { notice?: string; failure?: ShopError } = {}) {
  const d = await paymentDetails(ctx.shop, ctx.shop.plugins.gateways, no);
  const [callbacks, audit, trail] = await Promise.all([
    listCallbacks(ctx.shop, { orderNo: no, limit: 100 }),
    listAudit(ctx.shop, { targetType: 'order', targetId: no, limit: 100 }),
    orderTrail(ctx.shop, no),
  ]);
  const f = extra.failure;
  // What the buyer typed (the account to top up, a phone number…), labelled as the product asks for it.
  const product = await ctx.shop.db.read('orders').join('products', 'products.id', 'orders.product_id').where('orders.no', no).first('products.fields');
  const labels = new Map(((product?.fields ? JSON.parse(product.fields) : []) as InputField[]).map((x) => [x.name, x.label[ctx.state.locale]]));
  const inputs = Object.entries(d.order.fields).map(([name, value]) => ({ name, value, label: labels.get(name) ?? name }));
  const body = orderPage(
    {
      ...consoleData(ctx),
      d,
      base: orderBase(ctx),
      trail: { ...trail, buyerLink: trail.buyer && encodeURIComponent(trail.buyer.email) },
      canDeliver: canDeliverManually(d.order),
      callbacks,
      audit,
      inputs,
      notice: extra.notice,
      error: f ? tr(ctx, f.messageKey, f.params) : undefined,
      fields: f?.fields ? Object.fromEntries(Object.entries(f.fields).map(([k, v]) => [k, tr(ctx, v, f.params)])) : {},
    },
    { partials },
  );
  renderConsole(ctx, { title: tr(ctx, 'admin.order.title', { no }), body, status: f?.status });
}

async function renderStuck(ctx: ShopContext, extra: { results?: BulkResult[]; failure?: ShopError } = {}) {
  const minutes = ctx.shop.config.payments.stuckMinutes;
  const orders = (await stuckOrders(ctx.shop, ctx.shop.plugins.gateways)).map((o) => ({ ...o, whyText: tr(ctx, o.why, { minutes }) }));
  const results = extra.results?.map((r) => ({ ...r, text: tr(ctx, r.message, r.params) }));
  const f = extra.failure;
  const error = f ? `${tr(ctx, f.messageKey, f.params)} ${Object.entries(f.fields ?? {}).map(([k, v]) => `${k}: ${tr(ctx, v, f.params)}`).join('; ')}` : undefined;
  renderConsole(ctx, { title: tr(ctx, 'admin.stuck.title'), body: stuckPage({ ...consoleData(ctx), orders, results, error }), status: f?.status });
}

export function adminPayments(): ShopRouter {
  const r = consoleRouter();

  r.get('/payments', (ctx) => renderOverview(ctx));

  r.post('/payments/:gateway/check', async (ctx) => {
    checkCsrf(ctx);
    const gateway = ctx.shop.plugins.gateways.get(ctx.params.gateway!);
    if (!gateway) throw errors.notFound();
    await renderOverview(ctx, { ...(await checkNotifyUrl(ctx.shop, gateway.id, requestInfo(ctx).origin)), gateway: gateway.id });
  });

  r.get('/payments/:gateway/callbacks', async (ctx) => {
    const gateway = ctx.params.gateway!;
    const failedOnly = ctx.query.failed === '1';
    const before = Number(ctx.query.before);
    const callbacks = await listCallbacks(ctx.shop, { gateway, failedOnly, beforeId: Number.isInteger(before) ? before : undefined, limit: 50 });
    const body = callbackList({ ...consoleData(ctx), callbacks, failedOnly, older: callbacks.length === 50 ? callbacks.at(-1)!.id : undefined });
    renderConsole(ctx, { title: tr(ctx, 'admin.cb.title', { gateway }), body });
  });

  const showCallback = async (ctx: ShopContext, id: number, extra: { replayed?: boolean; failure?: ShopError } = {}) => {
    const cb = await getCallback(ctx.shop, id);
    const replays = await listCallbacks(ctx.shop, { orderNo: cb.orderNo ?? undefined, limit: 200 }).then((l) => l.filter((c) => c.replayOf === id));
    const error = extra.failure ? tr(ctx, extra.failure.messageKey, extra.failure.params) : undefined;
    const body = callbackDetail({ ...consoleData(ctx), cb, replays, replayed: extra.replayed, error }, { partials });
    renderConsole(ctx, { title: tr(ctx, 'admin.cb.detail', { id }), body, status: extra.failure?.status });
  };

  r.get('/payments/callbacks/:id', async (ctx) => {
    const id = Number(ctx.params.id);
    if (!Number.isInteger(id)) throw errors.notFound();
    await showCallback(ctx, id, { replayed: ctx.query.replayed === '1' });
  });

  r.post('/payments/callbacks/:id/replay', async (ctx) => {
    checkCsrf(ctx);
    const id = Number(ctx.params.id);
    if (!Number.isInteger(id)) throw errors.notFound();
    try {
      const replay = await replayCallback(ctx.shop, ctx.shop.plugins.gateways, { id, actorId: ctx.state.user!.id, ip: ctx.ip });
      ctx.status = 303;
      ctx.redirect(`/admin/payments/callbacks/${replay.id}?replayed=1`);
    } catch (err) {
      await showCallback(ctx, id, { failure: visible(err) });
    }
  });

  r.get('/payments/orders', (ctx) => {
    const no = str(ctx.query.no)?.trim().toUpperCase() ?? '';
    ctx.redirect(ORDER_NO.test(no) ? `/admin/payments/orders/${no}` : '/admin/payments');
  });

  const DONE: Record<string, MessageKey> = { refunded: 'admin.order.refunded', retried: 'admin.order.retried', delivered: 'admin.order.delivered' };
  // The router's prefix is /admin: each order page's route is the rest of its path.
  const orderRoutes = ORDER_PAGES.map((p) => p.slice('/admin'.length));

  for (const base of orderRoutes) {
    r.get(`${base}/:no`, async (ctx) => {
      const done = str(ctx.query.done);
      const notice =
        done === 'confirmed'
          ? tr(ctx, 'admin.order.confirmed', { outcome: tr(ctx, `admin.outcome.${str(ctx.query.outcome) ?? 'paid'}`) })
          : done && DONE[done]
            ? tr(ctx, DONE[done])
            : undefined;
      await renderOrder(ctx, ctx.params.no!, { notice });
    });
  }

  /** An order action: on success back to the order's page (POST-redirect-GET), else the page with the error. */
  const orderAction = (name: string, run: (ctx: ShopContext, no: string) => Promise<string>) => {
    for (const base of orderRoutes) {
      r.post(`${base}/:no/${name}`, async (ctx) => {
        checkCsrf(ctx);
        const no = ctx.params.no!;
        try {
          const query = await run(ctx, no);
          ctx.status = 303;
          ctx.redirect(`${orderBase(ctx)}/${encodeURIComponent(no)}?${query}`);
        } catch (err) {
          await renderOrder(ctx, no, { failure: visible(err) });
        }
      });
    }
  };

  orderAction('confirm', async (ctx, no) => {
    const f = form(ctx);
    const { outcome } = await confirmOrder(ctx.shop, { no, tradeNo: f.tradeNo, note: f.note }, actor(ctx));
    return `done=confirmed&outcome=${outcome}`;
  });
  orderAction('refund', async (ctx, no) => {
    const f = form(ctx);
    const to = str(f.to) === 'wallet' ? 'wallet' : 'gateway';
    await refundOrder(ctx.shop, ctx.shop.plugins.gateways, { no, reason: str(f.reason) ?? '', actorId: ctx.state.user!.id, to, ip: ctx.ip });
    return 'done=refunded';
  });
  orderAction('retry', async (ctx, no) => {
    await retryDelivery(ctx.shop, no, actor(ctx));
    return 'done=retried';
  });
  orderAction('deliver', async (ctx, no) => {
    await deliverManually(ctx.shop, { no, content: str(form(ctx).content) ?? '', actorId: ctx.state.user!.id, ip: ctx.ip });
    return 'done=delivered';
  });

  r.get('/payments/stuck', (ctx) => renderStuck(ctx));

  r.post('/payments/stuck', async (ctx) => {
    checkCsrf(ctx);
    const f = form(ctx);
    const nos = Array.isArray(f.nos) ? f.nos : f.nos === undefined ? [] : [f.nos];
    try {
      const results = await bulkAction(ctx.shop, ctx.shop.plugins.gateways, { action: f.action, nos, note: str(f.note) || undefined }, actor(ctx));
      await renderStuck(ctx, { results });
    } catch (err) {
      await renderStuck(ctx, { failure: visible(err) });
    }
  });

  r.get('/audit', async (ctx) => {
    const audit = await listAudit(ctx.shop, { limit: 200 });
    renderConsole(ctx, { title: tr(ctx, 'admin.audit.title'), body: auditPage({ ...consoleData(ctx), audit }) });
  });

  return r;
}
