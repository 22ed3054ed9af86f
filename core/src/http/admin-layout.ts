import Router from '@koa/router';
import Handlebars from 'handlebars';
import type { User } from '../agents/users.js';
import { errors } from '../errors.js';
import { DEFAULT_LOCALE, isLocale, translate, type Locale } from '../i18n/messages.js';
import { formatMoney } from '../money/money.js';
import type { ShopContext, ShopRouter } from './context.js';

/**
 * The operator's console: its own markup (not the shop theme's), one shell for every page, and a
 * Handlebars instance with the helpers console pages use. A page compiles its body with
 * `consoleTemplate` and hands the HTML to `renderConsole`.
 */
const hbs = Handlebars.create();
type Opts = Handlebars.HelperOptions;
const localeOf = (o: Opts): Locale => (isLocale(o.data?.root?.locale) ? o.data.root.locale : DEFAULT_LOCALE);

hbs.registerHelper('eq', (a: unknown, b: unknown) => a === b);
/** `{{t "admin.key" name=value}}`: core messages (i18n/messages.ts) in the page's language. */
hbs.registerHelper('t', (key: string, o: Opts) => translate(localeOf(o), key, o.hash));
hbs.registerHelper('money', (amount: unknown, o: Opts) => (typeof amount === 'number' ? formatMoney(amount, o.data?.root?.currency) : ''));
hbs.registerHelper('date', (ms: unknown, o: Opts) =>
  typeof ms === 'number' ? new Intl.DateTimeFormat(localeOf(o), { dateStyle: 'short', timeStyle: 'medium', timeZone: 'Asia/Shanghai' }).format(ms) : '',
);
hbs.registerHelper('concat', (...args: unknown[]) => args.slice(0, -1).join(''));
hbs.registerHelper('json', (v: unknown) => (v === undefined || v === null ? '' : JSON.stringify(v, null, 2)));

export const consoleTemplate = (source: string) => hbs.compile(source, { strict: false });

/** The console's sections, in menu order. A new page adds its entry here. */
const NAV: Array<{ href: string; label: string }> = [
  { href: '/admin', label: 'admin.nav.dashboard' },
  { href: '/admin/orders', label: 'admin.nav.orders' },
  { href: '/admin/payments', label: 'admin.nav.payments' },
  { href: '/admin/payments/stuck', label: 'admin.nav.stuck' },
  { href: '/admin/suppliers', label: 'admin.nav.suppliers' },
  { href: '/admin/catalog', label: 'admin.nav.catalog' },
  { href: '/admin/inventory', label: 'admin.nav.inventory' },
  { href: '/admin/agents', label: 'admin.nav.agents' },
  { href: '/admin/levels', label: 'admin.nav.levels' },
  { href: '/admin/markup-templates', label: 'admin.nav.markupTemplates' },
  { href: '/admin/coupons', label: 'admin.nav.coupons' },
  { href: '/admin/sites', label: 'admin.nav.sites' },
  { href: '/admin/withdrawals', label: 'admin.nav.withdrawals' },
  { href: '/admin/articles', label: 'admin.nav.articles' },
  { href: '/admin/insight', label: 'admin.nav.insight' },
  { href: '/admin/audit', label: 'admin.nav.audit' },
  { href: '/admin/plugins', label: 'admin.nav.plugins' },
  { href: '/admin/themes', label: 'admin.nav.themes' },
  { href: '/admin/settings', label: 'admin.nav.settings' },
];

/** What a staff member may use: the orders and inventory sections, pages and JSON. Admins use all. */
const STAFF_SECTIONS = ['/admin/orders', '/admin/inventory', '/api/admin/orders', '/api/admin/inventory'];

export function mayUseConsole(user: User, path: string): boolean {
  if (user.role === 'admin') return true;
  return user.role === 'staff' && STAFF_SECTIONS.some((p) => path === p || path.startsWith(`${p}/`));
}

