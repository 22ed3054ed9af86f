import { z } from 'zod';
import type { User } from '../agents/users.js';
import { audit } from '../audit/audit.js';
import { findSku } from '../catalog/snapshot.js';
import type { Deps } from '../context.js';
import { transaction } from '../db/dialect.js';
import { enqueueJobs, type NewJob } from '../delivery/jobs.js';
import { errors, fromZod, ShopError } from '../errors.js';
import type { Locale } from '../i18n/messages.js';
import { priceFor, type RequestInfo } from '../orders/checkout.js';
import { priceList } from '../pricing/pricing.js';
import { hit } from '../security/rate-limit.js';
import { hmacHex, safeEqual } from '../security/keys.js';

/**
 * Restock and price-drop subscriptions (到货提醒 / 降价提醒): a buyer leaves an address on a SKU
 * and gets one e-mail when its stock comes back, or when the price they would pay falls below the
 * price they saw. No double opt-in, so subscribing is rate-limited per address and per e-mail;
 * every notice carries a signed one-click link that drops all of that address's subscriptions.
 */

export const WATCH_KINDS = ['stock', 'price'] as const;
export type WatchKind = (typeof WATCH_KINDS)[number];

export const watchSchema = z
  .object({
    sku: z.union([z.string().min(1).max(64), z.number().int().positive()], { error: 'field.required' }),
    kind: z.enum(WATCH_KINDS, { error: 'field.invalid' }),
    /** A guest's address; a signed-in buyer's notices go to the account's. */
    email: z.string().trim().toLowerCase().max(254, 'field.too_long').regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'field.email').optional(),
  })
  .strict();
export type WatchInput = z.input<typeof watchSchema>;

const PER_ADDRESS = { limit: 20, windowMs: 60 * 60_000 };
const PER_EMAIL = { limit: 10, windowMs: 24 * 60 * 60_000 };
/** Subscriptions one minute's check mails at most; the rest wait for the next minute. */
const BATCH = 500;

export interface WatchView {
  kind: WatchKind;
  sku: string;
  email: string;
  /** The price the subscriber saw (a price notice comes when theirs falls below it). */
  price: number;
}

/** Records (or renews) a subscription; bad input is a 400 naming the field, too many a 429. */
export async function addWatch(
  deps: Deps,
  buyer: User | undefined,
  input: WatchInput,
  request: Pick<RequestInfo, 'ip' | 'site' | 'locale'>,
): Promise<WatchView> {
  const parsed = watchSchema.safeParse(input);
  if (!parsed.success) throw fromZod(parsed.error);
  const { kind } = parsed.data;
  const email = buyer?.email.toLowerCase() ?? parsed.data.email;
  if (!email) throw errors.validation({ email: 'field.required' });
  const { product, sku } = await findSku(deps, parsed.data.sku);
  if (kind === 'stock') {
    const row = await deps.db.knex('skus').where('id', sku.id).first('stock');
    if (product.type !== 'card') throw errors.validation({ kind: 'notify.not_counted' });
    if (Number(row?.stock ?? 0) > 0) throw errors.validation({ kind: 'notify.in_stock' });
  }
  const tooMany = () => new ShopError('too_many_attempts', 429, 'error.too_many_attempts');
  if (request.ip && !(await hit(deps, 'watch:ip', request.ip, PER_ADDRESS.limit, PER_ADDRESS.windowMs))) throw tooMany();
  if (!(await hit(deps, 'watch:email', email, PER_EMAIL.limit, PER_EMAIL.windowMs))) throw tooMany();
  const { price } = await priceFor(deps, buyer, request.site, sku.id);
  const row = {
    sku_id: sku.id,
    kind,
    email,
    user_id: buyer?.id ?? null,
    site_owner_id: request.site?.ownerId ?? null,
    locale: request.locale ?? deps.config.shop.locale,
    price,
    created_at: deps.now(),
    sent_at: null,
  };
  // Asking again re-arms it at today's price: a new notice, with a new job ref (created_at).
  await deps.db.knex('product_watches').insert(row).onConflict(['sku_id', 'kind', 'email']).merge(['user_id', 'site_owner_id', 'locale', 'price', 'created_at', 'sent_at']);
  return { kind, sku: sku.code, email, price };
}

/** The `mail` job of one subscription's notice; a price notice carries the lower price it found. */
export interface WatchMail {
  notice: 'watch';
  id: number;
  price?: number;
}

interface PendingWatch {
  id: number;
  kind: WatchKind;
  sku_id: number;
  user_id: number | null;
  site_owner_id: number | null;
  price: number;
  created_at: number;
  stock: number;
}

/** Prices as a subscriber would pay them now: as their account (or a guest), on the sub-shop they asked on. */
export const subscriberPrices = (deps: Deps, w: { user_id: number | null; site_owner_id: number | null }) =>
  priceList(deps, { userId: w.user_id === null ? null : Number(w.user_id), siteOwnerId: w.site_owner_id === null ? null : Number(w.site_owner_id) });

/**
 * The minute chore: finds subscriptions whose moment came (a card SKU with stock again, a price
 * below the one seen) and queues one `mail` job each, marking them sent in the same transaction.
 * Two processes may both see one: the job's ref (id and when it was armed) keeps it to one mail.
 */
