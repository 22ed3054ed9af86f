import type { Knex } from 'knex';
import { z } from 'zod';
import type { Deps } from '../context.js';
import { errors, fromZod, type FieldErrors } from '../errors.js';
import { dayStart, parseDay } from '../reports/periods.js';
import { contactKey } from './lookup.js';
import { ORDER_STATUSES, type OrderStatus } from './state.js';

/**
 * The console's order search: filters an operator types (number, contact, SKU, status, dates,
 * agent, sub-shop), read newest first a page at a time by id (keyset, so the millionth order is as
 * quick to reach as the first), and the same filters streamed in batches for a CSV export.
 */

const optional = <T extends z.ZodTypeAny>(schema: T) => z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), schema.optional());
const day = z.string().trim().refine((s) => parseDay(s) !== undefined, 'field.date');

export const orderFilterSchema = z.object({
  /** A whole order number, or its start (`261203-` is one day's orders). */
  no: optional(z.string().trim().toUpperCase().max(32, 'field.too_long').regex(/^[0-9A-Z-]+$/, 'field.invalid')),
  /** The contact the buyer left, or the buyer's account e-mail. */
  contact: optional(z.string().trim().max(254, 'field.too_long')),
  sku: optional(z.string().trim().max(64, 'field.too_long')),
  status: optional(z.enum(ORDER_STATUSES, { error: 'field.invalid' })),
  /** Placed on or after this day, and on or before `to` (`YYYY-MM-DD`, the shop's days). */
  from: optional(day),
  to: optional(day),
  /** An agent's e-mail or `#id`: orders it placed, and those that paid it a margin (its downline's). */
  agent: optional(z.string().trim().max(254, 'field.too_long')),
  /** A sub-shop's code. */
  site: optional(z.string().trim().max(32, 'field.too_long')),
});
export type OrderFilterInput = z.input<typeof orderFilterSchema>;

/** A parsed filter with names resolved to ids. */
export interface OrderFilter {
  input: z.output<typeof orderFilterSchema>;
  noPrefix?: string;
  contacts?: string[];
  /** The contact's key (lookup.ts): gateway orders are found by it whatever the case typed. */
  contactKey?: string;
  contactUserId?: number;
  skuId?: number;
  status?: OrderStatus;
  since?: number;
  until?: number;
  agentId?: number;
  siteId?: number;
}

async function userIdOf(deps: Deps, text: string): Promise<number | undefined> {
  const id = /^#?(\d+)$/.exec(text)?.[1];
  const row = id ? await deps.db.read('users').where('id', Number(id)).first('id') : await deps.db.read('users').where('email', text.toLowerCase()).first('id');
  return row ? Number(row.id) : undefined;
}

/** Parses and resolves a filter; an unknown SKU, agent or sub-shop, or a bad date range, is a 400 naming the field. */
export async function orderFilter(deps: Deps, raw: unknown): Promise<OrderFilter> {
  const parsed = orderFilterSchema.safeParse(raw ?? {});
  if (!parsed.success) throw fromZod(parsed.error);
  const input = parsed.data;
  const f: OrderFilter = { input, noPrefix: input.no, status: input.status };
  const bad: FieldErrors = {};
  const db = deps.db.read;
  if (input.contact) {
    f.contacts = [...new Set([input.contact, input.contact.toLowerCase()])];
    f.contactKey = contactKey(deps, input.contact);
    f.contactUserId = input.contact.includes('@') ? await userIdOf(deps, input.contact) : undefined;
  }
  if (input.sku) {
    const sku = await db('skus').where('code', input.sku).first('id');
    if (sku) f.skuId = Number(sku.id);
    else bad.sku = 'field.not_found';
  }
  if (input.agent) {
    f.agentId = await userIdOf(deps, input.agent);
    if (f.agentId === undefined) bad.agent = 'field.not_found';
  }
  if (input.site) {
    const site = await db('sites').where('code', input.site.toLowerCase()).first('id');
    if (site) f.siteId = Number(site.id);
    else bad.site = 'field.not_found';
  }
  if (input.from) f.since = dayStart(parseDay(input.from)!);
  if (input.to) f.until = dayStart(parseDay(input.to)! + 1);
  if (f.since !== undefined && f.until !== undefined && f.since >= f.until) bad.to = 'field.date_order';
  if (Object.keys(bad).length) throw errors.validation(bad);
  return f;
}

