import Router from '@koa/router';
import { authenticate, createSession, createUser, credentialsSchema, destroySession, loginSchema } from '../agents/users.js';
import { catalogVersion, getProduct, listProducts } from '../catalog/snapshot.js';
import { stockBoard } from '../catalog/stock-board.js';
import { memo, sendTagged, tagged } from './page-cache.js';
import { searchProducts } from '../catalog/search.js';
import { checkRegistration } from './challenge.js';
import { errors } from '../errors.js';
import { pickableKeys } from '../inventory/picks.js';
import { kycStatus, ownKycView, submitKyc } from '../kyc/kyc.js';
import { getOrder, listOrders } from '../orders/orders.js';
import { quoteCoupon } from '../orders/checkout.js';
import { getReceipt, verifyReceipt } from '../orders/receipts.js';
import { balanceOf } from '../wallet/ledger.js';
import { startTopup } from '../wallet/topup.js';
import { cookieOptions, requestInfo, SESSION_COOKIE, type ShopContext, type ShopRouter } from './context.js';
import { grantOrders, isGranted, rememberedToken, rememberOrder } from './session.js';
import { lookupOrders, requestLookupCode } from '../orders/lookup.js';
import { addWatch } from '../notices/watches.js';
import { pricesFor, uplineForSignup } from './site.js';
import { priceProducts } from '../pricing/pricing.js';

const SESSION_MS = 30 * 86_400_000;

