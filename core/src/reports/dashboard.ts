import type { Deps } from '../context.js';
import type { OrderStatus } from '../orders/state.js';
import { cachedReport } from './cache.js';
import { bucketsFor, dayStart, daySql, type Period } from './periods.js';

/**
 * What the operator asks every morning, in one read: what sold (sales and margin per day, week or
 * month), orders by status, the best SKUs and agents, how each supplier delivers, what is running
 * out, and whether the wallets add up. Every figure is an aggregate the database computes, read at
 * most once a minute, so a console left open on a million orders costs one scan a minute.
 */

/** Orders that count as sold: their goods went out (a partial delivery counts whole). */
export const SOLD: OrderStatus[] = ['delivered', 'partial'];
/** `<column> IN ('delivered', 'partial')`, for CASE expressions (see readFigures for why not WHERE). */
export const soldSql = (column: string) => `${column} IN (${SOLD.map((s) => `'${s}'`).join(', ')})`;
/** Running out: sold out, or at or under the SKU's own threshold (set on the inventory page). */
const LOW = 's.stock <= 0 OR (s.low_stock IS NOT NULL AND s.stock <= s.low_stock)';
const TOP = 10;

export interface Dashboard {
  period: Period;
  /** When the figures were read. */
  at: number;
  /**
   * Per bucket: sold orders, their sales, the cost of their goods (today's SKU cost price), the
   * agents' credited margins, and what the shop keeps (sales − cost − commissions).
   */
  series: Array<{ key: string; orders: number; sales: number; cost: number; commissions: number; margin: number }>;
  totals: { orders: number; sales: number; margin: number };
  /** Orders placed in the window, by status. */
  statuses: Array<{ status: OrderStatus; count: number }>;
  topSkus: Array<{ skuId: number; code: string; name: string; orders: number; quantity: number; sales: number }>;
  /** Agents by the volume sold through them (credited margins), with what they earned. */
  topAgents: Array<{ id: number; email: string; orders: number; volume: number; earned: number }>;
  /** Each supplier's orders in the window, and `stock` for cards delivered from the shop's own keys. */
  suppliers: Array<{ supplier: string; orders: number; delivered: number; failed: number; waiting: number; rate: number | null; avgMs: number | null }>;
  /** Card SKUs on sale: the ones running out first, then the fewest keys. */
  stock: { skus: number; keys: number; low: number; lowest: Array<{ code: string; name: string; product: string; stock: number; lowStock: number | null; sold: number; low: boolean }> };
  /** Users' money the shop holds, per account kind: the stored balances against the journal's sum. */
  float: Array<{ kind: string; accounts: number; balance: number; journal: number; ok: boolean }>;
}

type Row = Record<string, any>;
const n = (v: unknown) => Number(v ?? 0);

type Figures = Omit<Dashboard, 'stock'>;

/**
 * The dashboard for a period: the figures as reports/cache.ts keeps them (read once a minute, or
 * now if `fresh`); the stock is read every time (a small table), so keys just imported show at once.
 */
export async function dashboard(deps: Deps, period: Period, opts: { fresh?: boolean } = {}): Promise<Dashboard> {
  const [figures, stock] = await Promise.all([cachedReport(deps, `dashboard:${period}`, (now) => readFigures(deps, period, now), opts), readStock(deps)]);
  return { ...figures, stock };
}

const ifSold = (expr: string) => `CASE WHEN ${soldSql('o.status')} THEN ${expr} ELSE 0 END`;

/*
 * Every query reads a time range through a covering index (migration 040), so a year of a million
 * orders is an index scan, never a table scan. Two habits keep SQLite's planner on that index: the
 * status is tested in CASE rather than WHERE (a WHERE on status would pick the status index and
 * read every delivered order ever), and grouping by another indexed column is written `+column`
 * (else SQLite walks that column's whole index to group in order, ignoring the time range).
 */
