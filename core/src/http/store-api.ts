import Router from '@koa/router';
import { authenticate, createSession, createUser, credentialsSchema, destroySession, loginSchema } from '../agents/users.js';
import { getProduct, listProducts } from '../catalog/snapshot.js';
import { errors } from '../errors.js';
import { getOrder, listOrders } from '../orders/orders.js';
import { balanceOf } from '../wallet/ledger.js';
import { startTopup } from '../wallet/topup.js';
import { cookieOptions, requestInfo, SESSION_COOKIE, type ShopContext, type ShopRouter } from './context.js';
import { rememberedToken, rememberOrder } from './session.js';

const SESSION_MS = 30 * 86_400_000;

export async function startSession(ctx: ShopContext, userId: number): Promise<void> {
  const token = await createSession(ctx.shop, userId);
  ctx.cookies.set(SESSION_COOKIE, token, cookieOptions(ctx, SESSION_MS));
}

export async function endSession(ctx: ShopContext): Promise<void> {
  if (ctx.state.sessionToken) await destroySession(ctx.shop, ctx.state.sessionToken);
  ctx.cookies.set(SESSION_COOKIE, null, cookieOptions(ctx));
}

export function requireUser(ctx: ShopContext) {
  if (!ctx.state.user) throw errors.unauthorized();
  return ctx.state.user;
}

const body = (ctx: ShopContext) => (ctx.request.body ?? {}) as Record<string, unknown>;

/** The Store API: JSON for themes' scripts and apps, at the current buyer's prices. */
export function storeApi(): ShopRouter {
  const r: ShopRouter = new Router({ prefix: '/api/store' });

  r.get('/products', async (ctx) => {
    const category = Number(ctx.query.category);
    ctx.body = { products: await listProducts(ctx.shop, Number.isInteger(category) && category > 0 ? { categoryId: category } : {}) };
  });

  r.get('/products/:id', async (ctx) => {
    ctx.body = { product: await getProduct(ctx.shop, ctx.params.id!) };
  });

  r.post('/auth/register', async (ctx) => {
    const user = await createUser(ctx.shop, credentialsSchema.parse(body(ctx)));
    await startSession(ctx, user.id);
    ctx.status = 201;
    ctx.body = { user };
  });

  r.post('/auth/login', async (ctx) => {
    const { email, password } = loginSchema.parse(body(ctx));
    const user = await authenticate(ctx.shop, email, password);
    await startSession(ctx, user.id);
    ctx.body = { user };
  });

  r.post('/auth/logout', async (ctx) => {
    await endSession(ctx);
    ctx.status = 204;
  });

  r.get('/me', async (ctx) => {
    const user = requireUser(ctx);
    ctx.body = { user, wallet: { balance: await balanceOf(ctx.shop, user.id), currency: ctx.shop.config.shop.currency } };
  });

  r.post('/checkout', async (ctx) => {
    const result = await ctx.shop.checkout(ctx.state.user, body(ctx) as never, requestInfo(ctx));
    if (!ctx.state.user) rememberOrder(ctx, result.order.no, result.token);
    ctx.status = 201;
    ctx.body = result;
  });

  r.post('/wallet/topup', async (ctx) => {
    const result = await startTopup(ctx.shop, ctx.shop.plugins.gateways, ctx.state.user, body(ctx), requestInfo(ctx));
    ctx.status = 201;
    ctx.body = result;
  });

  r.get('/orders', async (ctx) => {
    const user = requireUser(ctx);
    const before = Number(ctx.query.before);
    ctx.body = { orders: await listOrders(ctx.shop, user.id, { beforeId: Number.isInteger(before) ? before : undefined }) };
  });

  r.get('/orders/:no', async (ctx) => {
    const token = typeof ctx.query.token === 'string' ? ctx.query.token : rememberedToken(ctx, ctx.params.no!);
    ctx.body = { order: await getOrder(ctx.shop, ctx.params.no!, { user: ctx.state.user, token }) };
  });

  return r;
}
