import Router from '@koa/router';
import { errors } from '../errors.js';
import { becomeAgent, downline, inviteCodeOf, requireAgent } from '../agents/tree.js';
import { saveSite, siteOf, siteOrders } from '../agents/sites.js';
import { buyLevel } from '../pricing/levels.js';
import { listMarkups, setMarkups } from '../pricing/markups.js';
import { pricingSnapshot } from '../pricing/pricing.js';
import { earningsOf } from '../pricing/rebates.js';
import { walletHistory } from '../wallet/ledger.js';
import { listWithdrawals, requestWithdrawal } from '../wallet/withdrawals.js';
import { requestInfo, type ShopContext, type ShopRouter } from './context.js';
import { couponJsonRoutes } from './admin-coupons.js';
import { requireUser } from './store-api.js';

const body = (ctx: ShopContext) => (ctx.request.body ?? {}) as Record<string, unknown>;
const intQuery = (v: unknown) => (typeof v === 'string' && /^\d{1,10}$/.test(v) ? Number(v) : undefined);

/** Links to an agent's invite page, on the shop the agent is looking at. */
export async function inviteLinks(ctx: ShopContext) {
  const code = await inviteCodeOf(ctx.shop, ctx.state.user!);
  const origin = `${requestInfo(ctx).origin}${ctx.state.base}`;
  return { code, url: `${origin}/i/${code}` };
}

/** The agent centre's JSON side: `/api/store/agent/*`, for the signed-in user (most of it for agents). */
export function storeAgentApi(): ShopRouter {
  const r: ShopRouter = new Router({ prefix: '/api/store/agent' });
  const agent = (ctx: ShopContext) => requireAgent(requireUser(ctx));

  r.post('/join', async (ctx) => {
    ctx.body = { user: await becomeAgent(ctx.shop, requireUser(ctx), ctx.ip) };
  });

  r.get('/invite', async (ctx) => {
    agent(ctx);
    ctx.body = await inviteLinks(ctx);
  });

  r.get('/downline', async (ctx) => {
    ctx.body = await downline(ctx.shop, agent(ctx), { parentId: intQuery(ctx.query.parent), page: intQuery(ctx.query.page) });
  });

  // The agent's own coupons, funded from its margin (coupons/coupons.ts).
  couponJsonRoutes(r, '/coupons', (ctx) => {
    const me = agent(ctx);
    return { actorId: me.id, agentId: me.id, ip: ctx.ip };
  });

  r.get('/markups', async (ctx) => {
    ctx.body = { markups: await listMarkups(ctx.shop, agent(ctx).id) };
  });

  r.put('/markups', async (ctx) => {
    ctx.body = { markups: await setMarkups(ctx.shop, agent(ctx), body(ctx), ctx.ip) };
  });

  r.get('/earnings', async (ctx) => {
    ctx.body = await earningsOf(ctx.shop, agent(ctx).id);
  });

  r.get('/site', async (ctx) => {
    const site = await siteOf(ctx.shop, agent(ctx).id);
    ctx.body = { site: site ?? null, orders: site ? await siteOrders(ctx.shop, site) : [] };
  });

  r.put('/site', async (ctx) => {
    ctx.body = { site: await saveSite(ctx.shop, agent(ctx), body(ctx), ctx.ip) };
  });

  r.get('/levels', async (ctx) => {
    requireUser(ctx);
    const { levels } = await pricingSnapshot(ctx.shop);
    ctx.body = { levels: levels.map(({ code, name, rank, upgradeSpend, upgradePrice }) => ({ code, name, rank, upgradeSpend, upgradePrice })) };
  });

  r.post('/level', async (ctx) => {
    const level = body(ctx).level;
    const bought = await buyLevel(ctx.shop, requireUser(ctx), typeof level === 'string' ? level : '', ctx.ip);
    ctx.body = { level: { code: bought.code, name: bought.name } };
  });

  return r;
}

/** A signed-in user's wallet: its history and withdrawals (提现), at `/api/store/wallet/*`. */
export function storeWalletApi(): ShopRouter {
  const r: ShopRouter = new Router({ prefix: '/api/store/wallet' });

  r.get('/history', async (ctx) => {
    ctx.body = { entries: await walletHistory(ctx.shop, requireUser(ctx).id, { beforeId: intQuery(ctx.query.before) }) };
  });

  r.get('/withdrawals', async (ctx) => {
    ctx.body = { withdrawals: await listWithdrawals(ctx.shop, { userId: requireUser(ctx).id, beforeId: intQuery(ctx.query.before) }) };
  });

  r.post('/withdrawals', async (ctx) => {
    ctx.status = 201;
    ctx.body = { withdrawal: await requestWithdrawal(ctx.shop, requireUser(ctx), body(ctx), ctx.ip) };
  });

  return r;
}
