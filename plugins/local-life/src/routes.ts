import { timingSafeEqual } from 'node:crypto';
import type { PluginContext, ShopContext, ShopRouter } from '@cardshop/core';
import { isLocale, text, type Locale, type MessageKey } from './messages.js';
import { notFoundPage, signInPage, staffPage, voucherPage } from './pages.js';
import type { LocalLifeSettings } from './settings.js';
import { VoucherError, type Staff, type Vouchers } from './vouchers.js';

/**
 * Under /plugins/local-life/:
 * - `GET /v/:code`: the buyer's voucher page (code, QR code, store, validity, uses, rules);
 * - `/m`: the store's phone page: sign in with the store code and a staff PIN, type or scan a code,
 *   redeem (forms with the shop's CSRF token);
 * - `/api/…`: the same for a till: `POST /api/login` → a bearer token, `GET /api/vouchers/:code`,
 *   `POST /api/redeem` `{ code, uses }`;
 * - `/admin/…`: merchants, staff, voucher SKUs, an order's vouchers, a sweep now (JSON, admins).
 */

const COOKIE = 'll_staff';
/** A route's context: the shop's, with the router's params (the body parser's body is read through `bodyOf`). */
type Ctx = ShopContext & { params: Record<string, string> };
const bodyOf = (c: Ctx) => ((c.request as { body?: unknown }).body ?? {}) as Record<string, unknown>;
type Host = Pick<PluginContext<LocalLifeSettings>, 'crypto' | 'settings' | 'rateLimit'>;

const localeOf = (c: Ctx): Locale => (isLocale(c.state.locale) ? c.state.locale : 'zh-CN');

function fail(c: Ctx, err: unknown): void {
  if (!(err instanceof VoucherError)) throw err;
  c.status = err.status;
  c.body = { error: { code: err.code, message: text(localeOf(c), err.code as MessageKey), ...(err.fields ? { fields: err.fields } : {}) } };
}

/** JSON bodies only: a form from another site cannot send one, so these need no CSRF token. */
function jsonBody(c: Ctx): Record<string, unknown> | undefined {
  if (c.is('application/json')) return bodyOf(c);
  c.status = 415;
  c.body = { error: { code: 'unsupported_media_type' } };
  return undefined;
}

/** A form's body, when it carries this browser's CSRF token. */
function formBody(c: Ctx): Record<string, unknown> | undefined {
  const body = bodyOf(c);
  if (typeof body._csrf === 'string' && body._csrf === c.state.csrf && c.state.csrf) return body;
  c.status = 403;
  c.type = 'html';
  c.body = `<p>${text(localeOf(c), 'csrf_failed')}</p>`;
  return undefined;
}

function admin(c: Ctx): boolean {
  if (c.state.user?.role === 'admin') return true;
  c.status = c.state.user ? 403 : 401;
  c.body = { error: { code: c.state.user ? 'forbidden' : 'unauthorized' } };
  return false;
}

const html = (c: Ctx, body: string, status = 200) => {
  c.status = status;
  c.type = 'html';
  c.set('Cache-Control', 'no-store');
  c.body = body;
};