/** A new session id at every sign-in (never one the browser brought: session fixation); the one it had ends. */
export async function startSession(ctx: ShopContext, userId: number): Promise<void> {
  if (ctx.state.sessionToken) await destroySession(ctx.shop, ctx.state.sessionToken);
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

  // Kept as JSON for each prices key, category, catalog version and stock (page-cache.ts); with `q`,
  // a search of them (catalog/search.ts), not kept: queries are the client's to choose.
  const listings = memo<ReturnType<typeof tagged>>(200);
  r.get('/products', async (ctx) => {
    const category = Number(ctx.query.category);
    const filter = Number.isInteger(category) && category > 0 ? { categoryId: category } : {};
    if (ctx.query.q !== undefined) {
      ctx.body = { products: priceProducts(await pricesFor(ctx), await searchProducts(ctx.shop, { q: ctx.query.q }, filter)) };
      return;
    }
    const [prices, catalog, board] = await Promise.all([pricesFor(ctx), catalogVersion(ctx.shop), stockBoard(ctx.shop)]);
    const key = `${prices.key}\x1e${filter.categoryId ?? ''}\x1e${catalog}\x1e${board.version}`;
    const body = await listings(key, async () => tagged(JSON.stringify({ products: priceProducts(prices, await listProducts(ctx.shop, filter)) })));
    await sendTagged(ctx, body, 'json');
  });

  // Listed or link-only; `?sku=` adds a link-only SKU to the product's listed ones.
  r.get('/products/:id', async (ctx) => {
    const sku = typeof ctx.query.sku === 'string' ? ctx.query.sku : undefined;
    ctx.body = { product: priceProducts(await pricesFor(ctx), [await getProduct(ctx.shop, ctx.params.id!, { sku })])[0] };
  });

  // A SKU's keys to pick from (卡密预选), as previews; `?after=` the last id for the next page.
  r.get('/skus/:code/picks', async (ctx) => {
    ctx.body = await pickableKeys(ctx.shop, ctx.params.code!, { after: Number(ctx.query.after) || undefined });
  });

  // `challenge`: the answer to `GET /api/store/challenge?purpose=register` (http/challenge.ts).
  r.post('/auth/register', async (ctx) => {
    const credentials = credentialsSchema.parse(body(ctx));
    const answer = body(ctx).challenge;
    await checkRegistration(ctx, typeof answer === 'string' ? answer : undefined);
    const user = await createUser(ctx.shop, { ...credentials, uplineId: await uplineForSignup(ctx) });
    await startSession(ctx, user.id);
    ctx.status = 201;
    ctx.body = { user };
  });

  r.post('/auth/login', async (ctx) => {
    const { email, password } = loginSchema.parse(body(ctx));
    const user = await authenticate(ctx.shop, email, password, { ip: ctx.ip });
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

  // `{ sku, quantity?, pick?, coupon, contact? }` → what the coupon takes off, before paying.
  r.post('/coupons/quote', async (ctx) => {
    ctx.body = { quote: await quoteCoupon(ctx.shop, ctx.state.user, body(ctx), requestInfo(ctx).site) };
  });

  // A stock or price notice for a SKU (notices/watches.ts): a guest names an address, a signed-in buyer gets it at the account's.
  r.post('/notify', async (ctx) => {
    if (!ctx.shop.plugins.mailer) throw errors.notFound('notify.unavailable');
    const watch = await addWatch(ctx.shop, ctx.state.user, body(ctx) as never, requestInfo(ctx));
    ctx.status = 201;
    ctx.body = { watch };
  });

  r.post('/wallet/topup', async (ctx) => {
    const result = await startTopup(ctx.shop, ctx.shop.plugins.gateways, ctx.state.user, body(ctx), requestInfo(ctx));
    ctx.status = 201;
    ctx.body = result;
  });

  r.get('/kyc', async (ctx) => {
    const user = requireUser(ctx);
    ctx.body = { kyc: ownKycView(await kycStatus(ctx.shop, user.id)), offered: Boolean(ctx.shop.plugins.kycProvider) };
  });

  r.post('/kyc', async (ctx) => {
    const user = requireUser(ctx);
    ctx.body = { kyc: ownKycView(await submitKyc(ctx.shop, ctx.shop.plugins.kycProvider, user, body(ctx))) };
  });

  r.get('/orders', async (ctx) => {
    const user = requireUser(ctx);
    const before = Number(ctx.query.before);
    ctx.body = { orders: await listOrders(ctx.shop, user.id, { beforeId: Number.isInteger(before) ? before : undefined }) };
  });

  r.get('/orders/:no', async (ctx) => {
    const token = typeof ctx.query.token === 'string' ? ctx.query.token : rememberedToken(ctx, ctx.params.no!);
    ctx.body = { order: await getOrder(ctx.shop, ctx.params.no!, { user: ctx.state.user, token, granted: isGranted(ctx, ctx.params.no!) }) };
  });

  // `{ q: order number or contact, password | code }` → the matching orders, with their goods.
  r.post('/orders/lookup', async (ctx) => {
    const found = await lookupOrders(ctx.shop, body(ctx), { ip: ctx.ip });
    grantOrders(ctx, found.map((o) => o.no));
    ctx.body = { orders: await Promise.all(found.map((o) => getOrder(ctx.shop, o.no, { granted: true }))) };
  });

  // `{ q }`: a one-time code goes to the order's contact (through the lookup.code hook); the same answer either way.
  r.post('/orders/lookup-code', async (ctx) => {
    await requestLookupCode(ctx.shop, body(ctx), { ip: ctx.ip, locale: ctx.state.locale });
    ctx.status = 202;
    ctx.body = { sent: true };
  });

  r.get('/orders/:no/receipt', async (ctx) => {
    const token = typeof ctx.query.token === 'string' ? ctx.query.token : rememberedToken(ctx, ctx.params.no!);
    ctx.body = { receipt: await getReceipt(ctx.shop, ctx.params.no!, { user: ctx.state.user, token }, requestInfo(ctx).origin) };
  });

  r.get('/receipts/verify', async (ctx) => {
    const [no, code] = [ctx.query.no, ctx.query.code].map((v) => (typeof v === 'string' ? v : ''));
    ctx.body = await verifyReceipt(ctx.shop, { no: no!, code: code! }, requestInfo(ctx).origin);
  });

  return r;
}