function applyFilter(deps: Deps, q: Knex.QueryBuilder, f: OrderFilter): Knex.QueryBuilder {
  const db = deps.db.read;
  if (f.noPrefix) {
    // A range on the unique index: `no LIKE 'x%'` would not use it on every database.
    q.where('no', '>=', f.noPrefix).andWhere('no', '<', `${f.noPrefix}~`);
  }
  if (f.contacts) {
    q.where((w) => {
      w.whereIn('contact', f.contacts!).orWhere('contact_key', f.contactKey!);
      if (f.contactUserId !== undefined) w.orWhere('user_id', f.contactUserId);
    });
  }
  if (f.skuId !== undefined) q.where('sku_id', f.skuId);
  if (f.status) q.where('status', f.status);
  if (f.since !== undefined) q.where('created_at', '>=', f.since);
  if (f.until !== undefined) q.where('created_at', '<', f.until);
  if (f.agentId !== undefined) {
    const agentId = f.agentId;
    q.where((w) => w.where('user_id', agentId).orWhereIn('id', db('order_margins').where('agent_id', agentId).select('order_id')));
  }
  if (f.siteId !== undefined) q.where('site_id', f.siteId);
  return q;
}

export interface OrderListRow {
  id: number;
  no: string;
  createdAt: number;
  status: OrderStatus;
  title: string;
  sku: string;
  quantity: number;
  amount: number;
  currency: string;
  payment: string;
  contact: string | null;
  /** The buyer's e-mail; null for a guest. */
  buyer: string | null;
  site: string | null;
  paidAt: number | null;
  deliveredAt: number | null;
}

const COLUMNS = ['id', 'no', 'created_at', 'status', 'title', 'sku_id', 'quantity', 'amount', 'currency', 'payment', 'contact', 'user_id', 'site_id', 'paid_at', 'delivered_at'];
const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

/** Order rows with their buyer's e-mail, sub-shop and SKU code, looked up for this batch only. */
async function withNames(deps: Deps, rows: Array<Record<string, any>>): Promise<OrderListRow[]> {
  const db = deps.db.read;
  const ids = (k: string) => [...new Set(rows.map((r) => r[k]).filter((v) => v !== null))];
  const [users, sites, skus] = await Promise.all([
    ids('user_id').length ? db('users').whereIn('id', ids('user_id')).select('id', 'email') : [],
    ids('site_id').length ? db('sites').whereIn('id', ids('site_id')).select('id', 'code') : [],
    ids('sku_id').length ? db('skus').whereIn('id', ids('sku_id')).select('id', 'code') : [],
  ]);
  const name = (list: Array<Record<string, any>>, key: string) => new Map(list.map((r) => [Number(r.id), r[key] as string]));
  const [emails, codes, skuCodes] = [name(users, 'email'), name(sites, 'code'), name(skus, 'code')];
  return rows.map((r) => ({
    id: Number(r.id),
    no: r.no,
    createdAt: Number(r.created_at),
    status: r.status,
    title: r.title,
    sku: skuCodes.get(Number(r.sku_id)) ?? '',
    quantity: Number(r.quantity),
    amount: Number(r.amount),
    currency: r.currency,
    payment: r.payment,
    contact: r.contact,
    buyer: r.user_id === null ? null : (emails.get(Number(r.user_id)) ?? null),
    site: r.site_id === null ? null : (codes.get(Number(r.site_id)) ?? null),
    paidAt: num(r.paid_at),
    deliveredAt: num(r.delivered_at),
  }));
}

export interface OrderPage {
  orders: OrderListRow[];
  /** Cursor for the next newer page (`after`), if there is one. */
  newer?: number;
  /** Cursor for the next older page (`before`), if there is one. */
  older?: number;
}

/** One page of matching orders, newest first, before or after an order id. */
export async function searchOrders(deps: Deps, f: OrderFilter, page: { before?: number; after?: number; limit?: number } = {}): Promise<OrderPage> {
  const limit = Math.min(Math.max(page.limit ?? 50, 1), 200);
  const q = applyFilter(deps, deps.db.read('orders'), f).select(COLUMNS).limit(limit + 1);
  if (page.after !== undefined) {
    const rows = await q.where('id', '>', page.after).orderBy('id', 'asc');
    const more = rows.length > limit;
    const shown = rows.slice(0, limit).reverse();
    return { orders: await withNames(deps, shown), newer: more ? shown[0]!.id : undefined, older: shown.length ? Number(shown.at(-1)!.id) : page.after + 1 };
  }
  if (page.before !== undefined) q.where('id', '<', page.before);
  const rows = await q.orderBy('id', 'desc');
  const shown = rows.slice(0, limit);
  return {
    orders: await withNames(deps, shown),
    newer: page.before !== undefined && shown.length ? Number(shown[0]!.id) : undefined,
    older: rows.length > limit ? Number(shown.at(-1)!.id) : undefined,
  };
}

/** Every matching order, newest first, a batch at a time: memory stays flat however many there are. */
export async function* exportOrders(deps: Deps, f: OrderFilter, batch = 1000): AsyncGenerator<OrderListRow> {
  let before: number | undefined;
  for (;;) {
    const q = applyFilter(deps, deps.db.read('orders'), f).select(COLUMNS).orderBy('id', 'desc').limit(batch);
    if (before !== undefined) q.where('id', '<', before);
    const rows = await q;
    yield* await withNames(deps, rows);
    if (rows.length < batch) return;
    before = Number(rows.at(-1)!.id);
  }
}
