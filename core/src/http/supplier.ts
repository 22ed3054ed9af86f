import Router from '@koa/router';
import type { NotifyRequest } from '../plugins/payment.js';
import type { ShopRouter } from './context.js';

/**
 * `/supplier/<id>/callback`: a supplier's asynchronous result, verified by its connector and
 * applied by the delivery engine. Form and JSON bodies arrive parsed with their raw text (the body
 * parser keeps it) for signatures; GET callbacks carry their parameters in the query. A callback
 * that cannot be recorded now is answered 503, so the supplier sends it again.
 */
export function supplierRoutes(): ShopRouter {
  const r: ShopRouter = new Router({ prefix: '/supplier' });
  r.all('/:id/callback', async (ctx) => {
    const request: NotifyRequest = {
      method: ctx.method,
      path: ctx.originalUrl,
      headers: ctx.headers as Record<string, string | undefined>,
      query: Object.fromEntries(Object.entries(ctx.query).map(([k, v]) => [k, Array.isArray(v) ? v[0]! : (v ?? '')])),
      rawBody: ctx.request.rawBody ?? '',
      body: (ctx.request.body ?? {}) as Record<string, unknown>,
    };
    try {
      const reply = await ctx.shop.delivery.handleCallback(ctx.params.id!, request);
      if (!reply) return;
      ctx.status = reply.status ?? 200;
      ctx.type = reply.type ?? 'text/plain';
      ctx.body = reply.body;
    } catch (err) {
      ctx.shop.log.error(`supplier ${ctx.params.id}: could not record a callback; the supplier will send it again`, err);
      ctx.status = 503;
      ctx.type = 'text/plain';
      ctx.body = 'retry';
    }
  });
  return r;
}
