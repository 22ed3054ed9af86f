import type { ShopContext } from './context.js';

/**
 * What the themes and the console need and nothing more: scripts only from this origin (no inline
 * script anywhere, so an injected `<script>` or `onclick` does not run), inline styles allowed (the
 * console and receipts use them; a style cannot run code), images also from https and data: (product
 * images on a CDN, QR codes), and no page of ours inside another site's frame.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "worker-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: https:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "frame-ancestors 'none'",
].join('; ');

const HSTS = 'max-age=31536000; includeSubDomains';

/** The peer's address without the IPv4-in-IPv6 prefix, as operators write proxies' addresses. */
const peerOf = (ctx: ShopContext) => (ctx.req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');

/**
 * With `trustProxy` a list of addresses, forwarded headers count only from those peers: anyone else
 * could claim HTTPS (and get HSTS and Secure cookies on plain HTTP), another client's IP (past the
 * rate limits) or a sub-shop's host. With `true`, every peer is the proxy (the shop listens only
 * where the proxy reaches it).
 */
export function untrustedForwarding(ctx: ShopContext): void {
  const proxies = ctx.shop.config.trustProxy;
  if (!Array.isArray(proxies) || proxies.includes(peerOf(ctx))) return;
  for (const h of ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']) delete ctx.req.headers[h];
}

/** Security headers on every answer, error pages and cached pages included. */
export async function securityHeaders(ctx: ShopContext, next: () => Promise<void>): Promise<void> {
  untrustedForwarding(ctx);
  ctx.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('X-Frame-Options', 'DENY');
  ctx.set('Referrer-Policy', 'strict-origin-when-cross-origin');
  // Only over TLS (directly or as a trusted proxy says): over plain HTTP a browser ignores it anyway,
  // and a shop tried out on http://localhost must not be pinned to HTTPS.
  if (ctx.secure) ctx.set('Strict-Transport-Security', HSTS);
  await next();
}
