import QRCode from 'qrcode';
import { dayOf, text, timeOf, type Locale, type MessageKey } from './messages.js';
import type { Staff, VoucherView } from './vouchers.js';

/**
 * HTML for phones: the buyer's voucher page (code and QR) and the store's redemption page. Plain
 * forms, no script: the QR code holds the store page's link, so a cashier scans it with the
 * phone's camera and lands on the voucher, signed in.
 */

const esc = (v: unknown) => String(v ?? '').replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** The last day a voucher can be used (its end is exclusive). */
const lastDay = (v: VoucherView, l: Locale) => dayOf(v.validUntil - 1, l);

/** The text the buyer's order shows for its vouchers (the shop's language), with each voucher page's link. */
export function receipt(vouchers: VoucherView[], l: Locale, shopUrl: string): string {
  const v = vouchers[0];
  if (!v) return '';
  const lines = [
    `${text(l, 'voucher')} · ${v.title}`,
    `${text(l, 'store')}: ${v.merchant.name}${v.merchant.address ? ` (${v.merchant.address})` : ''}`,
    `${text(l, 'valid')}: ${text(l, 'valid_range', { from: dayOf(v.validFrom, l), until: lastDay(v, l) })} · ${text(l, v.refundExpired ? 'refund_rule_yes' : 'refund_rule_no')}`,
    `${text(l, 'uses')}: ${v.usesTotal}`,
    ...(v.rules ? [`${text(l, 'rules')}: ${v.rules}`] : []),
    `${text(l, 'page_link')} (${text(l, 'show_qr')}):`,
    ...vouchers.map((x) => `${shopUrl}/plugins/local-life/v/${encodeURIComponent(x.code)}`),
  ];
  return lines.join('\n');
}

function shell(l: Locale, title: string, body: string): string {
  return `<!doctype html><html lang="${esc(l)}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>${esc(title)}</title>
<style>body{font:16px/1.5 system-ui,"PingFang SC","Microsoft YaHei",sans-serif;margin:0 auto;max-width:480px;padding:16px;color:#1f2328}
h1{font-size:1.3em}.card{border:1px solid #d8dde3;border-radius:12px;padding:16px;margin:12px 0}
.code{font:600 1.4em/1.3 ui-monospace,monospace;letter-spacing:.05em;word-break:break-all}.qr{display:block;width:100%;max-width:280px;margin:8px auto;image-rendering:pixelated}
dl{display:grid;grid-template-columns:auto 1fr;gap:4px 12px;margin:8px 0}dt{color:#59636e}dd{margin:0}
.state{display:inline-block;padding:2px 10px;border-radius:999px;background:#ecfdf3;color:#067647;font-weight:600}.state.off{background:#fef3f2;color:#b42318}
label{display:block;font-weight:600;margin-top:12px}input{width:100%;box-sizing:border-box;padding:10px;font:inherit;border:1px solid #b8c0ca;border-radius:8px}
button{margin-top:12px;width:100%;padding:12px;border:0;border-radius:8px;background:#1d4ed8;color:#fff;font:inherit;font-weight:600}
.notice{padding:10px 12px;border-radius:8px;background:#ecfdf3}.notice.bad{background:#fef3f2;color:#b42318}.muted{color:#59636e;font-size:.9em}
@media (prefers-color-scheme:dark){body{background:#0f1115;color:#e6e8eb}.card{border-color:#2e343d}}</style></head>
<body>${body}</body></html>`;
}

function details(v: VoucherView, l: Locale): string {
  const usable = v.state === 'usable';
  return `<p><span class="state${usable ? '' : ' off'}">${esc(text(l, `state_${v.state}` as MessageKey))}</span></p>
<dl><dt>${esc(text(l, 'store'))}</dt><dd>${esc(v.merchant.name)}${v.merchant.address ? `<br><span class="muted">${esc(v.merchant.address)}</span>` : ''}</dd>
<dt>${esc(text(l, 'valid'))}</dt><dd>${esc(text(l, 'valid_range', { from: dayOf(v.validFrom, l), until: lastDay(v, l) }))}</dd>
<dt>${esc(text(l, 'uses'))}</dt><dd>${esc(text(l, 'uses_left', { left: v.usesLeft, total: v.usesTotal }))}</dd>
${v.rules ? `<dt>${esc(text(l, 'rules'))}</dt><dd>${esc(v.rules)}</dd>` : ''}</dl>
${v.redemptions.length ? `<p class="muted">${esc(text(l, 'history'))}: ${v.redemptions.map((r) => esc(text(l, 'used_times', { at: timeOf(r.at, l), uses: r.uses }))).join('; ')}</p>` : ''}`;
}

