import Router from '@koa/router';
import { z } from 'zod';
import { pageNumber } from '../db/paging.js';
import { errors } from '../errors.js';
import { kycStatus, revealIdNumber } from '../kyc/kyc.js';
import { listJobs, retryJob } from '../delivery/jobs.js';
import { listRoutes, setRoute } from '../delivery/routes.js';
import { dropWatch, listWatches, watchFilterSchema } from '../notices/watches.js';
import { deliverManually, refundOrder } from '../orders/orders.js';
import { setFlash } from '../pricing/flash.js';
import { setBuyerLimit } from '../orders/limits.js';
import { setTiers } from '../pricing/wholesale.js';
import { adjustWallet, verifyLedger } from '../wallet/ledger.js';
import { mayUseConsole } from './admin-layout.js';
import type { ShopContext, ShopRouter } from './context.js';

/** The signed-in admin (or staff member, on its sections); 401 for visitors, 403 for anyone else. */
export function requireAdmin(ctx: ShopContext) {
  const user = ctx.state.user;
  if (!user) throw errors.unauthorized();
  if (!mayUseConsole(user, ctx.path)) throw errors.forbidden();
  return user;
}

/** A router of admin JSON endpoints under `prefix`, every route behind `requireAdmin`. */
export function adminJsonRouter(prefix: string): ShopRouter {
  const r: ShopRouter = new Router({ prefix });
  r.use(async (ctx, next) => {
    requireAdmin(ctx);
    await next();
  });
  return r;
}

const adjustSchema = z.object({
  amount: z.number({ error: 'field.integer' }).int('field.integer').refine((n) => n !== 0 && Math.abs(n) <= 1e12, 'field.invalid'),
  reason: z.string({ error: 'field.required' }).trim().min(1, 'field.required').max(255, 'field.too_long'),
});
const deliverSchema = z.object({ content: z.string({ error: 'field.required' }).trim().min(1, 'field.required').max(20_000, 'field.too_long') });
/** A stated reason: for a refund, for revealing an ID number. */
const reasonSchema = z.object({ reason: z.string({ error: 'field.required' }).trim().min(1, 'field.required').max(255, 'field.too_long') });

const WATCH_PAGE = 100;

/** A positive whole-number id from the path; anything else is the same 404 as a missing record. */
export function userIdOf(param: string | undefined): number {
  const id = Number(param);
  if (!Number.isInteger(id) || id <= 0) throw errors.notFound();
  return id;
}

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
    ctx.body = await adjustWallet(ctx.shop, { userId, amount, reason, actorId: ctx.state.user!.id, ip: ctx.ip });
  });

  r.post('/orders/:no/deliver', async (ctx) => {
    const { content } = deliverSchema.parse(ctx.request.body ?? {});
    ctx.body = { order: await deliverManually(ctx.shop, { no: ctx.params.no!, content, actorId: ctx.state.user!.id, ip: ctx.ip }) };
  });

  r.post('/orders/:no/refund', async (ctx) => {
    const { reason } = reasonSchema.parse(ctx.request.body ?? {});
    ctx.body = { order: await refundOrder(ctx.shop, ctx.shop.plugins.gateways, { no: ctx.params.no!, reason, actorId: ctx.state.user!.id }) };
  });

  r.get('/users/:userId/kyc', async (ctx) => {
    ctx.body = { kyc: await kycStatus(ctx.shop, userIdOf(ctx.params.userId)) };
  });

  // The full ID number, for a stated reason; every reveal is written to the audit log.
  r.post('/users/:userId/kyc/reveal', async (ctx) => {
    const { reason } = reasonSchema.parse(ctx.request.body ?? {});
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { idNumber: await revealIdNumber(ctx.shop, { userId: userIdOf(ctx.params.userId), actorId: ctx.state.user!.id, reason, ip: ctx.ip }) };
  });

  r.get('/skus/:code/suppliers', async (ctx) => {
    ctx.body = { routes: await listRoutes(ctx.shop, ctx.params.code!) };
  });

  r.post('/skus/:code/suppliers', async (ctx) => {
    ctx.body = { routes: await setRoute(ctx.shop, ctx.params.code!, (ctx.request.body ?? {}) as never, { id: ctx.state.user!.id, ip: ctx.ip }) };
  });

  // Wholesale tiers (批发价): the whole list, replaced; [] removes them.
  r.put('/skus/:code/tiers', async (ctx) => {
    ctx.body = { tiers: await setTiers(ctx.shop, ctx.params.code!, ctx.request.body ?? {}, { id: ctx.state.user!.id, ip: ctx.ip }) };
  });

  // A limit per buyer (限购): { limit: { units, per: 'day' | 'ever' } }, or { limit: null } to lift it.
  r.put('/skus/:code/limit', async (ctx) => {
    ctx.body = { limit: await setBuyerLimit(ctx.shop, ctx.params.code!, ctx.request.body ?? {}, { id: ctx.state.user!.id, ip: ctx.ip }) };
  });

  // A flash sale (限时秒杀): { flash: { price, startsAt, endsAt, cap, perBuyer } }, or { flash: null } to end it.
  r.put('/skus/:code/flash', async (ctx) => {
    ctx.body = { flash: await setFlash(ctx.shop, ctx.params.code!, ctx.request.body ?? {}, { id: ctx.state.user!.id, ip: ctx.ip }) };
  });

  // Imports or refreshes a supplier's catalog now (it also runs on the supplier's schedule).
  r.post('/suppliers/:id/sync', async (ctx) => {
    ctx.body = { report: await ctx.shop.delivery.syncCatalog(ctx.params.id!) };
  });

  // The delivery queue; `?status=dead` is its dead letter.
  r.get('/jobs', async (ctx) => {
    const status = z.enum(['queued', 'running', 'done', 'dead']).optional().parse(ctx.query.status || undefined);
    ctx.body = { jobs: await listJobs(ctx.shop, { status }) };
  });

  r.post('/jobs/:id/retry', async (ctx) => {
    const id = Number(ctx.params.id);
    if (!Number.isInteger(id) || id <= 0) throw errors.notFound();
    await retryJob(ctx.shop, id);
    ctx.shop.delivery.worker.nudge();
    ctx.status = 204;
  });

  // Restock and price-drop subscriptions (到货/降价提醒): ?sku=&kind=stock|price&sent=yes|no&page=, 100 a page.
  r.get('/watches', async (ctx) => {
    const page = pageNumber(ctx.query.page);
    ctx.body = { watches: await listWatches(ctx.shop, watchFilterSchema.parse(ctx.query), { limit: WATCH_PAGE, offset: (page - 1) * WATCH_PAGE }), page };
  });

  r.delete('/watches/:id', async (ctx) => {
    await dropWatch(ctx.shop, userIdOf(ctx.params.id), { id: ctx.state.user!.id, ip: ctx.ip });
    ctx.status = 204;
  });

  r.get('/ledger/verify', async (ctx) => {
    ctx.body = await verifyLedger(ctx.shop);
  });

  return r;
}
