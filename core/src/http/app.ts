import { createReadStream } from 'node:fs';
import path from 'node:path';
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import Koa from 'koa';
import type { Shop } from '../shop.js';
import { adminApi } from './admin-api.js';
import { adminPages } from './admin-pages.js';
import { adminPayments } from './admin-payments.js';
import { adminDashboard } from './admin-dashboard.js';
import { adminInsight } from './admin-insight.js';
import { adminSuppliers } from './admin-suppliers.js';
import { adminOrders } from './admin-orders.js';
import type { ShopApp, ShopRouter } from './context.js';
import { dispatch } from './dispatch.js';
import { bodyError, handleErrors } from './errors.js';
import { securityHeaders } from './headers.js';
import { payRoutes } from './pay.js';
import { loadSession } from './session.js';
import { shopPages } from './shop-pages.js';
import { resolveSite } from './site.js';
import { storeAgentApi, storeWalletApi } from './store-agent.js';
import { agentPages } from './agent-pages.js';
import { adminAgentsApi } from './admin-agents-api.js';
import { adminAgents } from './admin-agents.js';
import { adminCatalog } from './admin-catalog.js';
import { adminInventory, adminInventoryApi } from './admin-inventory.js';
import { adminSettings } from './admin-settings.js';
import { adminUsers, adminUsersApi } from './admin-users.js';
import { storeApi } from './store-api.js';
import { agentApi } from './agent-api.js';
import { supplierRoutes } from './supplier.js';
import { articleRoutes } from './articles.js';
import { adminArticles, adminArticlesApi } from './admin-articles.js';
import { searchPages } from './search.js';
import { challengeRoutes } from './challenge.js';
import { adminMarkupTemplates, adminMarkupTemplatesApi } from './admin-markup-templates.js';
import { adminCoupons, adminCouponsApi } from './admin-coupons.js';

const MIME: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

/** Theme assets under a content-hashed prefix, so they can be cached for a year. */
function assets(): ShopRouter {
  const r: ShopRouter = new Router();
  r.get('/assets/:hash/*file', (ctx) => {
    const rel = ctx.params.file as string | string[] | undefined;
    // Each theme's assets have their own hash; an old hash gets today's file, not cached.
    const prefix = `/assets/${ctx.params.hash}/`;
    const theme = [...ctx.shop.themes.values()].find((t) => t.assetPrefix === prefix);
    const file = (theme ?? ctx.shop.theme).assetFile(Array.isArray(rel) ? rel.join('/') : (rel ?? ''));
    if (!file) return;
    ctx.type = MIME[path.extname(file)] ?? 'application/octet-stream';
    ctx.set('Cache-Control', theme ? 'public, max-age=31536000, immutable' : 'no-cache');
    ctx.body = createReadStream(file);
  });
  return r;
}

function health(): ShopRouter {
  const r: ShopRouter = new Router();
  r.get('/healthz', async (ctx) => {
    await ctx.shop.db.knex.raw('select 1');
    ctx.body = { status: 'ok' };
  });
  return r;
}

/**
 * The router plugins' routes join, under /plugins/<name>/. The app mounts it once; plugins add
 * their routes later, when the shop gets ready.
 */
export function pluginRoutes() {
  const router: ShopRouter = new Router({ prefix: '/plugins' });
  const mount = (plugin: string, register: (r: ShopRouter) => void): void => {
    const sub: ShopRouter = new Router({ prefix: `/${plugin}` });
    register(sub);
    router.use(sub.routes(), sub.allowedMethods());
  };
  return { router, mount };
}

export function createApp(shop: Shop, plugins: ShopRouter): Koa {
  // Behind a TLS-terminating proxy, trustProxy makes ctx.secure true, so cookies get `Secure`.
  const app: ShopApp = new Koa({ keys: shop.keys.cookies, proxy: Boolean(shop.config.trustProxy) });
  app.context.shop = shop;
  app.silent = true; // errors are logged by handleErrors, once, with the request

  app.use(securityHeaders);
  app.use(handleErrors);
  // Sub-shops first: a `/s/<code>` prefix comes off the path before any route matches.
  app.use(resolveSite);
  // Before the body parser: payment notifies are verified over their raw bytes.
  app.use(dispatch([health(), assets(), payRoutes()], { allowedMethods: false }));
  const parseBody = bodyParser({
    enableTypes: ['json', 'form'],
    jsonLimit: '32kb',
    formLimit: '32kb',
    jsonStrict: true,
    onError(err) {
      throw bodyError(err);
    },
  });
  // Most requests are page views, which have no body to parse.
  app.use((ctx, next) => (ctx.method === 'GET' || ctx.method === 'HEAD' ? next() : parseBody(ctx, next)));
  app.use(loadSession);
  // Selling tools first (articles, search, bot-defence challenges, markup templates, coupons): their own paths only.
  const sellingTools = [articleRoutes(), searchPages(), challengeRoutes(), adminArticlesApi(), adminMarkupTemplatesApi(), adminCouponsApi(), adminArticles(), adminMarkupTemplates(), adminCoupons()];
  app.use(
    dispatch([...sellingTools, storeApi(), storeAgentApi(), storeWalletApi(), agentApi(), adminApi(), adminAgentsApi(), adminInventoryApi(), adminUsersApi(), supplierRoutes(), adminPages(), adminDashboard(), adminOrders(), adminInsight(), ...adminSuppliers(), adminPayments(), adminAgents(), adminCatalog(), adminInventory(), adminUsers(), adminSettings(), agentPages(), shopPages(), plugins]),
  );
  return app as unknown as Koa;
}
