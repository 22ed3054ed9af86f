import Router from '@koa/router';
import { becomeAgent, downline, isAgent, requireAgent } from '../agents/tree.js';
import { saveSite, siteOf, siteOrders } from '../agents/sites.js';
import { agentSiteId, deleteArticle, getArticle, listArticles, saveArticle } from '../articles/articles.js';
import { createCoupon, listCoupons, setCouponActive } from '../coupons/coupons.js';
import { ShopError } from '../errors.js';
import { translate } from '../i18n/messages.js';
import { parseMoney, toDecimalString } from '../money/money.js';
import { buyLevel } from '../pricing/levels.js';
import { listMarkups, setMarkups, type MarkupView } from '../pricing/markups.js';
import { chainOf, pricingSnapshot } from '../pricing/pricing.js';
import { earningsOf } from '../pricing/rebates.js';
import { balanceOf, walletHistory } from '../wallet/ledger.js';
import { listWithdrawals, requestWithdrawal, WITHDRAWAL_METHODS } from '../wallet/withdrawals.js';
import { couponRulesOf } from './admin-coupons.js';
import { percentBp, type Form as FormFields } from './admin-forms.js';
import type { ShopContext, ShopRouter } from './context.js';
import { toShopError } from './errors.js';
import { renderPage } from './render.js';
import { checkCsrf } from './session.js';
import { inviteLinks } from './store-agent.js';

type Form = Record<string, unknown>;

/** A markup as the form shows it: fixed amounts in yuan, percents as percents ("5.5"). */
const markupRow = (m: MarkupView) => ({ ...m, target: m.target ?? '', level: m.level ?? '', shown: m.kind === 'fixed' ? toDecimalString(m.value) : String(m.value / 100) });

/** The markup form's rows (`markups[i][scope|target|level|kind|value]`) as typed, blank rows skipped. */
function formRows(f: Form): Array<Record<string, string>> {
  const raw = f.markups && typeof f.markups === 'object' ? Object.values(f.markups as object) : [];
  return (raw as Array<Record<string, unknown>>)
    .map((r) => Object.fromEntries(['scope', 'target', 'level', 'kind', 'value'].map((k) => [k, typeof r?.[k] === 'string' ? (r[k] as string).trim() : ''])))
    .filter((r) => r.value !== '');
}

/** Those rows as markups: fixed amounts typed in yuan, percents as percents. */
const markupsFromForm = (f: Form) =>
  formRows(f).map((r) => ({
    scope: r.scope || 'all',
    ...(r.target ? { target: r.target } : {}),
    ...(r.level ? { level: r.level } : {}),
    kind: r.kind || 'fixed',
    value: r.kind === 'percent' ? percentBp(r.value) : (parseMoney(r.value!) ?? NaN),
  }));

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/** The article form's fields as `saveArticle` takes them (checkboxes: `on` when ticked). */
const articleFromForm = (f: Form) => ({
  title: str(f.title) ?? '',
  body: str(f.body) ?? '',
  format: str(f.format) || 'text',
  pinned: f.pinned === 'on',
  published: f.published === 'on',
  announcement: f.announcement === 'on',
});

async function renderAgent(ctx: ShopContext, opts: { failure?: ShopError; form?: string; saved?: string; submitted?: Form } = {}) {
  const user = ctx.state.user!;
  const locale = ctx.state.locale;
  const { levels, levelById, baseLevelId } = await pricingSnapshot(ctx.shop);
  const me = (await chainOf(ctx.shop, user.id))[0]!;
  const level = levelById.get(me.levelId) ?? levelById.get(baseLevelId)!;
  const base = {
    title: translate(locale, 'page.agent'),
    balance: await balanceOf(ctx.shop, user.id),
    level: { code: level.code, name: level.name },
    levels: levels.map((l) => ({ code: l.code, name: l.name, upgradeSpend: l.upgradeSpend, upgradePrice: l.upgradePrice, current: l.id === level.id, buyable: l.upgradePrice !== null && l.rank > level.rank })),
    wallet: await walletHistory(ctx.shop, user.id, { limit: 30 }),
    withdrawals: await listWithdrawals(ctx.shop, { userId: user.id, limit: 10 }),
    withdraw: opts.form === 'withdraw' ? { amount: str(opts.submitted?.amount) ?? '', method: str(opts.submitted?.method) ?? 'alipay', payee: str(opts.submitted?.payee) ?? '' } : { amount: '', method: 'alipay', payee: '' },
    methods: WITHDRAWAL_METHODS,
    isAgent: isAgent(user),
    form: opts.form ?? null,
    saved: opts.saved ?? null,
    errors: opts.failure ? Object.fromEntries(Object.entries(opts.failure.fields ?? {}).map(([k, v]) => [k, translate(locale, v, opts.failure!.params)])) : {},
    error: opts.failure ? translate(locale, opts.failure.messageKey, opts.failure.params) : null,
  };
  if (!base.isAgent) return renderPage(ctx, 'agent', base, opts.failure?.status);
  const parent = Number(ctx.query.parent);
  const [invite, team, markups, earnings, site] = await Promise.all([
    inviteLinks(ctx),
    downline(ctx.shop, user, { parentId: Number.isInteger(parent) && parent > 0 ? parent : undefined, page: Number(ctx.query.page) || 1 }),
    listMarkups(ctx.shop, user.id),
    earningsOf(ctx.shop, user.id, { limit: 30 }),
    siteOf(ctx.shop, user.id),
  ]);
  const submittedSite = opts.form === 'site' ? opts.submitted : undefined;
  // The sub-shop's articles (drafts too) and the article form: as typed when refused, else the one `?article=` opens.
  const editing = Number(ctx.query.article);
  const articleForm =
    opts.form === 'articles'
      ? { ...articleFromForm(opts.submitted ?? {}), id: Number(opts.submitted?.id) || null }
      : site && Number.isSafeInteger(editing) && editing > 0
        ? await getArticle(ctx.shop, site.id, editing, { drafts: true }).catch(() => null)
        : null;
  await renderPage(
    ctx,
    'agent',
    {
      ...base,
      invite,
      downline: { ...team, pages: Math.max(1, Math.ceil(team.total / team.pageSize)), nested: team.parentId !== user.id },
      // The rows the agent submitted when they were refused (each with its error), else what is
      // saved; then one blank row to add another.
      markups: [
        ...(opts.form === 'markups'
          ? formRows(opts.submitted ?? {}).map((m, i) => ({ ...m, shown: m.value, error: ['value', 'target', 'level', 'scope'].map((k) => base.errors[`markups.${i}.${k}`]).find(Boolean) }))
          : markups.map(markupRow)),
        { scope: 'all', target: '', level: '', kind: 'fixed', shown: '' },
      ],
      earnings,
      site: submittedSite ? { ...site, ...submittedSite, enabled: submittedSite.enabled === 'on' } : site ?? null,
      siteUrl: site ? (site.host && site.hostApproved ? `//${site.host}/` : `/s/${site.code}/`) : null,
      siteOrders: site ? await siteOrders(ctx.shop, site, { limit: 20 }) : [],
      themes: [ctx.shop.config.theme, ...ctx.shop.config.siteThemes],
      articles: site ? (await listArticles(ctx.shop, site.id, { drafts: true, pageSize: 50 })).articles : [],
      articleForm: articleForm ?? { id: null, title: '', body: '', format: 'text', pinned: false, published: true, announcement: false },
      // The agent's coupons, funded from its margin; the form as typed when refused.
      coupons: await listCoupons(ctx.shop, user.id, { limit: 100 }),
      couponForm: opts.form === 'coupons' && opts.submitted?.code !== undefined ? opts.submitted : { kind: 'percent' },
    },
    opts.failure?.status,
  );
}

