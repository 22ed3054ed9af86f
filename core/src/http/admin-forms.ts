import { UTC_OFFSET_MS } from '../reports/periods.js';
import { errors, type ShopError } from '../errors.js';
import { translate } from '../i18n/messages.js';
import { parseMoney } from '../money/money.js';
import type { ShopContext, ShopRouter } from './context.js';
import { toShopError } from './errors.js';
import { checkCsrf } from './session.js';

/** Helpers the console's form pages share: reading a posted form, and post-redirect-get. */

export type Form = Record<string, string | string[] | undefined>;

/** The posted form, strings trimmed; a repeated name (checkboxes) is a list. */
export function formOf(ctx: ShopContext): Form {
  const out: Form = {};
  for (const [k, v] of Object.entries((ctx.request.body ?? {}) as Record<string, unknown>)) {
    if (typeof v === 'string') out[k] = v.trim();
    else if (Array.isArray(v)) out[k] = v.filter((x): x is string => typeof x === 'string').map((x) => x.trim());
  }
  return out;
}

export const one = (v: string | string[] | undefined): string => (typeof v === 'string' ? v : '');
export const many = (v: string | string[] | undefined): string[] => (v === undefined ? [] : typeof v === 'string' ? [v] : v);

/** A `datetime-local` value, read as the console shows times (Asia/Shanghai, UTC+8 all year); null when empty. */
export const instantOf = (v: string) => (v ? Date.parse(`${v.length === 16 ? `${v}:00` : v}+08:00`) : null);
/** An instant as a `datetime-local` value, the way `instantOf` reads it back. */
export const localInput = (ms: number) => new Date(ms + UTC_OFFSET_MS).toISOString().slice(0, 16);

/** An amount typed in yuan as minor units; NaN (refused by the schema) when it is not one. */
export const yuan = (v: string | string[] | undefined) => parseMoney(one(v)) ?? NaN;
/** A whole number typed in a form; NaN when it is not one, undefined when left empty. */
export const whole = (v: string | string[] | undefined) => (one(v) === '' ? undefined : /^-?\d{1,15}$/.test(one(v)) ? Number(one(v)) : NaN);
/** A percentage typed as `10`, `-5.5` or `+12.25`, in basis points; NaN when it is not one. */
export const percentBp = (v: string | string[] | undefined) => (/^[+-]?\d{1,5}(\.\d{1,2})?$/.test(one(v)) ? Math.round(Number(one(v)) * 100) : NaN);

export const actorOf = (ctx: ShopContext) => ({ id: ctx.state.user!.id, ip: ctx.ip });

/** A route parameter ('' when the route has none of that name). */
export const param = (ctx: ShopContext, name: string): string => (ctx as ShopContext & { params?: Record<string, string> }).params?.[name] ?? '';

/** A positive integer route parameter, else 404. */
export function idParam(ctx: ShopContext, name = 'id'): number {
  const id = Number(param(ctx, name));
  if (!Number.isSafeInteger(id) || id <= 0) throw errors.notFound();
  return id;
}

/** An error as one line for the page: the message, then each field named with its problem. */
export function failureText(ctx: ShopContext, f: ShopError): string {
  const t = (key: string) => translate(ctx.state.locale, key, f.params);
  return [t(f.messageKey), ...Object.entries(f.fields ?? {}).map(([k, v]) => `${translate(ctx.state.locale, `admin.field.${k}`, f.params).replace(/^admin\.field\./, '')}: ${t(v)}`)].join(' · ');
}

/**
 * A console form post: checks the CSRF token, runs the action, and redirects (303) where `back`
 * says; a refusal (4xx) shows the page again with the error and its status, having changed nothing.
 */
export function consolePost(
  r: ShopRouter,
  path: string,
  show: (ctx: ShopContext, failure: ShopError) => Promise<void>,
  act: (ctx: ShopContext, form: Form) => Promise<string>,
): void {
  r.post(path, async (ctx) => {
    checkCsrf(ctx);
    try {
      const back = await act(ctx, formOf(ctx));
      ctx.status = 303;
      ctx.redirect(back);
    } catch (err) {
      const e = toShopError(err);
      if (e.status >= 500) throw err;
      await show(ctx, e);
    }
  });
}