async function readFigures(deps: Deps, period: Period, now: number): Promise<Figures> {
  const db = deps.db.read;
  const buckets = bucketsFor(period, now);
  const since = dayStart(buckets.firstDay);
  const day = daySql(deps.db, 'o.created_at');
  const [sales, bySku, commissions, agents, suppliers, float, cards] = (await Promise.all([
    db('orders as o')
      .join('skus as s', 's.id', 'o.sku_id')
      .where('o.created_at', '>=', since)
      .groupByRaw(day)
      .select(db.raw(`${day} as day`))
      .sum({ orders: db.raw(ifSold('1')), sales: db.raw(ifSold('o.amount')), cost: db.raw(ifSold('o.quantity * COALESCE(s.cost, 0)')) }),
    // Per SKU and status: the statuses, the best SKUs and the delivery of cards from stock.
    db('orders as o')
      .where('o.created_at', '>=', since)
      .groupByRaw('+o.sku_id, o.status, delivered')
      .select(db.raw('+o.sku_id as sku_id'), 'o.status', db.raw('CASE WHEN o.delivered_at IS NULL THEN 0 ELSE 1 END as delivered'))
      .count({ orders: '*' })
      .sum({ quantity: 'o.quantity', sales: 'o.amount', latency: db.raw('CASE WHEN o.delivered_at IS NOT NULL AND o.paid_at IS NOT NULL THEN o.delivered_at - o.paid_at ELSE 0 END') }),
    db('order_margins as o').where('o.created_at', '>=', since).andWhere('o.status', 'credited').groupByRaw(day).select(db.raw(`${day} as day`)).sum({ amount: 'o.amount' }),
    db('order_margins as o')
      .where('o.created_at', '>=', since)
      .andWhere('o.status', 'credited')
      .groupByRaw('+o.agent_id')
      .select(db.raw('+o.agent_id as agent_id'))
      .count({ orders: '*' })
      .sum({ volume: 'o.sale', earned: 'o.amount' })
      .orderBy('volume', 'desc')
      .limit(TOP),
    db('supplier_orders').where('created_at', '>=', since).groupBy('supplier', 'status').select('supplier', 'status').count({ count: '*' }).sum({ latency: db.raw('updated_at - created_at') }),
    readFloat(deps),
    db('skus as s').join('products as p', 'p.id', 's.product_id').where('p.type', 'card').pluck('s.id'),
  ])) as [Row[], Row[], Row[], Row[], Row[], Dashboard['float'], number[]];

  const series = new Map(buckets.keys.map((key) => [key, { key, orders: 0, sales: 0, cost: 0, commissions: 0, margin: 0 }]));
  for (const r of sales) {
    const b = series.get(buckets.keyOf(n(r.day)));
    if (!b) continue;
    b.orders += n(r.orders);
    b.sales += n(r.sales);
    b.cost += n(r.cost);
  }
  for (const r of commissions) {
    const b = series.get(buckets.keyOf(n(r.day)));
    if (b) b.commissions += n(r.amount);
  }
  for (const b of series.values()) b.margin = b.sales - b.cost - b.commissions;
  const points = [...series.values()];

  const statuses = new Map<OrderStatus, number>();
  const topSkus = new Map<number, { orders: number; quantity: number; sales: number }>();
  const own = { orders: 0, delivered: 0, failed: 0, latency: 0 };
  const isCard = new Set(cards.map(Number));
  for (const r of bySku) {
    const status = r.status as OrderStatus;
    statuses.set(status, (statuses.get(status) ?? 0) + n(r.orders));
    if (SOLD.includes(status)) {
      const t = topSkus.get(n(r.sku_id)) ?? { orders: 0, quantity: 0, sales: 0 };
      t.orders += n(r.orders);
      t.quantity += n(r.quantity);
      t.sales += n(r.sales);
      topSkus.set(n(r.sku_id), t);
    }
    // Cards from the shop's own keys: delivered, or paid and never delivered (failed, or refunded unfilled).
    if (!isCard.has(n(r.sku_id)) || status === 'pending_payment' || status === 'cancelled' || status === 'expired') continue;
    own.orders += n(r.orders);
    if (n(r.delivered)) {
      own.delivered += n(r.orders);
      own.latency += n(r.latency);
    } else if (status === 'failed' || status === 'refunded') own.failed += n(r.orders);
  }
  const best = [...topSkus].sort((a, b) => b[1].sales - a[1].sales).slice(0, TOP);

  const bySupplier = new Map<string, { orders: number; delivered: number; failed: number; latency: number }>();
  for (const r of suppliers) {
    const s = bySupplier.get(r.supplier as string) ?? { orders: 0, delivered: 0, failed: 0, latency: 0 };
    s.orders += n(r.count);
    if (r.status === 'delivered') {
      s.delivered += n(r.count);
      s.latency += n(r.latency);
    }
    if (r.status === 'failed') s.failed += n(r.count);
    bySupplier.set(r.supplier as string, s);
  }
  if (own.orders) bySupplier.set('stock', own);

  const [skuRows, agentRows] = (await Promise.all([
    db('skus').whereIn('id', best.map(([id]) => id)).select('id', 'code', 'name'),
    db('users').whereIn('id', agents.map((r) => n(r.agent_id))).select('id', 'email'),
  ])) as [Row[], Row[]];
  const skuById = new Map(skuRows.map((s) => [n(s.id), s]));
  const emailById = new Map(agentRows.map((u) => [n(u.id), u.email as string]));

  return {
    period,
    at: now,
    series: points,
    totals: { orders: points.reduce((s, p) => s + p.orders, 0), sales: points.reduce((s, p) => s + p.sales, 0), margin: points.reduce((s, p) => s + p.margin, 0) },
    statuses: [...statuses].map(([status, count]) => ({ status, count })).sort((a, b) => b.count - a.count),
    topSkus: best.map(([skuId, t]) => ({ skuId, code: skuById.get(skuId)?.code ?? '', name: skuById.get(skuId)?.name ?? '', ...t })),
    topAgents: agents.map((r) => ({ id: n(r.agent_id), email: emailById.get(n(r.agent_id)) ?? '', orders: n(r.orders), volume: n(r.volume), earned: n(r.earned) })),
    suppliers: [...bySupplier].map(([supplier, s]) => ({
      supplier,
      orders: s.orders,
      delivered: s.delivered,
      failed: s.failed,
      waiting: s.orders - s.delivered - s.failed,
      rate: s.delivered + s.failed ? s.delivered / (s.delivered + s.failed) : null,
      avgMs: s.delivered ? Math.round(s.latency / s.delivered) : null,
    })),
    float,
  };
}