/** The agent centre (代理中心) in the shop's theme: `/agent`. */
export function agentPages(): ShopRouter {
  const r: ShopRouter = new Router();

  r.get('/agent', async (ctx) => {
    if (!ctx.state.user) return ctx.redirect('/login?next=/agent');
    await renderAgent(ctx, { saved: str(ctx.query.saved) });
  });

  /** Each form posts here, runs its action, and comes back to /agent (or shows its errors). */
  const action = (path: string, form: string, act: (ctx: ShopContext, f: Form) => Promise<unknown>) =>
    r.post(path, async (ctx) => {
      checkCsrf(ctx);
      if (!ctx.state.user) return ctx.redirect('/login?next=/agent');
      const f = (ctx.request.body ?? {}) as Form;
      try {
        await act(ctx, f);
        ctx.status = 303;
        ctx.redirect(`/agent?saved=${form}#${form}`);
      } catch (err) {
        const e = toShopError(err);
        if (e.status >= 500) throw err;
        await renderAgent(ctx, { failure: e, form, submitted: f });
      }
    });

  action('/agent/join', 'join', (ctx) => becomeAgent(ctx.shop, ctx.state.user!, ctx.ip));
  action('/agent/level', 'level', (ctx, f) => buyLevel(ctx.shop, ctx.state.user!, str(f.level) ?? '', ctx.ip));
  action('/agent/markups', 'markups', (ctx, f) => setMarkups(ctx.shop, ctx.state.user!, { markups: markupsFromForm(f) }, ctx.ip));
  action('/agent/withdraw', 'withdraw', (ctx, f) =>
    requestWithdrawal(ctx.shop, ctx.state.user!, { amount: parseMoney(str(f.amount) ?? '') ?? NaN, method: str(f.method), payee: str(f.payee) }, ctx.ip),
  );
  action('/agent/site', 'site', (ctx, f) =>
    saveSite(
      ctx.shop,
      ctx.state.user!,
      { code: str(f.code) ?? '', name: str(f.name) ?? '', host: str(f.host) ?? '', logoUrl: str(f.logoUrl) ?? '', notice: str(f.notice) ?? '', theme: str(f.theme) || undefined, enabled: f.enabled === 'on' },
      ctx.ip,
    ),
  );

  // The agent's own coupons (its downline and sub-shop buy with them, out of its margin).
  const couponIssuer = (ctx: ShopContext) => {
    const me = requireAgent(ctx.state.user!);
    return { actorId: me.id, agentId: me.id, ip: ctx.ip };
  };
  action('/agent/coupons', 'coupons', async (ctx, f) => createCoupon(ctx.shop, couponIssuer(ctx), { code: str(f.code) ?? '', ...(await couponRulesOf(ctx.shop, f as FormFields)) }));
  action('/agent/coupons/active', 'coupons', (ctx, f) => setCouponActive(ctx.shop, couponIssuer(ctx), Number(f.id) || 0, f.active === '1'));

  // Articles of the agent's sub-shop: `id` set edits that one; `delete` removes it.
  action('/agent/articles', 'articles', async (ctx, f) => {
    const siteId = await agentSiteId(ctx.shop, ctx.state.user);
    const id = Number(f.id) || null;
    const actor = { id: ctx.state.user!.id, ip: ctx.ip };
    if (id && f.delete === '1') return deleteArticle(ctx.shop, siteId, id, actor);
    return saveArticle(ctx.shop, siteId, id, articleFromForm(f), actor);
  });

  return r;
}
