import Router from '@koa/router';
import { authenticate, createUser, credentialsSchema, loginSchema } from '../agents/users.js';
import { fieldsOfSku } from '../catalog/catalog.js';
import { findSku, getCategory, getProduct, listStorefront } from '../catalog/snapshot.js';
import { shownStock } from '../catalog/stock-board.js';
import { cachedPage } from './page-cache.js';
import { priceProducts } from '../pricing/pricing.js';
import { announcementsOf } from '../articles/articles.js';
import type { InputField } from '../catalog/fields.js';
import { errors, ShopError } from '../errors.js';
import { pickableKeys } from '../inventory/picks.js';
import { kycStatus, ownKycView, submitKyc } from '../kyc/kyc.js';
import { translate } from '../i18n/messages.js';
import { multiply, parseMoney } from '../money/money.js';
import { startTopup } from '../wallet/topup.js';
import { createApiKey, listApiKeys, revokeApiKey, type ApiCredentials } from '../agents/api-keys.js';
import { getOrder, listOrders } from '../orders/orders.js';
import type { PaymentAction } from '../plugins/payment.js';
import { getReceipt, verifyReceipt } from '../orders/receipts.js';
import { balanceOf } from '../wallet/ledger.js';
import { priceFor, quoteCoupon, type CouponQuote } from '../orders/checkout.js';
import { requestInfo, type ShopContext, type ShopRouter } from './context.js';
import { toShopError } from './errors.js';
import { renderPage } from './render.js';
import { pricesFor, rememberInvite, uplineForSignup } from './site.js';
import QRCode from 'qrcode';
import { checkCsrf, grantOrders, isGranted, rememberedToken, rememberOrder } from './session.js';
import { lookupOrders, requestLookupCode } from '../orders/lookup.js';
import { addWatch, unsubscribe, type WatchView } from '../notices/watches.js';
import { endSession, requireUser, startSession } from './store-api.js';
import { answerOf, challengeFor, checkRegistration } from './challenge.js';

type Form = Record<string, string | undefined>;

const form = (ctx: ShopContext): Form => {
  const b = (ctx.request.body ?? {}) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(b).map(([k, v]) => [k, typeof v === 'string' ? v : undefined]));
};

/** Only local paths, so a crafted `next` cannot send a buyer to another site after login. */
const safeNext = (next: string | undefined) => (next && /^\/(?!\/)/.test(next) ? next : '/account');

/** Translates a ShopError's field messages for the page's locale. */
function fieldMessages(ctx: ShopContext, e: ShopError): Record<string, string> {
  return Object.fromEntries(Object.entries(e.fields ?? {}).map(([k, v]) => [k, translate(ctx.state.locale, v, e.params)]));
}

/** The payment gateways plugins offer, named in the page's language. */
const gatewayChoices = (ctx: ShopContext) => [...ctx.shop.plugins.gateways.values()].map((g) => ({ id: g.id, label: g.label[ctx.state.locale] }));

/** Values of `field_<name>` inputs, as the checkout expects them. */
function fieldValues(source: Form | Record<string, unknown>, fields: InputField[]): Record<string, string> {
  const values: Record<string, string> = {};
  for (const f of fields) {
    const v = source[`field_${f.name}`];
    if (typeof v === 'string' && v !== '') values[f.name] = v;
  }
  return values;
}

/**
 * The QR code an order page shows, as a `data:` URL made here: a gateway's QR content, or a
 * transfer's receiving address (SVG, crisp at any size; wallets scan the address).
 */