export async function checkWatches(deps: Deps, nudge: () => void): Promise<number> {
  const pending: PendingWatch[] = await deps.db
    .knex('product_watches as w')
    .join('skus as s', 's.id', 'w.sku_id')
    .whereNull('w.sent_at')
    .select('w.id', 'w.kind', 'w.sku_id', 'w.user_id', 'w.site_owner_id', 'w.price', 'w.created_at', 's.stock')
    .orderBy('w.id')
    .limit(BATCH * 4);
  if (!pending.length) return 0;
  const due: WatchMail[] = [];
  const byBuyer = new Map<string, PendingWatch[]>();
  for (const w of pending) {
    if (w.kind === 'stock') {
      if (Number(w.stock) > 0) due.push({ notice: 'watch', id: Number(w.id) });
      continue;
    }
    const key = `${w.user_id ?? ''}:${w.site_owner_id ?? ''}`;
    byBuyer.set(key, [...(byBuyer.get(key) ?? []), w]);
  }
  // Each subscriber's price now, resolved once per buyer and sub-shop, as their checkout would.
  for (const watches of byBuyer.values()) {
    const list = await subscriberPrices(deps, watches[0]!);
    for (const w of watches) {
      const now = list.resolve(Number(w.sku_id))?.price;
      if (now !== undefined && now < Number(w.price)) due.push({ notice: 'watch', id: Number(w.id), price: now });
    }
  }
  const batch = due.slice(0, BATCH);
  if (!batch.length) return 0;
  const armed = new Map(pending.map((w) => [Number(w.id), Number(w.created_at)]));
  const jobs: NewJob[] = batch.map((m) => ({ kind: 'mail', ref: `watch:${m.id}:${armed.get(m.id)}`, payload: m }));
  await transaction(deps.db, async (trx) => {
    await trx('product_watches').whereIn('id', batch.map((m) => m.id)).whereNull('sent_at').update({ sent_at: deps.now() });
    await enqueueJobs(deps, trx, jobs);
  });
  nudge();
  return batch.length;
}

/** The one-click unsubscribe token of a subscription: its id, signed. */
export const unsubscribeToken = (deps: Deps, id: number) => `${id}.${hmacHex(deps.keys.tokens, `unsubscribe:${id}`, 12)}`;

/**
 * Drops every subscription of the address that `token` was sent to. False for a token that is not
 * ours; true otherwise, also when they are gone already (a second click, a mail client's POST
 * after the buyer's click), so the page always confirms.
 */
export async function unsubscribe(deps: Deps, token: string): Promise<boolean> {
  const m = /^(\d{1,10})\.([0-9a-f]{24})$/.exec(token);
  if (!m || !safeEqual(unsubscribeToken(deps, Number(m[1])), token)) return false;
  const row = await deps.db.knex('product_watches').where('id', Number(m[1])).first('email');
  if (row) await deps.db.knex('product_watches').where('email', row.email).delete();
  return true;
}

export interface ConsoleWatch {
  id: number;
  sku: string;
  kind: WatchKind;
  email: string;
  price: number;
  locale: Locale;
  createdAt: number;
  sentAt: number | null;
}

export const watchFilterSchema = z
  .object({
    sku: z.string().trim().min(1).max(64, 'field.too_long').optional(),
    kind: z.enum(WATCH_KINDS, { error: 'field.invalid' }).optional(),
    /** Waiting for their notice, or sent it already. */
    sent: z.enum(['yes', 'no'], { error: 'field.invalid' }).optional(),
  })
  .strip();
export type WatchFilter = z.output<typeof watchFilterSchema> & { productId?: number };

/** Subscriptions for the console and the admin API, newest first: a product's, or any filtered, one page at a time. */
export async function listWatches(deps: Deps, filter: WatchFilter, page = { limit: 200, offset: 0 }): Promise<ConsoleWatch[]> {
  const q = deps.db.read('product_watches as w').join('skus as s', 's.id', 'w.sku_id');
  if (filter.productId !== undefined) q.where('s.product_id', filter.productId);
  if (filter.sku) q.where('s.code', filter.sku);
  if (filter.kind) q.where('w.kind', filter.kind);
  if (filter.sent) q[filter.sent === 'yes' ? 'whereNotNull' : 'whereNull']('w.sent_at');
  const rows = await q
    .orderBy('w.id', 'desc')
    .limit(page.limit)
    .offset(page.offset)
    .select('w.id', 's.code', 'w.kind', 'w.email', 'w.price', 'w.locale', 'w.created_at', 'w.sent_at');
  return rows.map((r) => ({
    id: Number(r.id),
    sku: r.code,
    kind: r.kind,
    email: r.email,
    price: Number(r.price),
    locale: r.locale,
    createdAt: Number(r.created_at),
    sentAt: r.sent_at === null ? null : Number(r.sent_at),
  }));
}

/** Drops one subscription for the operator (a buyer who asked by mail, a typo'd address), audited; 404 when there is none. */
export async function dropWatch(deps: Deps, id: number, actor: { id: number; ip?: string }): Promise<void> {
  await transaction(deps.db, async (trx) => {
    const row = await trx('product_watches').where('id', id).first('id', 'sku_id', 'kind', 'email');
    if (!row) throw errors.notFound();
    await trx('product_watches').where('id', id).delete();
    await audit(deps, trx, { actorId: actor.id, action: 'watch.drop', targetType: 'watch', targetId: id, before: { skuId: Number(row.sku_id), kind: row.kind, email: row.email }, ip: actor.ip });
  });
}
