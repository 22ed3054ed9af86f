import { ZodError } from 'zod';
import { isDatabaseUnavailable, isStorageFull } from '../db/dialect.js';
import { fromZod, ShopError } from '../errors.js';
import { translate } from '../i18n/messages.js';
import { isApi, type ShopContext } from './context.js';
import { renderPage } from './render.js';
import { pickLocale } from './session.js';

/** Turns anything thrown below into a ShopError a user may see. */
export function toShopError(err: unknown): ShopError {
  if (err instanceof ShopError) return err;
  if (err instanceof ZodError) return fromZod(err);
  if (isStorageFull(err)) return new ShopError('storage_full', 503, 'faults.storage_full');
  if (isDatabaseUnavailable(err)) return new ShopError('database_unavailable', 503, 'faults.database_unavailable');
  return new ShopError('internal', 500, 'error.internal');
}

/** What the body parser throws, as the error a client should see. */
export function bodyError(err: unknown): ShopError {
  const e = err as { status?: number; type?: string };
  if (e?.status === 413 || e?.type === 'entity.too.large') return new ShopError('payload_too_large', 413, 'error.payload_too_large');
  if (e?.status === 415) return new ShopError('unsupported_media_type', 415, 'error.unsupported_media_type');
  return new ShopError('bad_json', 400, 'error.bad_json');
}

/**
 * The outermost middleware: every error becomes a real 4xx/5xx, as JSON
 * `{ error: { code, message, fields } }` under /api and as the theme's error page elsewhere.
 * Unexpected errors are logged with their stack and shown without it.
 */
export async function handleErrors(ctx: ShopContext, next: () => Promise<void>): Promise<void> {
  try {
    await next();
    if (ctx.status === 404 && ctx.body === undefined) throw new ShopError('not_found', 404, 'error.not_found');
    // The routers' own answer to a known path asked with another method (its Allow header stays).
    if ((ctx.status === 405 || ctx.status === 501) && !ctx.body) throw new ShopError('method_not_allowed', ctx.status, 'error.method_not_allowed');
  } catch (err) {
    const e = toShopError(err);
    if (e.status === 503) {
      // An outage, not a bug: one line (the driver's message), and the client may come back soon.
      ctx.shop.log.warn(`${ctx.method} ${ctx.path}: ${e.code}: ${(err as Error)?.message ?? err}`);
      ctx.set('Retry-After', '5');
    } else if (e.status >= 500 && !(err instanceof ShopError)) ctx.shop.log.error(`${ctx.method} ${ctx.path} failed`, err);
    // Middleware before the session's (the site's lookup) may fail first: still answer in the browser's language.
    const locale = (ctx.state.locale ??= pickLocale(ctx));
    const message = translate(locale, e.messageKey, e.params);
    ctx.status = e.status;
    // A refusal for too many attempts says when to come back, where it knows.
    if (e.status === 429 && typeof e.params?.minutes === 'number') ctx.set('Retry-After', String(e.params.minutes * 60));
    if (isApi(ctx)) {
      const fields = e.fields
        ? Object.fromEntries(Object.entries(e.fields).map(([k, v]) => [k, translate(locale, v, e.params)]))
        : undefined;
      ctx.body = { error: { code: e.code, message, ...(fields ? { fields } : {}) } };
    } else {
      // The layout shows a signed-in buyer's balance, which would ask the database that is away.
      if (e.status === 503) ctx.state.user = undefined;
      await renderPage(ctx, 'error', { title: message, status: e.status, code: e.code, message }, e.status);
    }
  }
}