async function payQrOf(action: PaymentAction | null | undefined): Promise<string | null> {
  if (action?.kind === 'qr') return QRCode.toDataURL(action.content, { margin: 1, width: 240 });
  if (action?.kind !== 'transfer') return null;
  const svg = await QRCode.toString(action.address, { type: 'svg', margin: 1 });
  return `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
}

const toQuantity = (v: unknown) => (typeof v === 'string' && /^\d{1,9}$/.test(v) ? Number(v) : v);

/** The keys ticked on the checkout page (卡密预选), as ids; what is not a number the checkout refuses. */
function pickedOf(ctx: ShopContext): number[] | undefined {
  const v = (ctx.request.body as Record<string, unknown> | undefined)?.pick;
  const ids = (Array.isArray(v) ? v : v === undefined ? [] : [v]).map((x) => (typeof x === 'string' && /^\d{1,15}$/.test(x) ? Number(x) : NaN));
  return ids.length ? ids : undefined;
}

async function renderCheckout(ctx: ShopContext, source: Form | Record<string, unknown>, failure?: ShopError, picked: number[] = []) {
  const found = await findSku(ctx.shop, String(source.sku ?? ''));
  const product = priceProducts(await pricesFor(ctx), [found.product])[0]!;
  const sku = product.skus.find((s) => s.id === found.sku.id)!;
  const quantity = toQuantity(source.quantity ?? '1');
  const values = fieldValues(source, product.fields);
  const errs = failure ? fieldMessages(ctx, failure) : {};
  const qty = typeof quantity === 'number' && quantity > 0 ? quantity : sku.minQuantity;
  // A code typed in: the discount it gives, shown before paying, or why it gives none.
  const couponCode = typeof source.coupon === 'string' ? source.coupon.trim() : '';
  let coupon: CouponQuote | null = null;
  if (couponCode && !errs.coupon) {
    try {
      coupon = await quoteCoupon(ctx.shop, ctx.state.user, { sku: sku.code, quantity: qty, pick: picked.length ? picked : undefined, coupon: couponCode }, requestInfo(ctx).site);
    } catch (err) {
      const e = toShopError(err);
      if (e.status >= 500) throw err;
      Object.assign(errs, fieldMessages(ctx, e));
    }
  }
  // What the order will charge a unit: its wholesale tier and a flash sale on included, and each picked key's surcharge.
  const units = picked.length || qty;
  const unitPrice = (await priceFor(ctx.shop, ctx.state.user, requestInfo(ctx).site, sku.id, units)).price + (picked.length && sku.pick ? sku.pick.surcharge : 0);
  await renderPage(
    ctx,
    'checkout',
    {
      title: product.name,
      product,
      sku,
      quantity: units,
      unitPrice,
      total: coupon?.amount ?? multiply(unitPrice, units),
      coupon,
      couponCode,
      values,
      contact: typeof source.contact === 'string' ? source.contact : '',
      balance: ctx.state.user ? await balanceOf(ctx.shop, ctx.state.user.id) : null,
      gateways: gatewayChoices(ctx),
      // Guests answer a bot-defence challenge with the order (http/challenge.ts).
      botCheck: ctx.state.user ? null : await challengeFor(ctx, 'checkout'),
      // A SKU that offers picking lists its keys in stock as previews, to tick.
      picks: sku.pick ? { surcharge: sku.pick.surcharge, keys: (await pickableKeys(ctx.shop, sku.code)).picks.map((p) => ({ ...p, checked: picked.includes(p.id) })) } : null,
      fieldRows: product.fields.map((f) => ({ ...f, value: values[f.name] ?? '', error: errs[`fields.${f.name}`] })),
      errors: errs,
      error: failure ? translate(ctx.state.locale, failure.messageKey, failure.params) : null,
    },
    failure?.status ?? 200,
  );
}

/** `created`: an API key just made, whose secret this one page shows (it is never shown again). */
async function renderAccount(ctx: ShopContext, failure?: ShopError, amount = '', created?: ApiCredentials & { label: string | null }) {
  const user = ctx.state.user!;
  await renderPage(
    ctx,
    'account',
    {
      title: translate(ctx.state.locale, 'page.account'),
      orders: await listOrders(ctx.shop, user.id, { limit: 50 }),
      balance: await balanceOf(ctx.shop, user.id),
      gateways: gatewayChoices(ctx),
      topup: { amount, errors: failure ? fieldMessages(ctx, failure) : {} },
      apiKeys: (await listApiKeys(ctx.shop, user.id)).filter((k) => k.revokedAt === null),
      newApiKey: created ?? null,
    },
    failure?.status,
  );
}

async function renderKyc(ctx: ShopContext, f: Form = {}, failure?: ShopError) {
  const kyc = ownKycView(await kycStatus(ctx.shop, ctx.state.user!.id));
  const locale = ctx.state.locale;
  await renderPage(
    ctx,
    'kyc',
    {
      title: translate(locale, 'page.kyc'),
      kyc,
      offered: Boolean(ctx.shop.plugins.kycProvider),
      rejection: kyc.status === 'rejected' && kyc.reason ? translate(locale, `kyc.rejected.${kyc.reason}`) : null,
      values: { name: f.name ?? '', phone: f.phone ?? '' },
      errors: failure ? fieldMessages(ctx, failure) : {},
      error: failure ? translate(locale, failure.messageKey, failure.params) : null,
    },
    failure?.status,
  );
}

/**
 * The stock and price notice page (notices/watches.ts): its form for a SKU and kind, the answer
 * once subscribed (`done`), or the form again naming what was wrong. Only where a plugin sends mail.
 */
async function renderNotify(ctx: ShopContext, source: Form | Record<string, unknown>, outcome: { done?: WatchView; failure?: ShopError } = {}) {
  if (!ctx.shop.plugins.mailer) throw errors.notFound('notify.unavailable');
  const found = await findSku(ctx.shop, String(source.sku ?? ''));
  const product = priceProducts(await pricesFor(ctx), [found.product])[0]!;
  const { done, failure } = outcome;
  await renderPage(
    ctx,
    'notify',
    {
      title: translate(ctx.state.locale, 'page.notify'),
      notify: {
        product,
        sku: product.skus.find((s) => s.id === found.sku.id),
        kind: source.kind === 'stock' ? 'stock' : 'price',
        email: done?.email ?? (typeof source.email === 'string' ? source.email : ''),
        done: Boolean(done),
        price: done?.price ?? null,
      },
      errors: failure ? fieldMessages(ctx, failure) : {},
      error: failure ? translate(ctx.state.locale, failure.messageKey, failure.params) : null,
    },
    failure?.status ?? 200,
  );
}

/** The query page: the token form, and look-up by number or contact (`lookup`: its answer). */
function renderQuery(ctx: ShopContext, data: { no?: string; error?: string | null; lookup?: Record<string, unknown> }, status = 200) {
  return renderPage(ctx, 'query', { title: translate(ctx.state.locale, 'page.query'), no: data.no ?? '', error: data.error ?? null, lookup: data.lookup ?? { q: '' } }, status);
}

/** The shop's HTML pages, rendered by the active theme. */
export function shopPages(): ShopRouter {
  const r: ShopRouter = new Router();

  // Served from the page cache (page-cache.ts): what they show depends on the prices, not the buyer.
  // The site's announcements are part of the home page: a new, changed or removed one makes a new entry.
  r.get('/', async (ctx) => {
    const announcements = await announcementsOf(ctx.shop, ctx.state.site?.id ?? null);
    await cachedPage(
      ctx,
      'home',
      async (prices) => ({
        title: '',
        categories: (await listStorefront(ctx.shop)).map((c) => ({ ...c, products: shownStock(priceProducts(prices, c.products)) })),
        announcements,
      }),
      announcements.map((a) => `${a.id}:${a.updatedAt}`).join(),
    );
  });

  r.get('/category/:slug', (ctx) =>
    cachedPage(ctx, 'category', async (prices) => {
      const category = await getCategory(ctx.shop, ctx.params.slug!);
      return { title: category.name, category: { ...category, products: shownStock(priceProducts(prices, category.products)) } };
    }),
  );

  // `?sku=CODE` naming a link-only SKU of the product adds it to the page (and preselects it); the
  // page is cached per such SKU, and any other `sku` is the plain page.
  r.get('/product/:slug', async (ctx) => {
    const asked = typeof ctx.query.sku === 'string' ? await findSku(ctx.shop, ctx.query.sku).catch(() => undefined) : undefined;
    const linked = asked?.sku.visibility === 'link' && (asked.product.slug === ctx.params.slug || String(asked.product.id) === ctx.params.slug) ? asked.sku.code : undefined;
    await cachedPage(
      ctx,
      'product',
      async (prices) => {
        const product = shownStock(priceProducts(prices, [await getProduct(ctx.shop, ctx.params.slug!, { sku: linked })]))[0]!;
        const defaultSku = (product.skus.find((s) => s.code === linked && s.inStock) ?? product.skus.find((s) => s.inStock))?.code;
        // `notify`: the shop can mail stock and price notices (a mail plugin is loaded).
        return { title: product.name, product, defaultSku, notify: Boolean(ctx.shop.plugins.mailer) };
      },
      linked,
    );
  });

  r.get('/notify', (ctx) => renderNotify(ctx, ctx.query as Record<string, unknown>));

  r.post('/notify', async (ctx) => {
    checkCsrf(ctx);
    const f = form(ctx);
    try {
      const done = await addWatch(ctx.shop, ctx.state.user, { sku: f.sku ?? '', kind: f.kind as never, email: ctx.state.user ? undefined : f.email }, requestInfo(ctx));
      await renderNotify(ctx, f, { done });
    } catch (err) {
      const e = toShopError(err);
      if (e.status >= 500 || e.code === 'not_found') throw err;
      await renderNotify(ctx, f, { failure: e });
    }
  });

  // The link in every notice: one click drops the address's subscriptions, no sign-in. POST is a
  // mail client's own unsubscribe button (RFC 8058, List-Unsubscribe-Post): the token is the proof.
  const unsubscribed = async (ctx: ShopContext, token: string) => {
    if (!(await unsubscribe(ctx.shop, token))) throw errors.notFound('notify.bad_link');
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Referrer-Policy', 'no-referrer');
    await renderPage(ctx, 'notify', { title: translate(ctx.state.locale, 'page.notify'), notify: { unsubscribed: true } });
  };
  r.get('/unsubscribe/:token', (ctx) => unsubscribed(ctx, ctx.params.token!));
  r.post('/unsubscribe/:token', (ctx) => unsubscribed(ctx, ctx.params.token!));

  r.get('/checkout', async (ctx) => {
    await renderCheckout(ctx, ctx.query as Record<string, unknown>);
  });

  r.post('/checkout', async (ctx) => {
    checkCsrf(ctx);
    const f = form(ctx);
    const picks = pickedOf(ctx);
    try {
      const { product } = await findSku(ctx.shop, f.sku ?? '');
      const { order, token, payment } = await ctx.shop.checkout(
        ctx.state.user,
        {
          sku: f.sku ?? '',
          // Picked keys are the quantity.
          quantity: picks ? undefined : (toQuantity(f.quantity ?? '1') as number),
          pick: picks,
          fields: fieldValues(f, product.fields),
          contact: f.contact || undefined,
          queryPassword: f.queryPassword || undefined,
          coupon: f.coupon || undefined,
          payment: f.payment ?? 'wallet',
          challenge: answerOf(f),
        },
        requestInfo(ctx),
      );
      if (!ctx.state.user) rememberOrder(ctx, order.no, token);
      ctx.status = 303;
      // A payment page elsewhere: go straight there. A QR code or a form: the order page shows it.
      ctx.redirect(payment?.kind === 'redirect' ? payment.url : `/order/${order.no}?token=${encodeURIComponent(token)}&placed=1`);
    } catch (err) {
      const e = toShopError(err);
      if (e.status >= 500 || e.code === 'not_found') throw err;
      await renderCheckout(ctx, f, e, picks);
    }
  });

  r.get('/order/:no', async (ctx) => {
    const token = typeof ctx.query.token === 'string' ? ctx.query.token : rememberedToken(ctx, ctx.params.no!);
    const order = await getOrder(ctx.shop, ctx.params.no!, { user: ctx.state.user, token, granted: isGranted(ctx, ctx.params.no!) });
    // The page shows keys: keep it out of shared caches and browser history snapshots.
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Referrer-Policy', 'no-referrer');
    const fieldLabels = Object.fromEntries(
      (await fieldsOfSku(ctx.shop, order.skuId)).map((f) => [f.name, f.label[ctx.state.locale]]),
    );
    const payQr = await payQrOf(order.payAction);
    await renderPage(ctx, 'order', { title: order.title, order, token, fieldLabels, payQr, justPlaced: ctx.query.placed === '1' });
  });

  // Printable; `?download=1` saves it as an HTML file.
  r.get('/order/:no/receipt', async (ctx) => {
    const token = typeof ctx.query.token === 'string' ? ctx.query.token : rememberedToken(ctx, ctx.params.no!);
    const receipt = await getReceipt(ctx.shop, ctx.params.no!, { user: ctx.state.user, token }, requestInfo(ctx).origin);
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Referrer-Policy', 'no-referrer');
    const verifyQr = await QRCode.toDataURL(receipt.verifyUrl, { margin: 1, width: 224 });
    await renderPage(ctx, 'receipt', { title: translate(ctx.state.locale, 'page.receipt'), receipt, verifyQr, token: token ?? null });
    if (ctx.query.download === '1') ctx.attachment(`receipt-${receipt.no}.html`);
  });

  r.get('/receipt/verify', async (ctx) => {
    const no = typeof ctx.query.no === 'string' ? ctx.query.no.trim() : '';
    const code = typeof ctx.query.code === 'string' ? ctx.query.code.trim() : '';
    const checked = Boolean(no && code);
    const result = checked ? await verifyReceipt(ctx.shop, { no, code }, requestInfo(ctx).origin) : { valid: false as const };
    await renderPage(ctx, 'verify-receipt', {
      title: translate(ctx.state.locale, 'page.verify_receipt'),
      no,
      code,
      checked,
      valid: result.valid,
      receipt: result.valid ? result.receipt : null,
    });
  });

  r.get('/query', async (ctx) => {
    const no = typeof ctx.query.no === 'string' ? ctx.query.no.trim().toUpperCase() : '';
    const token = typeof ctx.query.token === 'string' ? ctx.query.token.trim() : '';
    if (no && (token || ctx.state.user)) {
      try {
        await getOrder(ctx.shop, no, { user: ctx.state.user, token });
        return ctx.redirect(`/order/${encodeURIComponent(no)}${token ? `?token=${encodeURIComponent(token)}` : ''}`);
      } catch (err) {
        if (!(err instanceof ShopError) || err.status !== 404) throw err;
      }
    }
    const error = no ? translate(ctx.state.locale, 'error.order_not_found') : null;
    await renderQuery(ctx, { no, error }, error ? 404 : 200);
  });

  // By order number or contact with the query password or a one-time code (orders/lookup.ts).
  r.post('/query', async (ctx) => {
    checkCsrf(ctx);
    const f = form(ctx);
    const input = { q: f.q ?? '', password: f.password || undefined, code: f.code || undefined };
    try {
      const found = await lookupOrders(ctx.shop, input, { ip: ctx.ip });
      grantOrders(ctx, found.map((o) => o.no));
      if (found.length === 1) {
        ctx.status = 303;
        return ctx.redirect(`/order/${encodeURIComponent(found[0]!.no)}`);
      }
      await renderQuery(ctx, { lookup: { q: input.q, found } });
    } catch (err) {
      const e = toShopError(err);
      if (e.status >= 500) throw err;
      await renderQuery(ctx, { lookup: { q: input.q, error: translate(ctx.state.locale, e.messageKey, e.params) } }, e.status);
    }
  });

  r.post('/query/code', async (ctx) => {
    checkCsrf(ctx);
    const q = form(ctx).q ?? '';
    try {
      await requestLookupCode(ctx.shop, { q }, { ip: ctx.ip, locale: ctx.state.locale });
      await renderQuery(ctx, { lookup: { q, codeSent: true } });
    } catch (err) {
      const e = toShopError(err);
      if (e.status >= 500) throw err;
      await renderQuery(ctx, { lookup: { q, error: translate(ctx.state.locale, e.messageKey, e.params) } }, e.status);
    }
  });

  r.get('/account', async (ctx) => {
    const user = ctx.state.user;
    if (!user) return ctx.redirect('/login?next=/account');
    await renderAccount(ctx);
  });

  r.post('/account/topup', async (ctx) => {
    checkCsrf(ctx);
    const f = form(ctx);
    const amount = parseMoney(f.amount ?? '');
    try {
      const { order, payment } = await startTopup(
        ctx.shop,
        ctx.shop.plugins.gateways,
        ctx.state.user,
        { amount: amount ?? f.amount, payment: f.payment ?? '' },
        requestInfo(ctx),
      );
      ctx.status = 303;
      ctx.redirect(payment?.kind === 'redirect' ? payment.url : `/order/${order.no}?placed=1`);
    } catch (err) {
      const e = toShopError(err);
      if (e.status >= 500 || e.status === 401) throw err;
      await renderAccount(ctx, e, f.amount);
    }
  });

  // API keys for the Agent API: the secret is in this one response only.
  r.post('/account/api-keys', async (ctx) => {
    checkCsrf(ctx);
    if (!ctx.state.user) return ctx.redirect('/login?next=/account');
    const created = await createApiKey(ctx.shop, ctx.state.user.id, form(ctx).label);
    ctx.set('Cache-Control', 'no-store');
    await renderAccount(ctx, undefined, '', created);
  });

  r.post('/account/api-keys/:key/revoke', async (ctx) => {
    checkCsrf(ctx);
    if (!ctx.state.user) return ctx.redirect('/login?next=/account');
    await revokeApiKey(ctx.shop, ctx.state.user.id, ctx.params.key!);
    ctx.status = 303;
    ctx.redirect('/account#api-keys');
  });

  r.get('/account/kyc', async (ctx) => {
    if (!ctx.state.user) return ctx.redirect('/login?next=/account/kyc');
    await renderKyc(ctx);
  });

  r.post('/account/kyc', async (ctx) => {
    checkCsrf(ctx);
    const f = form(ctx);
    const user = requireUser(ctx);
    try {
      await submitKyc(ctx.shop, ctx.shop.plugins.kycProvider, user, { name: f.name ?? '', idNumber: f.idNumber ?? '', phone: f.phone || undefined });
      ctx.status = 303;
      ctx.redirect('/account/kyc');
    } catch (err) {
      const e = toShopError(err);
      if (e.status === 401 || e.status === 500) throw err;
      // The ID number is never echoed back into the page.
      await renderKyc(ctx, { name: f.name, phone: f.phone }, e);
    }
  });

  /** Login and register: the same form page, shown again with its errors when the post fails. */
  const accountForm = (template: 'login' | 'register', submit: (ctx: ShopContext, f: Form) => Promise<number>) => {
    const page = async (ctx: ShopContext, f: Form, failure?: ShopError) =>
      renderPage(
        ctx,
        template,
        {
          title: translate(ctx.state.locale, `page.${template}`),
          values: { email: f.email ?? '' },
          errors: failure ? fieldMessages(ctx, failure) : {},
          error: failure ? translate(ctx.state.locale, failure.messageKey) : null,
          next: f.next ?? '',
          ...(template === 'register' ? { botCheck: await challengeFor(ctx, 'register') } : {}),
        },
        failure?.status,
      );
    r.get(`/${template}`, (ctx) => {
      rememberInvite(ctx);
      return page(ctx, { next: typeof ctx.query.next === 'string' ? ctx.query.next : undefined });
    });
    r.post(`/${template}`, async (ctx) => {
      checkCsrf(ctx);
      const f = form(ctx);
      try {
        const userId = await submit(ctx, f);
        await startSession(ctx, userId);
        ctx.status = 303;
        ctx.redirect(safeNext(f.next));
      } catch (err) {
        const e = toShopError(err);
        if (e.status >= 500) throw err;
        await page(ctx, f, e);
      }
    });
  };

  accountForm('login', async (ctx, f) => {
    const { email, password } = loginSchema.parse(f);
    return (await authenticate(ctx.shop, email, password, { ip: ctx.ip })).id;
  });
  accountForm('register', async (ctx, f) => {
    const credentials = credentialsSchema.parse(f);
    await checkRegistration(ctx, answerOf(f));
    return (await createUser(ctx.shop, { ...credentials, uplineId: await uplineForSignup(ctx) })).id;
  });

  // An agent's invite link: remembered, then on to registration.
  r.get('/i/:code', (ctx) => {
    ctx.query = { invite: ctx.params.code! };
    rememberInvite(ctx);
    ctx.redirect('/register');
  });

  r.post('/logout', async (ctx) => {
    checkCsrf(ctx);
    await endSession(ctx);
    ctx.status = 303;
    ctx.redirect('/');
  });

  return r;
}

