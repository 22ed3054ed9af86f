import type { TemplateName } from '../themes/renderer.js';
import { balanceOf } from '../wallet/ledger.js';
import type { ShopContext } from './context.js';

/** Renders a theme template with the data every page gets (see themes/README.md). */
export async function renderPage(
  ctx: ShopContext,
  template: TemplateName,
  data: Record<string, unknown>,
  status = 200,
): Promise<void> {
  const { shop } = ctx;
  const user = ctx.state.user;
  const locale = ctx.state.locale;
  const site = ctx.state.site;
  const theme = (site?.theme && shop.themes.get(site.theme)) || shop.theme;
  const html = theme.render(template, {
    shop: { name: site?.name ?? shop.config.shop.name, currency: shop.config.shop.currency, locale: shop.config.shop.locale, notice: site ? null : (shop.config.shop.notice ?? null) },
    site: site ? { code: site.code, name: site.name, logoUrl: site.logoUrl, notice: site.notice } : null,
    locale,
    otherLocale: locale === 'zh-CN' ? 'en' : 'zh-CN',
    user: user ? { id: user.id, email: user.email, role: user.role, balance: await balanceOf(shop, user.id) } : null,
    csrf: ctx.state.csrf,
    path: ctx.path,
    flash: null,
    base: ctx.state.base,
    ...data,
  });
  ctx.status = status;
  ctx.type = 'html';
  ctx.body = html;
}
