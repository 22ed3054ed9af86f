import Router from '@koa/router';
import { z } from 'zod';
import { errors } from '../errors.js';
import { deliverManually, refundOrder } from '../orders/orders.js';
import { adjustWallet, verifyLedger } from '../wallet/ledger.js';
import type { ShopContext, ShopRouter } from './context.js';

function requireAdmin(ctx: ShopContext) {
  const user = ctx.state.user;
  if (!user) throw errors.unauthorized();
  if (user.role !== 'admin') throw errors.forbidden();
  return user;
}

const adjustSchema = z.object({
  amount: z.number({ error: 'field.integer' }).int('field.integer').refine((n) => n !== 0 && Math.abs(n) <= 1e12, 'field.invalid'),
  reason: z.string({ error: 'field.required' }).trim().min(1, 'field.required').max(255, 'field.too_long'),
});
const deliverSchema = z.object({ content: z.string({ error: 'field.required' }).trim().min(1, 'field.required').max(20_000, 'field.too_long') });
const refundSchema = z.object({ reason: z.string({ error: 'field.required' }).trim().min(1, 'field.required').max(255, 'field.too_long') });

/** Admin JSON endpoints; the console (HTML) is built on the same domain functions. */
export function adminApi(): ShopRouter {
  const r: ShopRouter = new Router({ prefix: '/api/admin' });
  r.use(async (ctx, next) => {
    requireAdmin(ctx);
    await next();
  });

  r.post('/wallets/:userId/adjust', async (ctx) => {
    const { amount, reason } = adjustSchema.parse(ctx.request.body ?? {});
    const userId = Number(ctx.params.userId);
    if (!Number.isInteger(userId)) throw errors.notFound();
    ctx.body = await adjustWallet(ctx.shop, { userId, amount, reason, actorId: ctx.state.user!.id });
  });

  r.post('/orders/:no/deliver', async (ctx) => {
    const { content } = deliverSchema.parse(ctx.request.body ?? {});
    ctx.body = { order: await deliverManually(ctx.shop, { no: ctx.params.no!, content, actorId: ctx.state.user!.id }) };
  });

  r.post('/orders/:no/refund', async (ctx) => {
    const { reason } = refundSchema.parse(ctx.request.body ?? {});
    ctx.body = { order: await refundOrder(ctx.shop, ctx.shop.plugins.gateways, { no: ctx.params.no!, reason, actorId: ctx.state.user!.id }) };
  });

  r.get('/ledger/verify', async (ctx) => {
    ctx.body = await verifyLedger(ctx.shop);
  });

  return r;
}