const shell = consoleTemplate(`<!doctype html>
<html lang="{{locale}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}} - {{shopName}}</title>
<style>
body{font:15px/1.5 system-ui,"PingFang SC","Microsoft YaHei",sans-serif;margin:0;background:#f5f6f8;color:#1f2328}
header{background:#1f2328;color:#fff}
header nav{max-width:1100px;margin:0 auto;padding:8px 16px;display:flex;flex-wrap:wrap;gap:4px 16px;align-items:center}
header a{color:#d0d7de;text-decoration:none}header a[aria-current]{color:#fff;font-weight:600}
header .lang{margin-left:auto}
main{max-width:1100px;margin:0 auto;padding:16px}
section{background:#fff;border:1px solid #d8dde3;border-radius:10px;padding:16px;margin:16px 0;overflow-x:auto}
label{display:block;font-weight:600;margin-top:12px}
input[type=text],input[type=password],input[type=number],select,textarea{width:100%;box-sizing:border-box;padding:8px;border:1px solid #b8c0ca;border-radius:6px;font:inherit}
table{border-collapse:collapse;width:100%;font-size:14px}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e4e7eb;vertical-align:top}
pre{white-space:pre-wrap;word-break:break-all;background:#f6f8fa;padding:8px;border-radius:6px;font-size:13px;margin:4px 0}
.hint{color:#59636e;font-size:13px;margin:2px 0 0}
.error{color:#b42318;font-size:13px;margin:2px 0 0}
.notice{padding:10px 12px;border-radius:8px;background:#ecfdf3;border:1px solid #abefc6}
.notice.bad{background:#fef3f2;border-color:#fecdca}
.bad-cell{color:#b42318;font-weight:600}.ok-cell{color:#067647}
.row{display:flex;flex-wrap:wrap;gap:8px;align-items:center}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:16px}
button{margin-top:16px;padding:8px 16px;border:0;border-radius:6px;background:#1d4ed8;color:#fff;font:inherit;cursor:pointer}
button.small{margin-top:0;padding:4px 10px;font-size:13px}
@media (prefers-color-scheme:dark){body{background:#0f1115;color:#e6e8eb}section{background:#181b21;border-color:#2e343d}.hint{color:#a3acb8}pre{background:#0f1115}}
</style></head>
<body><header><nav aria-label="{{t "admin.nav.label"}}">
<strong>{{shopName}}</strong>
{{#each nav}}<a href="{{href}}"{{#if active}} aria-current="page"{{/if}}>{{label}}</a>{{/each}}
<a class="lang" href="?lang={{otherLocale}}">{{#if (eq otherLocale "en")}}English{{else}}中文{{/if}}</a>
</nav></header>
<main>
<h1>{{title}}</h1>
{{{body}}}
</main></body></html>`);

/**
 * The signed-in admin (or staff member, on its pages), or undefined after redirecting a visitor to
 * the login page. Anyone else signed in gets 403.
 */
export function consoleUser(ctx: ShopContext): User | undefined {
  const user = ctx.state.user;
  if (!user) {
    ctx.redirect(`/login?next=${encodeURIComponent(ctx.originalUrl)}`);
    return undefined;
  }
  if (!mayUseConsole(user, ctx.path)) throw errors.forbidden();
  return user;
}

/** Data every console body template gets besides its own. */
export function consoleData(ctx: ShopContext) {
  return { locale: ctx.state.locale, csrf: ctx.state.csrf, currency: ctx.shop.config.shop.currency };
}

function page(ctx: ShopContext, title: string, body: string): string {
  const locale = ctx.state.locale;
  const user = ctx.state.user;
  return shell({
    locale,
    otherLocale: locale === 'zh-CN' ? 'en' : 'zh-CN',
    title,
    shopName: ctx.shop.config.shop.name,
    body,
    nav: NAV.filter((n) => user && mayUseConsole(user, n.href)).map((n) => ({ href: n.href, label: translate(locale, n.label), active: ctx.path === n.href })),
  });
}

/** Wraps a page body in the console's shell and sends it. */
export function renderConsole(ctx: ShopContext, p: { title: string; body: string; status?: number }): void {
  ctx.status = p.status ?? 200;
  ctx.type = 'html';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = page(ctx, p.title, p.body);
}

/** The shell before and after the body, for a page that streams its body as work proceeds. */
export function consoleShell(ctx: ShopContext, title: string): [string, string] {
  const marker = '\u0000body\u0000';
  const [head, tail] = page(ctx, title, marker).split(marker) as [string, string];
  return [head, tail];
}

/** A router under /admin whose every route passes `consoleUser` first. */
export function consoleRouter(): ShopRouter {
  const r: ShopRouter = new Router({ prefix: '/admin' });
  r.use(async (ctx, next) => {
    if (!consoleUser(ctx)) return;
    await next();
  });
  return r;
}
