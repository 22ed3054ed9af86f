import { touchConsole, userForSession } from '../agents/users.js';
import { ShopError } from '../errors.js';
import { isLocale, negotiateLocale } from '../i18n/messages.js';
import { hmacHex, randomToken, safeEqual } from '../security/keys.js';
import { cookieOptions, CSRF_COOKIE, isApi, LOCALE_COOKIE, ORDERS_COOKIE, SESSION_COOKIE, signedCookie, type ShopContext } from './context.js';

const GRANTS_COOKIE = 'cs_lookup';

const YEAR = 365 * 86_400_000;

/** The operator's console, whose sessions time out when idle (config `console.idleMinutes`). */
const CONSOLE_PATH = /^\/(api\/)?admin(\/|$)/;

/** Page language: `?lang=` (remembered in a cookie), then the cookie, then the browser's. */
export function pickLocale(ctx: ShopContext) {
  const asked = ctx.query.lang;
  if (isLocale(asked)) {
    ctx.cookies.set(LOCALE_COOKIE, asked, { httpOnly: true, sameSite: 'lax', maxAge: YEAR, signed: false });
    return asked;
  }
  const saved = ctx.cookies.get(LOCALE_COOKIE);
  if (isLocale(saved)) return saved;
  return ctx.get('accept-language') ? negotiateLocale(ctx.get('accept-language')) : ctx.shop.config.shop.locale;
}

/**
 * Loads who is asking, and guards forms against cross-site posts: every HTML form carries a token
 * that is an HMAC of a random cookie (double submit, bound to this browser). JSON endpoints need
 * no token: they refuse any body that is not JSON, which a cross-site form cannot send, and the
 * session cookie is SameSite=Lax.
 */
export async function loadSession(ctx: ShopContext, next: () => Promise<void>): Promise<void> {
  ctx.state.locale = pickLocale(ctx);

  const token = signedCookie(ctx, SESSION_COOKIE);
  if (token) {
    const user = await userForSession(ctx.shop, token);
    const idle = user && (user.role === 'admin' || user.role === 'staff') && CONSOLE_PATH.test(ctx.path);
    if (user && (!idle || (await touchConsole(ctx.shop, token, ctx.shop.config.console.idleMinutes * 60_000)))) {
      ctx.state.user = user;
      ctx.state.sessionToken = token;
    }
  }

  if (isApi(ctx)) {
    ctx.state.csrf = '';
    const hasBody = ctx.request.length || ctx.get('transfer-encoding');
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD' && hasBody && !ctx.is('application/json')) {
      throw new ShopError('unsupported_media_type', 415, 'error.unsupported_media_type');
    }
    return next();
  }

  // Worked out (and the browser's cookie set) only where a page or a form check asks for it: a
  // page from the cache carries no token, so a visitor who only browses costs no cookie.
  let csrf: string | undefined;
  Object.defineProperty(ctx.state, 'csrf', {
    enumerable: true,
    get: () => (csrf ??= csrfToken(ctx)),
  });
  return next();
}

function csrfToken(ctx: ShopContext): string {
  let seed = signedCookie(ctx, CSRF_COOKIE);
  if (!seed) {
    seed = randomToken(18);
    ctx.cookies.set(CSRF_COOKIE, seed, cookieOptions(ctx));
  }
  return hmacHex(ctx.shop.keys.tokens, `csrf:${seed}`, 20);
}

/** For HTML form posts: the token in the body must match this browser's. */
export function checkCsrf(ctx: ShopContext): void {
  const sent = (ctx.request.body as Record<string, unknown> | undefined)?._csrf;
  if (typeof sent !== 'string' || !safeEqual(sent, ctx.state.csrf)) throw new ShopError('csrf_failed', 403, 'error.csrf');
}

const REMEMBERED_ORDERS = 10;

function rememberedOrders(ctx: ShopContext): Record<string, string> {
  try {
    const raw = signedCookie(ctx, ORDERS_COOKIE);
    return raw ? (JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Record<string, string>) : {};
  } catch {
    return {};
  }
}

/**
 * Keeps a guest's latest order tokens in a signed cookie, so the browser that placed an order
 * can open it again (back from the payment page, say) without the link.
 */
export function rememberOrder(ctx: ShopContext, no: string, token: string): void {
  const entries = Object.entries({ ...rememberedOrders(ctx), [no]: token }).slice(-REMEMBERED_ORDERS);
  ctx.cookies.set(ORDERS_COOKIE, Buffer.from(JSON.stringify(Object.fromEntries(entries))).toString('base64url'), cookieOptions(ctx, 30 * 86_400_000));
}

export function rememberedToken(ctx: ShopContext, no: string): string | undefined {
  return rememberedOrders(ctx)[no];
}

const GRANT_MS = 60 * 60_000;
const MAX_GRANTS = 20;

/**
 * Orders this browser just proved it may open (their query password or a one-time code), for an
 * hour, in a signed cookie: the order page then shows them without the token link.
 */
export function grantOrders(ctx: ShopContext, nos: string[]): void {
  const now = Date.now();
  const live = Object.entries(grants(ctx)).filter(([, until]) => until > now);
  const entries = [...live, ...nos.map((no) => [no, now + GRANT_MS] as [string, number])].slice(-MAX_GRANTS);
  ctx.cookies.set(GRANTS_COOKIE, Buffer.from(JSON.stringify(Object.fromEntries(entries))).toString('base64url'), cookieOptions(ctx, GRANT_MS));
}

export function isGranted(ctx: ShopContext, no: string): boolean {
  return (grants(ctx)[no] ?? 0) > Date.now();
}

function grants(ctx: ShopContext): Record<string, number> {
  try {
    const raw = signedCookie(ctx, GRANTS_COOKIE);
    return raw ? (JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Record<string, number>) : {};
  } catch {
    return {}; // a cookie from an older format: as if there were none
  }
}
