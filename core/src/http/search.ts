import Router from '@koa/router';
import { searchProducts } from '../catalog/search.js';
import { translate } from '../i18n/messages.js';
import { priceProducts } from '../pricing/pricing.js';
import type { ShopRouter } from './context.js';
import { toShopError } from './errors.js';
import { renderPage } from './render.js';
import { pricesFor } from './site.js';

/** `/search?q=`: the results page (themes' optional `search` template); the Store API's is `GET /api/store/products?q=`. */
export function searchPages(): ShopRouter {
  const r: ShopRouter = new Router();
  r.get('/search', async (ctx) => {
    const q = typeof ctx.query.q === 'string' ? ctx.query.q.trim() : '';
    let products: unknown[] = [];
    let error: string | null = null;
    if (q) {
      try {
        products = priceProducts(await pricesFor(ctx), await searchProducts(ctx.shop, { q }));
      } catch (err) {
        const e = toShopError(err);
        if (e.status >= 500) throw err;
        error = translate(ctx.state.locale, e.fields?.q ?? e.messageKey, e.params);
      }
    }
    await renderPage(ctx, 'search', { title: translate(ctx.state.locale, 'page.search'), search: { q, products, error } }, error ? 400 : 200);
  });
  return r;
}
