import Router from '@koa/router';
import { z } from 'zod';
import { approveSiteHost, listSites, setSiteDisabled } from '../agents/sites.js';
import { moveUser } from '../agents/tree.js';
import { fromZod } from '../errors.js';
import { assignLevel, listLevels, listOverrides, saveLevel, setOverride, setSkuPricing } from '../pricing/levels.js';
import { listTiers, setTier, settleRebates } from '../pricing/rebates.js';
import { decideWithdrawal, listWithdrawals, payeeOf, type WithdrawalStatus } from '../wallet/withdrawals.js';
import type { ShopContext, ShopRouter } from './context.js';
import { requireAdmin, userIdOf } from './admin-api.js';

const body = (ctx: ShopContext) => (ctx.request.body ?? {}) as Record<string, unknown>;
const actor = (ctx: ShopContext) => ({ id: ctx.state.user!.id, ip: ctx.ip });

function parse<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw fromZod(parsed.error);
  return parsed.data;
}

const uplineInput = z.object({ upline: z.number({ error: 'field.integer' }).int('field.integer').positive('field.min').nullable() }).strict();
const levelChoice = z.object({ level: z.string({ error: 'field.required' }).min(1, 'field.required').max(32) }).strict();
const disableInput = z.object({ disabled: z.boolean({ error: 'field.invalid' }) }).strict();
const approveInput = z.object({ approved: z.boolean({ error: 'field.invalid' }) }).strict();
const monthInput = z.object({ month: z.string({ error: 'field.required' }) }).strict();

/** The operator's JSON endpoints for levels, prices, the agent tree, sub-shops, rebates and withdrawals. */
export function adminAgentsApi(): ShopRouter {
  const r: ShopRouter = new Router({ prefix: '/api/admin' });
  r.use(async (ctx, next) => {
    requireAdmin(ctx);
    await next();
  });

  r.get('/levels', async (ctx) => {
    ctx.body = { levels: await listLevels(ctx.shop), overrides: await listOverrides(ctx.shop), tiers: await listTiers(ctx.shop) };
  });
  r.put('/levels/:code', async (ctx) => {
    ctx.body = { level: await saveLevel(ctx.shop, { ...body(ctx), code: ctx.params.code }, actor(ctx)) };
  });
  r.put('/price-overrides', async (ctx) => {
    await setOverride(ctx.shop, body(ctx), actor(ctx));
    ctx.status = 204;
  });
  r.post('/price-overrides/delete', async (ctx) => {
    await setOverride(ctx.shop, body(ctx), actor(ctx), true);
    ctx.status = 204;
  });
  r.put('/skus/:code/pricing', async (ctx) => {
    await setSkuPricing(ctx.shop, { ...body(ctx), sku: ctx.params.code }, actor(ctx));
    ctx.status = 204;
  });
  r.put('/rebate-tiers', async (ctx) => {
    await setTier(ctx.shop, body(ctx), actor(ctx));
    ctx.status = 204;
  });
  r.post('/rebates/settle', async (ctx) => {
    ctx.body = await settleRebates(ctx.shop, parse(monthInput, body(ctx)).month);
  });

  r.post('/users/:userId/upline', async (ctx) => {
    const { upline } = parse(uplineInput, body(ctx));
    await moveUser(ctx.shop, { userId: userIdOf(ctx.params.userId), uplineId: upline, actorId: ctx.state.user!.id, ip: ctx.ip });
    ctx.status = 204;
  });
  r.post('/users/:userId/level', async (ctx) => {
    await assignLevel(ctx.shop, { userId: userIdOf(ctx.params.userId), level: parse(levelChoice, body(ctx)).level, actorId: ctx.state.user!.id, ip: ctx.ip });
    ctx.status = 204;
  });

  r.get('/sites', async (ctx) => {
    ctx.body = await listSites(ctx.shop, { page: Number(ctx.query.page) || 1 });
  });
  r.post('/sites/:id/host', async (ctx) => {
    await approveSiteHost(ctx.shop, { siteId: userIdOf(ctx.params.id), approved: parse(approveInput, body(ctx)).approved, actorId: ctx.state.user!.id, ip: ctx.ip });
    ctx.status = 204;
  });
  r.post('/sites/:id/disable', async (ctx) => {
    await setSiteDisabled(ctx.shop, { siteId: userIdOf(ctx.params.id), disabled: parse(disableInput, body(ctx)).disabled, actorId: ctx.state.user!.id, ip: ctx.ip });
    ctx.status = 204;
  });

  r.get('/withdrawals', async (ctx) => {
    const status = ['pending', 'paid', 'rejected'].includes(String(ctx.query.status)) ? (ctx.query.status as WithdrawalStatus) : undefined;
    ctx.body = { withdrawals: await listWithdrawals(ctx.shop, { status, beforeId: Number(ctx.query.before) || undefined }) };
  });
  r.post('/withdrawals/:id/payee', async (ctx) => {
    ctx.body = { payee: await payeeOf(ctx.shop, userIdOf(ctx.params.id), actor(ctx)) };
  });
  r.post('/withdrawals/:id/decide', async (ctx) => {
    ctx.body = { withdrawal: await decideWithdrawal(ctx.shop, userIdOf(ctx.params.id), body(ctx), actor(ctx)) };
  });

  return r;
}
