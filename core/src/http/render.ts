import { errors } from '../errors.js';
import type { Theme, TemplateName } from '../themes/renderer.js';
import { balanceOf } from '../wallet/ledger.js';
import type { ShopContext } from './context.js';

/** The theme this request is served by: its sub-shop's, else the shop's. */
export function themeOf(ctx: ShopContext): Theme {
  const site = ctx.state.site;
  return (site?.theme && ctx.shop.themes.get(site.theme)) || ctx.shop.theme;
}

/**
 * The data every page gets (see themes/README.md) around the page's own. `user` and `csrf` are
 * the buyer's, so only the layout and uncached templates may use them: cached pages render their
 * template once for everyone at the same prices (page-cache.ts).
 */
export async function pageData(ctx: ShopContext, data: Record<string, unknown>, who: 'buyer' | 'anyone' = 'buyer'): Promise<Record<string, unknown>> {
  const { shop } = ctx;
  const user = who === 'buyer' ? ctx.state.user : undefined;
  const locale = ctx.state.locale;
  const site = ctx.state.site;
  return {
    shop: { name: site?.name ?? shop.config.shop.name, currency: shop.config.shop.currency, locale: shop.config.shop.locale, notice: site ? null : (shop.config.shop.notice ?? null) },
    site: site ? { code: site.code, name: site.name, logoUrl: site.logoUrl, notice: site.notice } : null,
    locale,
    otherLocale: locale === 'zh-CN' ? 'en' : 'zh-CN',
    user: user ? { id: user.id, email: user.email, role: user.role, balance: await balanceOf(shop, user.id) } : null,
    csrf: who === 'buyer' ? ctx.state.csrf : null,
    path: ctx.path,
    flash: null,
    base: ctx.state.base,
    ...data,
  };
}

/** Renders a theme template with the data every page gets. */
export async function renderPage(ctx: ShopContext, template: TemplateName, data: Record<string, unknown>, status = 200): Promise<void> {
  const theme = themeOf(ctx);
  // An optional template (search, articles) the theme does not have: the page does not exist there.
  if (!theme.has(template)) throw errors.notFound();
  const html = theme.render(template, await pageData(ctx, data));
  ctx.status = status;
  ctx.type = 'html';
  ctx.body = html;
}