async function readStock(deps: Deps): Promise<Dashboard['stock']> {
  const db = deps.db.read;
  const cards = () => db('skus as s').join('products as p', 'p.id', 's.product_id').where('p.type', 'card').andWhere('s.enabled', true);
  const [totals, lowest] = await Promise.all([
    cards()
      .count({ skus: '*' })
      .sum({ keys: 's.stock', low: db.raw(`CASE WHEN ${LOW} THEN 1 ELSE 0 END`) })
      .first(),
    cards()
      .orderByRaw(`CASE WHEN ${LOW} THEN 0 ELSE 1 END, s.stock, s.id`)
      .limit(30)
      .select('s.code', 's.name', 'p.name as product', 's.stock', 's.low_stock', 's.sold', db.raw(`CASE WHEN ${LOW} THEN 1 ELSE 0 END as low`)),
  ]);
  return {
    skus: n(totals?.skus),
    keys: n(totals?.keys),
    low: n(totals?.low),
    lowest: lowest.map((r) => ({ code: r.code, name: r.name, product: r.product, stock: n(r.stock), lowStock: r.low_stock === null ? null : n(r.low_stock), sold: n(r.sold), low: n(r.low) === 1 })),
  };
}

/** Users' wallets (and money set aside from them), against the journal, read in one snapshot. */
async function readFloat(deps: Deps): Promise<Dashboard['float']> {
  const kinds = ['wallet', 'hold'];
  const [balances, journal] = await deps.db.read.transaction(async (trx) => [
    (await trx('accounts').whereIn('kind', kinds).groupBy('kind').select('kind').count({ accounts: '*' }).sum({ balance: 'balance' })) as Row[],
    (await trx('journal_entries as e').join('accounts as a', 'a.id', 'e.account_id').whereIn('a.kind', kinds).groupBy('a.kind').select('a.kind').sum({ total: 'e.amount' })) as Row[],
  ]);
  const sums = new Map(journal.map((r) => [r.kind as string, n(r.total)]));
  return balances.map((r) => ({ kind: r.kind as string, accounts: n(r.accounts), balance: n(r.balance), journal: sums.get(r.kind) ?? 0, ok: n(r.balance) === (sums.get(r.kind) ?? 0) }));
}
