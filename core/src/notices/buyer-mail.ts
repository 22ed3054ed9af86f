import type { Deps } from '../context.js';
import { enqueueJobs } from '../delivery/jobs.js';
import { PermanentJobError, type JobHandler } from '../delivery/worker.js';
import { isLocale, translate, type Locale } from '../i18n/messages.js';
import { formatMoney } from '../money/money.js';
import { loadOrder, mailLinkToken, type OrderView } from '../orders/orders.js';
import type { Mail, Mailer } from './mailer.js';
import { subscriberPrices, unsubscribeToken, type WatchMail } from './watches.js';

/**
 * Buyers' e-mail: an order delivered (its keys, a link to its page), an order refunded, and the
 * stock and price notices they subscribed to, each in the buyer's language (the order's `locale`,
 * the subscription's). A hook listener writes one `mail` job per event after the order's commit,
 * so the checkout never waits for a mail server; the job retries with backoff, and its ref (the
 * event and the order) keeps a notify the gateway resends from mailing twice.
 */

export type MailJob = { notice: 'delivered' | 'refunded'; no: string } | WatchMail;

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export interface BuyerMailOptions {
  /** The mail plugin's transport; without one nothing is queued. */
  mailer(): Mailer | undefined;
  /** The shop's public address, for links. */
  baseUrl(): string;
  nudge(): void;
}

/** Listens for the orders' final states and returns the `mail` job handler. */
export function buyerMail(deps: Deps, opts: BuyerMailOptions): JobHandler {
  const queue = async (notice: 'delivered' | 'refunded', order: OrderView) => {
    // A wallet top-up is the buyer's own money: the account page shows it.
    if (!opts.mailer() || order.productType === 'topup') return;
    const payload: MailJob = { notice, no: order.no };
    await enqueueJobs(deps, deps.db.knex, [{ kind: 'mail', ref: `${notice}:${order.no}`, orderId: order.id, payload }]);
    opts.nudge();
  };
  deps.hooks.on('order.delivered', ({ order }) => queue('delivered', order), 'mail');
  deps.hooks.on('order.refunded', ({ order }) => queue('refunded', order), 'mail');
  // A look-up code lives 15 minutes and is stored only hashed: it is mailed at once, not kept in a job.
  deps.hooks.on('lookup.code', async ({ contact, code, expiresAt, locale }) => {
    const mailer = opts.mailer();
    if (!EMAIL.test(contact)) return;
    if (!mailer) return deps.log.warn('an order look-up code was asked for an e-mail contact, but no mail plugin is loaded to send it');
    const t = (key: string, params?: Record<string, unknown>) => translate(locale ?? deps.config.shop.locale, key, params);
    const shop = deps.config.shop.name;
    const minutes = Math.max(1, Math.round((expiresAt - deps.now()) / 60_000));
    await mailer.send({ to: contact, subject: t('mail.code.subject', { shop, code }), text: `${t('mail.code.body', { code, minutes })}\n` }, AbortSignal.timeout(30_000));
  }, 'mail');

  return {
    async run(job, signal) {
      const mailer = opts.mailer();
      if (!mailer) throw new PermanentJobError('no mailer is loaded (is the mail plugin configured?)');
      const p = job.payload as MailJob;
      const base = opts.baseUrl().replace(/\/+$/, '');
      const mail = p.notice === 'watch' ? await watchMail(deps, p, base) : await orderMail(deps, p.notice, p.no, base);
      // Nobody to write to (a guest who left a phone number), or the buyer unsubscribed meanwhile.
      if (mail) await mailer.send(mail, signal);
    },
  };
}

/**
 * Who the mail speaks for, and where its links go: the sub-shop the buyer used (its name; its own
 * host once approved, else its `/s/<code>` path), else the shop itself.
 */
async function senderOf(deps: Deps, base: string, site: { id?: number | null; ownerId?: number | null }): Promise<{ shop: string; base: string }> {
  const q = deps.db.knex('sites').where({ enabled: true, disabled_by_admin: false });
  const row = site.id ? await q.where('id', site.id).first('name', 'code', 'host', 'host_approved') : site.ownerId ? await q.where('owner_id', site.ownerId).first('name', 'code', 'host', 'host_approved') : undefined;
  if (!row) return { shop: deps.config.shop.name, base };
  const own = row.host && row.host_approved ? `${new URL(base).protocol}//${row.host}` : `${base}/s/${row.code}`;
  return { shop: row.name, base: own };
}

