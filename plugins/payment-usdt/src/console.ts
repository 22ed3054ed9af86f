import type { ShopContext, ShopRouter } from '@cardshop/core';
import type { Knex } from 'knex';
import { formatMicro } from './amounts.js';
import { text, type Locale, type MessageKey } from './messages.js';
import { openPayments, recentTransfers, type PaymentRow, type TransferRow } from './store.js';

type Ctx = ShopContext & { params: Record<string, string> };
const bodyOf = (c: Ctx) => ((c.request as { body?: unknown }).body ?? {}) as Record<string, unknown>;
const esc = (v: unknown) => String(v ?? '').replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** Whether the request is an admin's; otherwise answers it (401/403, or the login page for a browser). */
function isAdmin(c: Ctx, page = false): boolean {
  const user = c.state.user;
  if (user?.role === 'admin') return true;
  if (!user && page) c.redirect(`/login?next=${encodeURIComponent(c.originalUrl)}`);
  else {
    c.status = user ? 403 : 401;
    c.body = { error: { code: user ? 'forbidden' : 'unauthorized' } };
  }
  return false;
}

const transferJson = (t: TransferRow, places: number) => ({ ...t, amount: formatMicro(t.amount, Math.max(places, 6)) });
const paymentJson = (p: PaymentRow, places: number) => ({ orderNo: p.orderNo, address: p.address, amount: formatMicro(p.amount, places), fen: p.fen, expiresAt: p.expiresAt, holdUntil: p.holdUntil, status: p.status });

/**
 * The console's USDT page (`/plugins/usdt/`, admins): transfers waiting for review, recent ones,
 * open payments and a button that reads the chain now. The same as JSON at `/plugins/usdt/transfers`.
 */
export function consoleRoutes(r: ShopRouter, o: { db: Knex; addresses: string[]; places: number; scan: () => Promise<{ seen: number }> }): void {
  r.get('/transfers', async (c) => {
    if (!isAdmin(c)) return;
    const review = c.query.review === '1';
    c.body = { transfers: (await recentTransfers(o.db, { review })).map((t) => transferJson(t, o.places)), open: (await openPayments(o.db, Date.now())).map((p) => paymentJson(p, o.places)) };
  });

  r.post('/scan', async (c) => {
    if (!isAdmin(c)) return;
    if (bodyOf(c)._csrf !== c.state.csrf) {
      c.status = 403;
      c.body = { error: { code: 'csrf_failed' } };
      return;
    }
    const { seen } = await o.scan();
    if (c.accepts('html', 'json') === 'json') c.body = { seen };
    else c.redirect(`/plugins/usdt/?scanned=${seen}`);
  });

  r.get('/', async (c) => {
    if (!isAdmin(c, true)) return;
    const l = c.state.locale as Locale;
    const t = (key: MessageKey, params?: Record<string, string | number>) => esc(text(l, key, params));
    const when = (ms: number) => new Intl.DateTimeFormat(l, { dateStyle: 'short', timeStyle: 'medium', timeZone: 'Asia/Shanghai' }).format(ms);
    const orderLink = (no: string | null) => (no ? `<a href="/admin/payments/orders/${esc(no)}">${esc(no)}</a>` : '–');
    const transferRows = (list: TransferRow[]) =>
      list.length
        ? `<table><thead><tr><th>${t('time')}</th><th>${t('tx')}</th><th>${t('from')}</th><th>${t('amount')}</th><th>${t('order')}</th><th>${t('outcome')}</th><th>${t('action')}</th></tr></thead><tbody>${list
            .map(
              (x) => `<tr><td>${esc(when(x.blockTs))}</td><td><code>${esc(x.txId)}</code></td><td><code>${esc(x.sender)}</code></td><td>${esc(formatMicro(x.amount, 6))}</td><td>${orderLink(x.orderNo)}</td><td>${t(`outcome.${x.outcome}` as MessageKey)}<br><small>${esc(x.note)}</small></td><td>${t(`action.${x.action}` as MessageKey)}${x.settled ? '' : ` ${t('unsettled')}`}</td></tr>`,
            )
            .join('')}</tbody></table>`
        : `<p>${t('empty')}</p>`;
    const open = await openPayments(o.db, Date.now());
    const scanned = typeof c.query.scanned === 'string' ? `<p class="notice" role="status">${t('scanned', { n: c.query.scanned })}</p>` : '';
    c.type = 'html';
    c.body = `<!doctype html><html lang="${esc(l)}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${t('title')}</title>
<style>body{font:15px/1.5 system-ui,"PingFang SC","Microsoft YaHei",sans-serif;margin:0 auto;max-width:1200px;padding:16px;color:#1f2328}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e4e7eb;vertical-align:top}code{word-break:break-all;font-size:.85em}
button{padding:4px 12px;border:0;border-radius:6px;background:#1d4ed8;color:#fff;cursor:pointer}.notice{padding:8px 12px;border-radius:8px;background:#ecfdf3}
@media (max-width:700px){table,tr,td{display:block}tr{border-bottom:2px solid #d8dde3;padding:8px 0}th{display:none}}</style></head>
<body><p><a href="/admin">${t('console')}</a> · <a href="/admin/payments">/admin/payments</a> · <a href="?lang=${l === 'en' ? 'zh-CN' : 'en'}">${l === 'en' ? '中文' : 'English'}</a></p>
<h1>${t('title')}</h1><p>${t('intro')}</p>${scanned}
<form method="post" action="/plugins/usdt/scan"><input type="hidden" name="_csrf" value="${esc(c.state.csrf)}"><button>${t('scan')}</button></form>
<p>${t('addresses')}: ${o.addresses.map((a) => `<code>${esc(a)}</code>`).join(' · ')}</p>
<h2>${t('review')}</h2>${transferRows(await recentTransfers(o.db, { review: true }))}
<h2>${t('open')}</h2>${open.length ? `<table><thead><tr><th>${t('order')}</th><th>${t('amount')}</th><th>${t('expires')}</th></tr></thead><tbody>${open.map((p) => `<tr><td>${orderLink(p.orderNo)}</td><td>${esc(formatMicro(p.amount, o.places))} USDT · <code>${esc(p.address)}</code></td><td>${esc(when(p.expiresAt))}</td></tr>`).join('')}</tbody></table>` : `<p>${t('empty')}</p>`}
<h2>${t('recent')}</h2>${transferRows(await recentTransfers(o.db))}
</body></html>`;
  });
}
