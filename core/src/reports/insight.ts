import type { Deps } from '../context.js';
import { cachedReport } from './cache.js';
import { soldSql } from './dashboard.js';
import { dayOf, dayStart, daySql } from './periods.js';

/**
 * 用户中台: who buys. Each customer (an account, or a guest by the contact it left) with recency,
 * frequency and monetary scores of 1–5 by quintile among all customers, a segment named from them,
 * repeat buyers marked; and the SKUs bought together (one buyer, same day: a checkout holds one
 * SKU, so a day stands in for a cart). Aggregated by the database, read at most once a minute.
 */

export const SEGMENTS = ['champion', 'loyal', 'new', 'at_risk', 'hibernating', 'regular'] as const;
export type Segment = (typeof SEGMENTS)[number];

export interface Customer {
  /** `u<id>` for an account, `c<contact>` for a guest. */
  key: string;
  userId: number | null;
  /** The account's e-mail, or the guest's contact. */
  name: string;
  orders: number;
  spent: number;
  firstAt: number;
  lastAt: number;
  r: number;
  f: number;
  m: number;
  segment: Segment;
  repeat: boolean;
}

export interface Insight {
  at: number;
  /** Biggest spenders first. */
  customers: Customer[];
  segments: Record<Segment, number>;
  repeatBuyers: number;
  /** Pairs of SKUs one buyer bought on the same day within the last PAIR_DAYS, most frequent first. */
  pairs: Array<{ a: { code: string; name: string }; b: { code: string; name: string }; times: number }>;
}

export const PAIR_DAYS = 90;
type Row = Record<string, any>;
const n = (v: unknown) => Number(v ?? 0);

/** Cut points at the 20th, 40th, 60th and 80th percentile; a value scores 1 + the cut points below it. */
export function quintileScorer(values: number[]): (v: number) => number {
  const sorted = [...values].sort((a, b) => a - b);
  const cuts = [1, 2, 3, 4].map((k) => sorted[Math.floor((k * sorted.length) / 5)] ?? 0);
  return (v) => {
    let score = 1;
    for (const cut of cuts) if (cut < v) score++;
    return score;
  };
}

export function segmentOf(c: { r: number; f: number; orders: number }): Segment {
  if (c.r >= 4 && c.f >= 4) return 'champion';
  if (c.f >= 4) return 'loyal';
  if (c.orders === 1 && c.r >= 4) return 'new';
  if (c.r <= 2 && c.f >= 3) return 'at_risk';
  if (c.r <= 2) return 'hibernating';
  return 'regular';
}

/** The customers and pairs, as reports/cache.ts keeps them (read once a minute, or now if `fresh`). */
export function insight(deps: Deps, opts: { fresh?: boolean } = {}): Promise<Insight> {
  return cachedReport(deps, 'insight', (now) => readInsight(deps, now), opts);
}

/** Sold orders are picked out by CASE, so each query is one ordered pass over the buyer index (migration 040). */
const SOLD_SQL = soldSql('status');
const perBuyer = {
  orders: `SUM(CASE WHEN ${SOLD_SQL} THEN 1 ELSE 0 END)`,
  spent: `SUM(CASE WHEN ${SOLD_SQL} THEN amount ELSE 0 END)`,
  first: `MIN(CASE WHEN ${SOLD_SQL} THEN created_at END)`,
  last: `MAX(CASE WHEN ${SOLD_SQL} THEN created_at END)`,
};