/** Never to anyone but the order's own contact, or its account's address when the contact is not an e-mail. */
async function recipientOf(deps: Deps, order: OrderView): Promise<string | null> {
  if (order.contact && EMAIL.test(order.contact)) return order.contact;
  if (order.userId === null) return null;
  const user = await deps.db.knex('users').where('id', order.userId).first('email');
  return user?.email ?? null;
}

async function orderMail(deps: Deps, notice: 'delivered' | 'refunded', no: string, shopBase: string): Promise<Mail | undefined> {
  const row = await deps.db.knex('orders').where('no', no).first('locale', 'site_id', 'api_key_id');
  // Placed through the Agent API: the buyer is the caller's customer, told by the caller (webhooks), never by us.
  if (!row || row.api_key_id !== null) return undefined;
  const order = await loadOrder(deps, no);
  const to = await recipientOf(deps, order);
  if (!to) return undefined;
  const locale: Locale = isLocale(row.locale) ? row.locale : deps.config.shop.locale;
  const t = (key: string, params?: Record<string, unknown>) => translate(locale, key, params);
  const { shop, base } = await senderOf(deps, shopBase, { id: row.site_id });
  const amount = formatMoney(order.amount, order.currency);
  // A guest opens the order by the mail's own token; an account's order needs its owner signed in.
  const link = order.userId === null ? t('mail.order_link', { url: `${base}/order/${no}?token=${mailLinkToken(deps, no)}` }) : t('mail.account_link', { url: `${base}/order/${no}` });
  const lines =
    notice === 'delivered'
      ? [
          t('mail.delivered.intro', { shop }),
          '',
          t('mail.line', { title: order.title, quantity: order.quantity, amount }),
          ...(order.keys.length ? ['', t('mail.keys'), ...order.keys.map((k) => (k.password ? `${k.card}  ${k.password}` : k.card))] : []),
          ...(order.delivery ? ['', t('mail.delivery'), order.delivery] : []),
        ]
      : [t('mail.refunded.body', { no, shop, title: order.title, amount })];
  return { to, subject: t(`mail.${notice}.subject`, { no, shop }), text: [...lines, '', link, ''].join('\n') };
}

async function watchMail(deps: Deps, job: WatchMail, shopBase: string): Promise<Mail | undefined> {
  const w = await deps.db
    .knex('product_watches as w')
    .join('skus as s', 's.id', 'w.sku_id')
    .join('products as p', 'p.id', 's.product_id')
    .where('w.id', job.id)
    .first('w.kind', 'w.email', 'w.locale', 'w.price', 'w.user_id', 'w.site_owner_id', 's.id as sku_id', 's.name as sku', 'p.name as product', 'p.slug');
  if (!w) return undefined;
  const locale: Locale = isLocale(w.locale) ? w.locale : deps.config.shop.locale;
  const t = (key: string, params?: Record<string, unknown>) => translate(locale, key, params);
  const currency = deps.config.shop.currency;
  const price = job.price ?? (await subscriberPrices(deps, w)).resolve(Number(w.sku_id))?.price ?? Number(w.price);
  const { shop, base } = await senderOf(deps, shopBase, { ownerId: w.site_owner_id });
  const params = { shop, product: w.product, sku: w.sku, price: formatMoney(price, currency), was: formatMoney(Number(w.price), currency) };
  const unsubscribe = `${base}/unsubscribe/${unsubscribeToken(deps, job.id)}`;
  const text = [
    t(`mail.${w.kind}.body`, params),
    t('mail.buy_link', { url: `${base}/product/${encodeURIComponent(w.slug)}` }),
    '',
    t('mail.once'),
    t('mail.unsubscribe', { url: `${unsubscribe}?lang=${locale}` }),
    '',
  ].join('\n');
  return {
    to: w.email,
    subject: t(`mail.${w.kind}.subject`, params),
    text,
    // RFC 8058: mail clients offer their own unsubscribe button, which POSTs to the link.
    headers: { 'List-Unsubscribe': `<${unsubscribe}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
  };
}