/** The buyer's page: the code, its QR code (the store page's link to it) and what it is good for. */
export async function voucherPage(v: VoucherView, l: Locale, origin: string): Promise<string> {
  const link = `${origin}/plugins/local-life/m/redeem?code=${encodeURIComponent(v.code)}`;
  const qr = await QRCode.toDataURL(link, { margin: 1, width: 280, errorCorrectionLevel: 'M' });
  return shell(
    l,
    `${v.title} - ${text(l, 'voucher')}`,
    `<h1>${esc(v.title)}</h1><div class="card">
<img class="qr" src="${qr}" alt="${esc(text(l, 'code'))} ${esc(v.code)}">
<p class="muted">${esc(text(l, 'show_qr'))}</p>
<p>${esc(text(l, 'code'))}: <span class="code">${esc(v.code)}</span></p>
${details(v, l)}</div>`,
  );
}

export function notFoundPage(l: Locale): string {
  return shell(l, text(l, 'voucher'), `<h1>${esc(text(l, 'voucher'))}</h1><p class="notice bad">${esc(text(l, 'not_found'))}</p>`);
}

const hidden = (csrf: string) => `<input type="hidden" name="_csrf" value="${esc(csrf)}">`;

export function signInPage(l: Locale, csrf: string, opts: { error?: MessageKey; next?: string; merchant?: string }): string {
  return shell(
    l,
    text(l, 'staff_title'),
    `<h1>${esc(text(l, 'staff_title'))}</h1>
${opts.error ? `<p class="notice bad" role="alert">${esc(text(l, opts.error))}</p>` : ''}
<form method="post" action="/plugins/local-life/m/login">${hidden(csrf)}<input type="hidden" name="next" value="${esc(opts.next ?? '')}">
<label for="merchant">${esc(text(l, 'merchant'))}</label><input id="merchant" name="merchant" autocomplete="organization" required value="${esc(opts.merchant ?? '')}">
<label for="pin">${esc(text(l, 'pin'))}</label><input id="pin" name="pin" type="password" inputmode="numeric" autocomplete="current-password" required>
<button>${esc(text(l, 'sign_in'))}</button></form>`,
  );
}

/** The store's page: who is signed in, a code box, and the voucher looked up with its redeem form. */
export function staffPage(l: Locale, csrf: string, staff: Staff, opts: { code?: string; voucher?: VoucherView; notice?: { ok: boolean; text: string } }): string {
  const v = opts.voucher;
  const form =
    v && v.state === 'usable'
      ? `<form method="post" action="/plugins/local-life/m/redeem">${hidden(csrf)}<input type="hidden" name="code" value="${esc(v.code)}">
${v.usesLeft > 1 ? `<label for="uses">${esc(text(l, 'redeem_uses'))}</label><input id="uses" name="uses" type="number" min="1" max="${v.usesLeft}" value="1" inputmode="numeric">` : ''}
<button>${esc(text(l, 'redeem'))}</button></form>`
      : '';
  return shell(
    l,
    text(l, 'staff_title'),
    `<p class="muted">${esc(text(l, 'signed_in_as', { staff: staff.name, store: staff.merchantName }))}</p>
<h1>${esc(text(l, 'staff_title'))}</h1>
${opts.notice ? `<p class="notice${opts.notice.ok ? '' : ' bad'}" role="status">${esc(opts.notice.text)}</p>` : ''}
<form method="get" action="/plugins/local-life/m/redeem"><label for="code">${esc(text(l, 'enter_code'))}</label>
<input id="code" name="code" autocomplete="off" autocapitalize="characters" value="${esc(opts.code ?? '')}"><button>${esc(text(l, 'look_up'))}</button></form>
${v ? `<div class="card"><h2>${esc(v.title)}</h2><p class="code">${esc(v.code)}</p>${details(v, l)}${form}</div>` : ''}
<form method="post" action="/plugins/local-life/m/logout">${hidden(csrf)}<button style="background:#59636e">${esc(text(l, 'sign_out'))}</button></form>`,
  );
}