async function readInsight(deps: Deps, now: number): Promise<Insight> {
  const db = deps.db.read;
  const aggregates = Object.entries(perBuyer).map(([k, sql]) => db.raw(`${sql} as ${k}`));
  const [members, guests, pairs] = (await Promise.all([
    // Grouped first (one pass over the index), then each account's e-mail.
    db
      .from(db('orders').whereNotNull('user_id').groupBy('user_id').havingRaw(`${perBuyer.orders} > 0`).select('user_id', ...aggregates).as('b'))
      .join('users as u', 'u.id', 'b.user_id')
      .select('b.*', 'u.email'),
    db('orders').whereNull('user_id').whereNotNull('contact').groupBy('contact').havingRaw(`${perBuyer.orders} > 0`).select('contact', ...aggregates),
    boughtTogether(deps, dayStart(dayOf(now) - PAIR_DAYS + 1)),
  ])) as [Row[], Row[], Array<[number, number, number]>];
  // Written out field by field (no spreads): a hundred thousand objects of one shape sort fast.
  const customer = (key: string, userId: number | null, name: string, r: Row): Customer => ({
    key,
    userId,
    name,
    orders: n(r.orders),
    spent: n(r.spent),
    firstAt: n(r.first),
    lastAt: n(r.last),
    r: 0,
    f: 0,
    m: 0,
    segment: 'regular',
    repeat: n(r.orders) > 1,
  });
  const customers = [...members.map((r) => customer(`u${r.user_id}`, n(r.user_id), r.email, r)), ...guests.map((r) => customer(`c${r.contact}`, null, r.contact, r))];
  const rScore = quintileScorer(customers.map((c) => c.lastAt));
  const fScore = quintileScorer(customers.map((c) => c.orders));
  const mScore = quintileScorer(customers.map((c) => c.spent));
  const segments = Object.fromEntries(SEGMENTS.map((s) => [s, 0])) as Record<Segment, number>;
  for (const c of customers) {
    c.r = rScore(c.lastAt);
    c.f = fScore(c.orders);
    c.m = mScore(c.spent);
    c.segment = segmentOf(c);
    segments[c.segment]++;
  }
  customers.sort((a, b) => b.spent - a.spent || b.lastAt - a.lastAt);

  const skuIds = [...new Set(pairs.flatMap(([a, b]) => [a, b]))];
  const skus = new Map((skuIds.length ? await db('skus').whereIn('id', skuIds).select('id', 'code', 'name') : []).map((s) => [n(s.id), { code: s.code as string, name: s.name as string }]));
  const sku = (id: number) => skus.get(id) ?? { code: '', name: '' };
  return {
    at: now,
    customers,
    segments,
    repeatBuyers: customers.filter((c) => c.repeat).length,
    pairs: pairs.map(([a, b, times]) => ({ a: sku(a), b: sku(b), times })),
  };
}

/**
 * SKU pairs bought by one buyer on one day since `since`, most frequent first: the database lists
 * each buyer-day with more than one SKU (distinct buyer, day and SKU, grouped), and the pairs are
 * counted here, so no table is joined to itself.
 */
async function boughtTogether(deps: Deps, since: number): Promise<Array<[number, number, number]>> {
  const db = deps.db.read;
  const buyer = deps.db.dialect === 'mysql' ? `COALESCE(CONCAT('u', user_id), CONCAT('c', contact))` : `COALESCE('u' || user_id, 'c' || contact)`;
  const bought = db('orders')
    .distinct(db.raw(`${buyer} as buyer`), db.raw(`${daySql(deps.db, 'created_at')} as day`), 'sku_id')
    .where('created_at', '>=', since)
    // `+status`: the time range, not the status index, picks the rows (see reports/dashboard.ts).
    .whereRaw(`+${SOLD_SQL}`)
    .where((w) => w.whereNotNull('user_id').orWhereNotNull('contact'))
    .as('bought');
  const days = (await db.from(bought).groupBy('buyer', 'day').havingRaw('COUNT(*) > 1').select(db.raw('GROUP_CONCAT(sku_id) as skus'))) as Row[];
  const counts = new Map<string, number>();
  for (const { skus } of days) {
    const list = String(skus).split(',').map(Number).sort((a, b) => a - b);
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const pair = `${list[i]},${list[j]}`;
        counts.set(pair, (counts.get(pair) ?? 0) + 1);
      }
    }
  }
  return [...counts]
    .map(([pair, times]) => [...pair.split(',').map(Number), times] as [number, number, number])
    .sort((x, y) => y[2] - x[2] || x[0] - y[0] || x[1] - y[1])
    .slice(0, 20);
}

export interface CustomerPage {
  customers: Customer[];
  page: number;
  pages: number;
  total: number;
}

/** A page of customers, optionally one segment or repeat buyers only. */
export function customerPage(data: Insight, opts: { segment?: Segment; repeat?: boolean; page?: number; pageSize?: number }): CustomerPage {
  const list = filterCustomers(data, opts);
  const size = opts.pageSize ?? 50;
  const pages = Math.max(1, Math.ceil(list.length / size));
  const page = Math.min(Math.max(1, opts.page ?? 1), pages);
  return { customers: list.slice((page - 1) * size, page * size), page, pages, total: list.length };
}

export function filterCustomers(data: Insight, opts: { segment?: Segment; repeat?: boolean }): Customer[] {
  return data.customers.filter((c) => (!opts.segment || c.segment === opts.segment) && (!opts.repeat || c.repeat));
}
