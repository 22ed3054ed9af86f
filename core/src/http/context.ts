import type Router from '@koa/router';
import type Koa from 'koa';
import type { Site } from '../agents/sites.js';
import type { User } from '../agents/users.js';
import type { Locale } from '../i18n/messages.js';
import { hmacHex } from '../security/keys.js';
import type { Shop } from '../shop.js';

export interface ShopState {
  locale: Locale;
  user?: User;
  sessionToken?: string;
  /** The API key that signed an Agent API request (/api/v1). */
  apiKeyId?: number;
  csrf: string;
  /** The sub-shop this request is on, and the path prefix its links need (`/s/<code>` or ''). */
  site?: Site;
  base: string;
}

export type ShopContext = Koa.ParameterizedContext<ShopState, { shop: Shop }>;
export type ShopApp = Koa<ShopState, { shop: Shop }>;
export type ShopRouter = Router<ShopState, { shop: Shop }>;

export const SESSION_COOKIE = 'cs_session';
export const CSRF_COOKIE = 'cs_csrf';
export const LOCALE_COOKIE = 'cs_lang';
export const ORDERS_COOKIE = 'cs_orders';
export const INVITE_COOKIE = 'cs_invite';

export const isApi = (ctx: ShopContext) => ctx.path.startsWith('/api/');

/** Cookie values whose signature was checked, with it: a returning browser costs a lookup, not two HMACs. */
const verified = new Set<string>();
const VERIFIED_MAX = 50_000;

/**
 * A signed cookie's value if its signature is good (koa's `cookies.get(name, { signed: true })`,
 * remembered). Only signatures by the current key are remembered; an old key's are checked again,
 * so koa re-signs them.
 */
export function signedCookie(ctx: ShopContext, name: string): string | undefined {
  const value = ctx.cookies.get(name);
  if (value === undefined) return undefined;
  const seen = `${name}=${value}.${ctx.cookies.get(`${name}.sig`)}`;
  if (verified.has(seen)) return value;
  const checked = ctx.cookies.get(name, { signed: true });
  if (checked !== undefined && ctx.cookies.get(`${name}.sig`) === signatureOf(ctx, `${name}=${value}`)) {
    if (verified.size >= VERIFIED_MAX) verified.clear();
    verified.add(seen);
  }
  return checked;
}

const signatureOf = (ctx: ShopContext, data: string) => (ctx.cookies as unknown as { keys: { sign(data: string): string } }).keys.sign(data);

/**
 * This shop's address as the client reached it (behind a proxy: with trustProxy, as the proxy says),
 * the client's IP, and an opaque id of the browser for risk rules: derived from its CSRF cookie (a
 * random value every browser that opened a page has), so the cookie itself never leaves this layer.
 */
export function requestInfo(ctx: ShopContext) {
  const seed = signedCookie(ctx, CSRF_COOKIE);
  const site = ctx.state.site && { id: ctx.state.site.id, ownerId: ctx.state.site.ownerId };
  return { origin: `${ctx.protocol}://${ctx.host}`, ip: ctx.ip, device: seed ? hmacHex(ctx.shop.keys.tokens, `device:${seed}`, 12) : undefined, site, locale: ctx.state.locale };
}

export function cookieOptions(ctx: ShopContext, maxAgeMs?: number) {
  return { httpOnly: true, sameSite: 'lax' as const, signed: true, secure: ctx.secure, overwrite: true, maxAge: maxAgeMs };
}
