import type Router from '@koa/router';
import type Koa from 'koa';
import type { User } from '../agents/users.js';
import type { Locale } from '../i18n/messages.js';
import type { Shop } from '../shop.js';

export interface ShopState {
  locale: Locale;
  user?: User;
  sessionToken?: string;
  csrf: string;
}

export type ShopContext = Koa.ParameterizedContext<ShopState, { shop: Shop }>;
export type ShopApp = Koa<ShopState, { shop: Shop }>;
export type ShopRouter = Router<ShopState, { shop: Shop }>;

export const SESSION_COOKIE = 'cs_session';
export const CSRF_COOKIE = 'cs_csrf';
export const LOCALE_COOKIE = 'cs_lang';
export const ORDERS_COOKIE = 'cs_orders';

export const isApi = (ctx: ShopContext) => ctx.path.startsWith('/api/');

/** This shop's address as the client reached it (behind a proxy: with trustProxy, as the proxy says). */
export function requestInfo(ctx: ShopContext) {
  return { origin: `${ctx.protocol}://${ctx.host}`, ip: ctx.ip };
}

export function cookieOptions(ctx: ShopContext, maxAgeMs?: number) {
  return { httpOnly: true, sameSite: 'lax' as const, signed: true, secure: ctx.secure, overwrite: true, maxAge: maxAgeMs };
}
