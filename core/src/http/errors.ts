import { ZodError } from 'zod';
import { fromZod, ShopError } from '../errors.js';
import { translate } from '../i18n/messages.js';
import { isApi, type ShopContext } from './context.js';
import { renderPage } from './render.js';

/** Turns anything thrown below into a ShopError a user may see. */
export function toShopError(err: unknown): ShopError {
  if (err instanceof ShopError) return err;
  if (err instanceof ZodError) return fromZod(err);
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
  } catch (err) {
    const e = toShopError(err);
    if (e.status >= 500 && !(err instanceof ShopError)) ctx.shop.log.error(`${ctx.method} ${ctx.path} failed`, err);
    const locale = ctx.state.locale ?? 'zh-CN';
    const message = translate(locale, e.messageKey, e.params);
    ctx.status = e.status;
    if (isApi(ctx)) {
      const fields = e.fields
        ? Object.fromEntries(Object.entries(e.fields).map(([k, v]) => [k, translate(locale, v, e.params)]))
        : undefined;
      ctx.body = { error: { code: e.code, message, ...(fields ? { fields } : {}) } };
    } else {
      await renderPage(ctx, 'error', { title: message, status: e.status, code: e.code, message }, e.status);
    }
  }
}
