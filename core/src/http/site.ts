import { agentByInvite } from '../agents/tree.js';
import { isOpen, siteForRequest } from '../agents/sites.js';
import { ShopError } from '../errors.js';
import { priceList, type PriceList } from '../pricing/pricing.js';
import { cookieOptions, INVITE_COOKIE, signedCookie, type ShopContext } from './context.js';

/**
 * Puts a request on its sub-shop: by host name, or by the `/s/<code>` prefix, which is taken off the
 * path so every route serves sub-shops unchanged; redirects to local paths get it back. A site the
 * operator (or its agent) closed answers 404.
 */
export async function resolveSite(ctx: ShopContext, next: () => Promise<void>): Promise<void> {
  ctx.state.base = '';
  const found = await siteForRequest(ctx.shop, ctx.hostname, ctx.path);
  if (!found) return next();
  if (!isOpen(found.site)) throw new ShopError('site_closed', 404, 'error.site_closed');
  ctx.state.site = found.site;
  ctx.state.base = found.prefix;
  if (!found.prefix) return next();
  ctx.path = ctx.path.slice(found.prefix.length) || '/';
  await next();
  const location = String(ctx.response.get('Location') ?? '');
  if (location.startsWith('/') && !location.startsWith('//')) ctx.set('Location', found.prefix + location);
}

/** Who is buying and where, for the price resolver. */
export function pricesFor(ctx: ShopContext): Promise<PriceList> {
  return priceList(ctx.shop, { userId: ctx.state.user?.id ?? null, siteOwnerId: ctx.state.site?.ownerId ?? null });
}

const INVITE_DAYS = 30;

/** `?invite=CODE` on any page is remembered for a month, until the visitor registers. */
export function rememberInvite(ctx: ShopContext): void {
  const code = ctx.query.invite;
  if (typeof code === 'string' && /^[A-Za-z0-9]{4,16}$/.test(code)) ctx.cookies.set(INVITE_COOKIE, code, cookieOptions(ctx, INVITE_DAYS * 86_400_000));
}

/** The upline of someone registering now: the agent who invited it, else the sub-shop's owner. */
export async function uplineForSignup(ctx: ShopContext): Promise<number | null> {
  const code = signedCookie(ctx, INVITE_COOKIE);
  const inviter = code ? await agentByInvite(ctx.shop, code) : undefined;
  return inviter ?? ctx.state.site?.ownerId ?? null;
}
