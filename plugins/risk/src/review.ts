import { formatMoney, type HeldOrder, type PluginContext, type ShopContext, type ShopRouter } from '@cardshop/core';
import { text, type Locale, type MessageKey } from './messages.js';

/** A route's context: the shop's, with the router's params (the body parser's body is read through `bodyOf`). */
type Ctx = ShopContext & { params: Record<string, string> };
const bodyOf = (c: Ctx) => ((c.request as { body?: unknown }).body ?? {}) as Record<string, unknown>;

/**
 * The review queue: orders the score held, for an admin to approve (delivered, once) or reject
 * (refunded, with a reason the buyer reads). A page for the browser (/plugins/risk/review, forms
 * with the shop's CSRF token) and the same as JSON (/plugins/risk/held).
 */

type Orders = PluginContext<unknown>['orders'];

/** Whether the request is an admin's; otherwise answers it (401/403, or the login page for a browser). */
export function isAdmin(c: Ctx, page = false): boolean {
  const user = c.state.user;
  if (user?.role === 'admin') return true;
  if (!user && page) c.redirect(`/login?next=${encodeURIComponent(c.originalUrl)}`);
  else {
    c.status = user ? 403 : 401;
    c.body = { error: { code: user ? 'forbidden' : 'unauthorized' } };
  }
  return false;
}

const esc = (v: unknown) => String(v ?? '').replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

function page(c: Ctx, held: HeldOrder[], notice: { ok: boolean; text: string } | null): string {
  const l = c.state.locale as Locale;
  const t = (key: MessageKey, params?: Record<string, string>) => esc(text(l, key, params));
  const when = (ms: number | null) => (ms ? new Intl.DateTimeFormat(l, { dateStyle: 'short', timeStyle: 'short', timeZone: 'Asia/Shanghai' }).format(ms) : '');
  const rows = held
    .map(
      (o) => `<tr>
<td><a href="/admin/payments/orders/${esc(o.no)}">${esc(o.no)}</a><br><small>${esc(when(o.paidAt))}</small></td>
<td>${esc(o.title)} ×${o.quantity}<br><strong>${esc(formatMoney(o.amount, o.currency))}</strong> · ${esc(o.payment)}</td>
<td>${o.userId === null ? '' : `#${o.userId} `}${esc(o.contact)}</td>
<td><small>${esc(o.review)}</small></td>
<td><form method="post" action="/plugins/risk/review/${esc(o.no)}/approve"><input type="hidden" name="_csrf" value="${esc(c.state.csrf)}"><button>${t('approve')}</button></form>
<form method="post" action="/plugins/risk/review/${esc(o.no)}/reject"><input type="hidden" name="_csrf" value="${esc(c.state.csrf)}">
<label>${t('reason')} <input name="reason" required maxlength="255" value="${t('default_reason')}"></label><button class="bad">${t('reject')}</button></form></td>
</tr>`,
    )
    .join('\n');
  return `<!doctype html><html lang="${esc(l)}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${t('title')}</title>
<style>body{font:15px/1.5 system-ui,"PingFang SC","Microsoft YaHei",sans-serif;margin:0 auto;max-width:1100px;padding:16px;color:#1f2328}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e4e7eb;vertical-align:top}
form{margin:4px 0}input{padding:4px;max-width:14em}button{padding:4px 12px;border:0;border-radius:6px;background:#1d4ed8;color:#fff;cursor:pointer}
button.bad{background:#b42318}.notice{padding:8px 12px;border-radius:8px;background:#ecfdf3}.notice.bad{background:#fef3f2}
@media (max-width:700px){table,tr,td{display:block}tr{border-bottom:2px solid #d8dde3;padding:8px 0}th{display:none}}</style></head>
<body><p><a href="/admin">${t('console')}</a> · <a href="?lang=${l === 'en' ? 'zh-CN' : 'en'}">${l === 'en' ? '中文' : 'English'}</a></p>
<h1>${t('title')}</h1><p>${t('intro')}</p>
${notice ? `<p class="notice${notice.ok ? '' : ' bad'}" role="status">${esc(notice.text)}</p>` : ''}
${held.length ? `<table><thead><tr><th>${t('order')}</th><th>${t('goods')}</th><th>${t('buyer')}</th><th>${t('why')}</th><th></th></tr></thead><tbody>${rows}</tbody></table>` : `<p>${t('empty')}</p>`}
</body></html>`;
}

/** A decision's outcome as the admin reads it: done, or why not (decided already, a bad reason). */
async function decide(orders: Orders, c: Ctx, action: 'approve' | 'reject', reason: unknown): Promise<{ ok: boolean; key: 'approved' | 'rejected' | 'not_held' | 'reason_required' }> {
  const input = { no: String(c.params.no), actorId: c.state.user!.id, ip: c.ip };
  try {
    if (action === 'approve') await orders.approve(input);
    else await orders.reject({ ...input, reason: typeof reason === 'string' ? reason : '' });
    return { ok: true, key: action === 'approve' ? 'approved' : 'rejected' };
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'validation_failed') return { ok: false, key: 'reason_required' };
    if (code === 'invalid_state' || code === 'not_found') return { ok: false, key: 'not_held' };
    throw err;
  }
}

export function reviewRoutes(r: ShopRouter, orders: Orders): void {
  r.get('/review', async (c) => {
    if (!isAdmin(c, true)) return;
    const q = c.query as Record<string, string | undefined>;
    const key = q.done as MessageKey | undefined;
    const notice = key && ['approved', 'rejected', 'not_held', 'reason_required'].includes(key) ? { ok: q.ok === '1', text: text(c.state.locale as Locale, key, { no: q.no ?? '' }) } : null;
    c.type = 'html';
    c.set('Cache-Control', 'no-store');
    c.body = page(c, await orders.held({ limit: 200 }), notice);
  });

  r.post('/review/:no/:action', async (c) => {
    if (!isAdmin(c, true)) return;
    const action = c.params.action;
    const body = bodyOf(c);
    if (action !== 'approve' && action !== 'reject') return;
    // The shop's double-submit token: a form from another site cannot carry it.
    if (typeof body._csrf !== 'string' || body._csrf !== c.state.csrf) {
      c.status = 403;
      c.body = { error: { code: 'csrf_failed' } };
      return;
    }
    const result = await decide(orders, c, action, body.reason);
    c.redirect(`/plugins/risk/review?done=${result.key}&ok=${result.ok ? 1 : 0}&no=${encodeURIComponent(String(c.params.no))}`);
  });

  r.get('/held', async (c) => {
    if (!isAdmin(c)) return;
    c.body = { orders: await orders.held({ limit: 500 }) };
  });

  r.post('/held/:no/:action', async (c) => {
    if (!isAdmin(c)) return;
    const action = c.params.action;
    if (action !== 'approve' && action !== 'reject') return;
    // JSON only: a cross-site form cannot send it, so no CSRF token is needed.
    if (!c.is('application/json')) {
      c.status = 415;
      c.body = { error: { code: 'unsupported_media_type' } };
      return;
    }
    const result = await decide(orders, c, action, bodyOf(c).reason);
    c.status = result.ok ? 200 : result.key === 'reason_required' ? 400 : 409;
    c.body = result.ok ? { ok: true } : { error: { code: result.key === 'reason_required' ? 'validation_failed' : 'invalid_state', fields: result.key === 'reason_required' ? { reason: 'field.required' } : undefined } };
  });
}
