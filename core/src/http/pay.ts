import Router from '@koa/router';
import getRawBody from 'raw-body';
import { bodyError } from './errors.js';
import { handleNotify, handleReturn, type IncomingCallback } from '../orders/callbacks.js';
import type { ShopContext, ShopRouter } from './context.js';

const MAX_NOTIFY_BYTES = 64 * 1024;

/**
 * The body exactly as sent: gateways sign the raw bytes, so nothing may parse it first. raw-body
 * stops reading past the limit without destroying the socket, so the 413 still reaches the client
 * (leaving a for-await loop early destroyed the request, and the answer became a 500).
 */
const rawBody = (ctx: ShopContext): Promise<string> =>
  getRawBody(ctx.req, { limit: MAX_NOTIFY_BYTES, length: ctx.get('content-length') || undefined, encoding: 'utf8' }).catch((err) => {
    throw bodyError(err);
  });

async function incoming(ctx: ShopContext, withBody: boolean): Promise<IncomingCallback> {
  return {
    method: ctx.method,
    headers: ctx.headers as Record<string, string | undefined>,
    query: Object.fromEntries(Object.entries(ctx.query).map(([k, v]) => [k, Array.isArray(v) ? v[0]! : (v ?? '')])),
    rawBody: withBody ? await rawBody(ctx) : '',
    ip: ctx.ip,
  };
}

/**
 * `/pay/<gateway>/notify` and `/pay/<gateway>/return`: read the request as it came, hand it to
 * orders/callbacks.ts (which verifies, records through markPaid and logs it), send its reply.
 */
export function payRoutes(): ShopRouter {
  const r: ShopRouter = new Router({ prefix: '/pay' });

  r.all('/:gateway/notify', async (ctx) => {
    const gateway = ctx.shop.plugins.gateways.get(ctx.params.gateway!);
    if (!gateway) return;
    const { reply } = await handleNotify(ctx.shop, gateway, await incoming(ctx, true));
    ctx.status = reply.status ?? 200;
    ctx.type = reply.type ?? 'text/plain';
    ctx.body = reply.body;
  });

  // The buyer's browser, back from the gateway: the order page (guests find their token in a cookie).
  r.get('/:gateway/return', async (ctx) => {
    const gateway = ctx.shop.plugins.gateways.get(ctx.params.gateway!);
    const no = typeof ctx.query.no === 'string' ? ctx.query.no : '';
    if (!gateway) return ctx.redirect(no ? `/order/${encodeURIComponent(no)}` : '/');
    ctx.redirect(await handleReturn(ctx.shop, gateway, await incoming(ctx, false)));
  });

  return r;
}