export function routes(r: ShopRouter, v: Vouchers, host: Host): void {
  const s = host.settings;
  const limits = { perAddress: s.pinTriesPerAddress, perMerchant: s.pinTriesPerMerchant, windowMs: s.pinWindowMinutes * 60_000 };

  /**
   * A staff session is `<staff id>.<expiry>.<HMAC>`, the HMAC keyed by the plugin and over the
   * staff's PIN hash too: a new PIN or a disabled member ends every session at once.
   */
  const mac = (id: number, exp: number, pinHash: string) => host.crypto.fingerprint(`staff:${id}:${exp}:${pinHash}`);
  const tokenFor = (staff: Staff & { pinHash: string }, exp: number) => `${staff.id}.${exp}.${mac(staff.id, exp, staff.pinHash)}`;
  async function staffOf(c: Ctx): Promise<Staff | undefined> {
    const auth = c.get('authorization');
    const raw = auth.startsWith('Bearer ') ? auth.slice(7) : c.cookies.get(COOKIE);
    const [id, exp, sig] = (raw ?? '').split('.');
    if (!id || !exp || !sig || Number(exp) < Date.now()) return undefined;
    const staff = await v.staff(Number(id));
    if (!staff) return undefined;
    const expected = Buffer.from(mac(staff.id, Number(exp), staff.pinHash));
    return expected.length === sig.length && timingSafeEqual(expected, Buffer.from(sig)) ? staff : undefined;
  }
  async function signIn(c: Ctx, body: Record<string, unknown>) {
    const staff = await v.signIn({ merchant: String(body.merchant ?? ''), pin: String(body.pin ?? ''), ip: c.ip }, limits);
    const exp = Date.now() + s.staffHours * 3_600_000;
    return { staff, exp, token: tokenFor((await v.staff(staff.id))!, exp) };
  }

  // The buyer's page. The code in the link is the voucher itself; views are rate-limited per address.
  r.get('/v/:code', async (c) => {
    const l = localeOf(c);
    if (!(await host.rateLimit({ scope: 'view', key: c.ip, limit: s.pageViewsPerAddress, windowMs: 600_000 }))) return html(c, `<p>${text(l, 'too_many_tries')}</p>`, 429);
    const voucher = await v.find(String(c.params.code));
    if (!voucher) return html(c, notFoundPage(l), 404);
    c.set('Referrer-Policy', 'no-referrer');
    html(c, await voucherPage(voucher, l, c.origin));
  });

  r.get('/m', async (c) => {
    const staff = await staffOf(c);
    const next = typeof c.query.next === 'string' ? c.query.next : '';
    html(c, staff ? staffPage(localeOf(c), c.state.csrf, staff, {}) : signInPage(localeOf(c), c.state.csrf, { next }));
  });

  r.post('/m/login', async (c) => {
    const body = formBody(c);
    if (!body) return;
    try {
      const { token, exp } = await signIn(c, body);
      c.cookies.set(COOKIE, token, { httpOnly: true, sameSite: 'lax', secure: c.secure, path: '/plugins/local-life', maxAge: exp - Date.now(), signed: false, overwrite: true });
      const next = String(body.next ?? '');
      c.redirect(next.startsWith('/plugins/local-life/m') ? next : '/plugins/local-life/m');
    } catch (err) {
      if (!(err instanceof VoucherError)) throw err;
      html(c, signInPage(localeOf(c), c.state.csrf, { error: err.code as MessageKey, next: String(body.next ?? ''), merchant: String(body.merchant ?? '') }), err.status);
    }
  });

  r.post('/m/logout', async (c) => {
    if (!formBody(c)) return;
    c.cookies.set(COOKIE, '', { path: '/plugins/local-life', maxAge: 0, signed: false, overwrite: true });
    c.redirect('/plugins/local-life/m');
  });

  // Where the voucher's QR code leads: a signed-in cashier sees the voucher at once.
  r.get('/m/redeem', async (c) => {
    const staff = await staffOf(c);
    if (!staff) return c.redirect(`/plugins/local-life/m?next=${encodeURIComponent(c.originalUrl)}`);
    const l = localeOf(c);
    const code = typeof c.query.code === 'string' ? c.query.code.trim() : '';
    const voucher = code ? await v.find(code) : undefined;
    const mine = voucher && voucher.merchant.code === staff.merchantCode ? voucher : undefined;
    html(c, staffPage(l, c.state.csrf, staff, { code, voucher: mine, notice: code && !mine ? { ok: false, text: text(l, 'not_found') } : undefined }));
  });

  r.post('/m/redeem', async (c) => {
    const body = formBody(c);
    if (!body) return;
    const staff = await staffOf(c);
    if (!staff) return c.redirect('/plugins/local-life/m');
    const l = localeOf(c);
    try {
      const voucher = await v.redeem(staff, { code: body.code, uses: body.uses, ip: c.ip });
      const used = voucher.redemptions.at(-1)?.uses ?? 1;
      html(c, staffPage(l, c.state.csrf, staff, { voucher, notice: { ok: true, text: text(l, 'redeemed', { uses: used, left: voucher.usesLeft }) } }));
    } catch (err) {
      if (!(err instanceof VoucherError)) throw err;
      const voucher = err.code === 'not_found' ? undefined : await v.find(String(body.code));
      html(c, staffPage(l, c.state.csrf, staff, { code: String(body.code ?? ''), voucher, notice: { ok: false, text: text(l, err.code as MessageKey) } }), err.status);
    }
  });

  r.post('/api/login', async (c) => {
    const body = jsonBody(c);
    if (!body) return;
    try {
      const { staff, token, exp } = await signIn(c, body);
      c.body = { token, expiresAt: exp, staff: { name: staff.name, merchant: staff.merchantCode } };
    } catch (err) {
      fail(c, err);
    }
  });

  r.get('/api/vouchers/:code', async (c) => {
    const staff = await staffOf(c);
    if (!staff) return fail(c, new VoucherError('bad_pin', 401));
    const voucher = await v.find(String(c.params.code));
    if (!voucher || voucher.merchant.code !== staff.merchantCode) return fail(c, new VoucherError('not_found', 404));
    c.body = { voucher };
  });

  r.post('/api/redeem', async (c) => {
    const body = jsonBody(c);
    if (!body) return;
    const staff = await staffOf(c);
    if (!staff) return fail(c, new VoucherError('bad_pin', 401));
    try {
      c.body = { voucher: await v.redeem(staff, { code: body.code, uses: body.uses, ip: c.ip }) };
    } catch (err) {
      fail(c, err);
    }
  });

  r.get('/admin/merchants', async (c) => {
    if (admin(c)) c.body = { merchants: await v.listMerchants() };
  });
  const adminWrite = (method: 'post' | 'put', path: string, handle: (c: Ctx, body: Record<string, unknown>) => Promise<unknown>) =>
    r[method](path, async (c) => {
      if (!admin(c)) return;
      const body = jsonBody(c);
      if (!body) return;
      try {
        c.body = await handle(c, body);
      } catch (err) {
        fail(c, err);
      }
    });
  adminWrite('post', '/admin/merchants', async (c, body) => {
    c.status = 201;
    return { merchant: await v.addMerchant(body) };
  });
  adminWrite('post', '/admin/merchants/:code/staff', async (c, body) => {
    c.status = 201;
    return { staff: await v.addStaff(String(c.params.code), body) };
  });
  adminWrite('put', '/admin/skus/:sku', async (c, body) => ({ sku: await v.setSku(String(c.params.sku), body) }));
  adminWrite('post', '/admin/sweep', async () => v.sweep());
  r.get('/admin/orders/:no/vouchers', async (c) => {
    if (admin(c)) c.body = { vouchers: await v.ofOrder(String(c.params.no)) };
  });
}
