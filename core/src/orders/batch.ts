import type { Deps } from '../context.js';
import { isRetryable } from '../db/dialect.js';
import { createLane, rawTransaction, sqliteLiteral, type Literal, type Step } from '../db/raw.js';
import { deliveryJob, webhookJobs, type NewJob } from '../delivery/jobs.js';
import { couponBuyerLimit, couponDisabled, couponUsedUp } from '../coupons/coupons.js';
import { errors, ShopError } from '../errors.js';
import { flashSoldOut } from '../pricing/flash.js';
import { limitReached, unitsLeft } from './limits.js';
import { flashOf } from '../pricing/pricing.js';
import type { FlashSale } from '../pricing/resolver.js';
import { keyTaken } from '../inventory/picks.js';
import { copyRows, openKey, POOL_SIZE, poolTurns, type PickedKey } from '../inventory/keys.js';
import type { CardKey } from '../inventory/parse.js';
import { levelLifts, marginRows } from '../pricing/margins.js';
import { invalidatePricing, pricingSnapshot } from '../pricing/pricing.js';
import { randomToken } from '../security/keys.js';
import { SYSTEM_ACCOUNTS, systemAccountId, walletCode, type JournalTxn } from '../wallet/ledger.js';
import type { CheckoutResult, PlacedOrder } from './checkout.js';
import { deliveredAtOnce, newOrderView, orderRow } from './checkout.js';
import type { Outcome } from './group-commit.js';
import { newOrderNo } from './numbers.js';

/**
 * One group-commit batch of wallet checkouts (docs/architecture.md, "Checkout: group commit"):
 * 1. the figures it decides from: the SKUs' price and stock, the wallets, the buyers' spend where
 *    levels are reached by spending, the next available keys (and on SQLite the next order id);
 * 2. every order decided in arrival order against those figures (a buyer who lacks stock or
 *    balance fails alone);
 * 3. every write sent at once with COMMIT. Each guarded statement (`stock >= n`, `balance >=
 *    amount`, `status = 'available'`) must change exactly the rows decided, or the whole batch
 *    rolls back and runs again: the database, not these figures, keeps stock and balances from
 *    going below zero and a key from reaching two orders.
 *
 * MySQL (many app processes): the figures are read and locked inside the batch's transaction.
 * SQLite (one writer, this process): they are kept between batches while this process holds the
 * writer (db/raw.ts `createLane`), so a batch is one program sent behind the previous one; what
 * the next batch decides from is what the previous one leaves, and anything the lane did not see
 * (another writer had the connection, a program failed) drops them. A refusal for stock or balance
 * is decided on figures read again, so another process's import or credit is never missed.
 */

interface Accepted {
  index: number;
  order: PlacedOrder;
  no: string;
  token: string;
  /** SQL for the order's id: its literal where known (SQLite), else a lookup by its number. */
  ref: string;
  /** The SKU's stock counter before this order took its units: which turn of a shared pool it gets. */
  stockAt: number;
}

interface Wallet {
  id: number;
  balance: number;
}

interface Buyer {
  spent: number;
  levelId: number | null;
  /** Bought in this batch. */
  amount: number;
}

/** What a batch decides from; on SQLite the same objects carry over to the next batch. */
interface Figures {
  /** `flash`: the SKU's flash sale as its row has it (no query of its own), `sold` taken as decided. */
  skus: Map<number, { price: number; stock: number; enabled: boolean; shared: boolean; flash: FlashSale | null }>;
  /** Wallet accounts by user id. */
  wallets: Map<number, Wallet>;
  buyers: Map<number, Buyer>;
  /** The next available keys of each card SKU, oldest first; of a shared SKU, its pool. */
  keys: Map<number, PickedKey[]>;
  /** SQLite: the id the next order gets (this process is the only one inserting orders). */
  nextOrderId: number | null;
  /** The keys buyers of this batch picked (卡密预选) that are still available, read for each batch. */
  picked: Map<number, PickedKey & { skuId: number }>;
  /** The coupons this batch's orders use, and their buyers' uses (`couponBuyer`), read for each batch. */
  coupons: Map<number, { used: number; maxUses: number | null; active: boolean }>;
  couponBuyers: Map<string, number>;
  /** The units the buyers of this batch's limited orders have counted (`limitUnits`), read for each batch. */
  limits: Map<string, number>;
}

const couponBuyer = (couponId: number, buyer: string) => `${couponId}\x1e${buyer}`;
const limitUnits = (skuId: number, buyer: string, period: string) => `${skuId}\x1e${buyer}\x1e${period}`;

/** A row of a capped counter (`coupon_buyers`, `buyer_units`): its key columns, and its key in the figures. */
interface CounterRow {
  where: Record<string, Literal>;
  key: string;
  limit: number;
}

const whereOf = (q: Sql, where: Record<string, Literal>) => Object.entries(where).map(([c, v]) => `${c} = ${q.lit(v)}`).join(' AND ');

/** Reads (on MySQL: locks) the counters' rows into `into` by `keyOf` a row read, a missing row as 0. */
async function readCounters(q: Sql, table: string, column: string, rows: CounterRow[], keyOf: (row: Record<string, any>) => string, into: Map<string, number>, lock: string): Promise<void> {
  if (!rows.length) return;
  for (const r of rows) into.set(r.key, 0);
  const found = await q.all<Record<string, any>>(`SELECT * FROM ${table} WHERE ${rows.map((r) => `(${whereOf(q, r.where)})`).join(' OR ')}${lock}`);
  for (const r of found) into.set(keyOf(r), Number(r[column]));
}

/** Each counter raised by `n`, guarded by its limit, its row made first where it has none. */
function counterWrites(q: Sql, table: string, column: string, raised: Array<CounterRow & { n: number }>): Step[] {
  const steps = insertRows(q, table, raised.map((r) => ({ ...r.where, [column]: 0 })), { ignoreDuplicates: true });
  for (const r of raised) steps.push({ sql: `UPDATE ${table} SET ${column} = ${column} + ${q.lit(r.n)} WHERE ${whereOf(q, r.where)} AND ${column} + ${q.lit(r.n)} <= ${q.lit(r.limit)}`, expect: 1 });
  return steps;
}

const couponCounter = (c: NonNullable<PlacedOrder['coupon']>): CounterRow => ({ where: { coupon_id: c.id, buyer: c.buyer }, key: couponBuyer(c.id, c.buyer), limit: c.perBuyer! });
const limitCounters = (o: PlacedOrder): CounterRow[] =>
  (o.limits?.counts ?? []).map((c) => ({ where: { sku_id: o.skuId, buyer: o.limits!.buyer, period: c.period }, key: limitUnits(o.skuId, o.limits!.buyer, c.period), limit: c.limit }));

/** Renders literals for one dialect (raw.ts). */
interface Sql {
  readonly dialect: 'sqlite' | 'mysql';
  lit(value: Literal): string;
  all<T = Record<string, unknown>>(sql: string): Promise<T[]>;
}

const list = (q: Sql, values: Literal[]) => `(${values.map((v) => q.lit(v)).join(', ')})`;

/** `CASE id WHEN … THEN … END`, for statements that set each row differently. */
const caseOf = (q: Sql, pairs: Array<[number, string]>) => `CASE id ${pairs.map(([id, sql]) => `WHEN ${q.lit(id)} THEN ${sql}`).join(' ')} END`;

/** Multi-row INSERTs of rows with the same columns, 200 rows a statement. */
function insertRows(q: Sql, table: string, rows: Array<Record<string, Literal | { sql: string }>>, opts: { ignoreDuplicates?: boolean } = {}): Step[] {
  if (!rows.length) return [];
  const columns = Object.keys(rows[0]!);
  const value = (v: Literal | { sql: string }) => (typeof v === 'object' && v !== null ? v.sql : q.lit(v));
  const head = opts.ignoreDuplicates && q.dialect === 'mysql' ? 'INSERT IGNORE INTO' : 'INSERT INTO';
  const tail = opts.ignoreDuplicates && q.dialect === 'sqlite' ? ' ON CONFLICT DO NOTHING' : '';
  const steps: Step[] = [];
  for (let i = 0; i < rows.length; i += 200) {
    const values = rows.slice(i, i + 200).map((r) => `(${columns.map((c) => value(r[c])).join(', ')})`);
    steps.push({ sql: `${head} ${table} (${columns.join(', ')}) VALUES ${values.join(', ')}${tail}` });
  }
  return steps;
}

interface Wanted {
  skuIds: number[];
  userIds: number[];
  buyerIds: number[];
  keys: Array<{ skuId: number; after: number; limit: number }>;
  nextOrderId: boolean;
  picks?: number[];
  coupons?: PlacedOrder[];
  limited?: PlacedOrder[];
}

/**
 * Reads the figures asked for into `into` (on MySQL: locking them), all queries sent at once;
 * `w` creates the wallets that margins go to where there are none yet.
 */
async function readFigures(deps: Deps, q: Sql, want: Wanted, into: Figures, w: Sql = q): Promise<void> {
  const lock = q.dialect === 'mysql' ? ' FOR UPDATE' : '';
  const walletsOf = (ids: number[]) => (ids.length ? q.all<{ id: number; user_id: number; balance: number }>(`SELECT id, user_id, balance FROM accounts WHERE code IN ${list(q, ids.map(walletCode))} ORDER BY id${lock}`) : []);
  const coupons = [...new Set((want.coupons ?? []).map((o) => o.coupon!.id))];
  const couponCounters = [...new Map((want.coupons ?? []).filter((o) => o.coupon!.perBuyer !== null).map((o) => [couponBuyer(o.coupon!.id, o.coupon!.buyer), couponCounter(o.coupon!)])).values()];
  const units = [...new Map((want.limited ?? []).flatMap(limitCounters).map((c) => [c.key, c])).values()];
  const [skuRows, walletRows, buyerRows, keyRows, seq, pickRows, couponRows] = await Promise.all([
    want.skuIds.length ? q.all<Record<string, any>>(`SELECT id, price, stock, enabled, key_mode, flash_price, flash_starts_at, flash_ends_at, flash_cap, flash_sold, flash_per_buyer FROM skus WHERE id IN ${list(q, want.skuIds)}${lock}`) : [],
    walletsOf(want.userIds),
    want.buyerIds.length ? q.all<{ id: number; spend_total: number; level_id: number | null }>(`SELECT id, spend_total, level_id FROM users WHERE id IN ${list(q, want.buyerIds)}${lock}`) : [],
    Promise.all(
      want.keys.map((k) =>
        q.all<{ id: number; secret: string }>(
          `SELECT id, secret FROM card_keys WHERE sku_id = ${q.lit(k.skuId)} AND status = 'available' AND id > ${q.lit(k.after)} ORDER BY id LIMIT ${q.lit(k.limit)}${q.dialect === 'mysql' ? ' FOR UPDATE SKIP LOCKED' : ''}`,
        ),
      ),
    ),
    want.nextOrderId ? q.all<{ seq: number }>(`SELECT seq FROM sqlite_sequence WHERE name = 'orders'`) : null,
    want.picks?.length ? q.all<{ id: number; sku_id: number; secret: string }>(`SELECT id, sku_id, secret FROM card_keys WHERE id IN ${list(q, want.picks)} AND status = 'available'${lock}`) : [],
    coupons.length ? q.all<{ id: number; used: number; max_uses: number | null; active: number }>(`SELECT id, used, max_uses, active FROM coupons WHERE id IN ${list(q, coupons)} ORDER BY id${lock}`) : [],
    readCounters(q, 'coupon_buyers', 'uses', couponCounters, (r) => couponBuyer(Number(r.coupon_id), r.buyer), into.couponBuyers, lock),
    readCounters(q, 'buyer_units', 'units', units, (r) => limitUnits(Number(r.sku_id), r.buyer, r.period), into.limits, lock),
  ]);
  for (const r of couponRows) into.coupons.set(Number(r.id), { used: Number(r.used), maxUses: r.max_uses === null ? null : Number(r.max_uses), active: Boolean(r.active) });
  for (const r of pickRows) into.picked.set(Number(r.id), { id: Number(r.id), skuId: Number(r.sku_id), secret: r.secret });
  for (const r of skuRows) into.skus.set(Number(r.id), { price: Number(r.price), stock: Number(r.stock), enabled: Boolean(r.enabled), shared: r.key_mode === 'shared', flash: flashOf(r) });
  const wallet = (r: { id: number; user_id: number; balance: number }) => into.wallets.set(Number(r.user_id), { id: Number(r.id), balance: Number(r.balance) });
  walletRows.forEach(wallet);
  for (const r of buyerRows) into.buyers.set(Number(r.id), { spent: Number(r.spend_total), levelId: r.level_id === null ? null : Number(r.level_id), amount: 0 });
  want.keys.forEach((k, i) => into.keys.set(k.skuId, [...(into.keys.get(k.skuId) ?? []), ...keyRows[i]!.map((r) => ({ id: Number(r.id), secret: r.secret }))]));
  if (seq) into.nextOrderId = Number(seq[0]?.seq ?? 0) + 1;
  // An agent earning a margin without a wallet yet gets one (a buyer without one has nothing to pay with).
  const buyers = new Set(want.buyerIds);
  const missing = want.userIds.filter((id) => !into.wallets.has(id) && !buyers.has(id));
  if (missing.length) {
    const now = deps.now();
    const rows = missing.map((id) => ({ code: walletCode(id), kind: 'wallet', user_id: id, balance: 0, currency: deps.config.shop.currency, created_at: now }));
    for (const step of insertRows(w, 'accounts', rows, { ignoreDuplicates: true })) await w.all(step.sql);
    for (const r of await w.all<{ id: number; user_id: number; balance: number }>(`SELECT id, user_id, balance FROM accounts WHERE code IN ${list(w, missing.map(walletCode))}`)) wallet(r);
  }
}

/** Who and what a batch touches. */
function touched(batch: PlacedOrder[]) {
  const buyerIds = [...new Set(batch.map((o) => o.userId!))];
  // Agents earning a margin are credited in the same transaction: their wallets too.
  const userIds = [...new Set([...buyerIds, ...batch.flatMap((o) => o.margins.map((m) => m.agentId))])];
  // Keys a unique SKU's orders take, and the shared SKUs whose pool they copy.
  const units = new Map<number, number>();
  const pools = new Set<number>();
  for (const o of batch) {
    if (o.productType !== 'card') continue;
    if (o.shared) pools.add(o.skuId);
    else units.set(o.skuId, (units.get(o.skuId) ?? 0) + o.quantity);
  }
  return { skuIds: [...new Set(batch.map((o) => o.skuId))], buyerIds, userIds, units, pools };
}

/** Why an order's coupon cannot be used now (the code or this buyer has no uses left), if it cannot. */
function couponRefusal(f: Figures, order: PlacedOrder): ShopError | null {
  const c = order.coupon!;
  const code = f.coupons.get(c.id);
  if (!code?.active) return couponDisabled();
  if (code.maxUses !== null && code.used >= code.maxUses) return couponUsedUp();
  if (c.perBuyer !== null && (f.couponBuyers.get(couponBuyer(c.id, c.buyer)) ?? 0) >= c.perBuyer) return couponBuyerLimit();
  return null;
}

function takeCoupon(f: Figures, order: PlacedOrder): void {
  const c = order.coupon!;
  f.coupons.get(c.id)!.used++;
  if (c.perBuyer !== null) f.couponBuyers.set(couponBuyer(c.id, c.buyer), (f.couponBuyers.get(couponBuyer(c.id, c.buyer)) ?? 0) + 1);
}

/**
 * The coupons' uses: each code's counter raised by the orders that used it, guarded by its limit,
 * and each limited buyer's likewise (its row made first where it has none).
 */
function couponWrites(q: Sql, accepted: Accepted[]): Step[] {
  const codes = new Map<number, number>();
  const buyers = new Map<string, CounterRow & { n: number }>();
  for (const { order } of accepted) {
    const c = order.coupon;
    if (!c) continue;
    codes.set(c.id, (codes.get(c.id) ?? 0) + 1);
    if (c.perBuyer === null) continue;
    const row = couponCounter(c);
    buyers.set(row.key, { ...row, n: (buyers.get(row.key)?.n ?? 0) + 1 });
  }
  const steps: Step[] = [...codes]
    .sort((a, b) => a[0] - b[0])
    .map(([id, n]) => ({ sql: `UPDATE coupons SET used = used + ${q.lit(n)} WHERE id = ${q.lit(id)} AND active = ${q.lit(true)} AND (max_uses IS NULL OR used + ${q.lit(n)} <= max_uses)`, expect: 1 }));
  return [...steps, ...counterWrites(q, 'coupon_buyers', 'uses', [...buyers.values()])];
}

/** The units each limited buyer's orders in the batch count, per SKU and period. */
function limitWrites(q: Sql, accepted: Accepted[]): Step[] {
  const raised = new Map<string, CounterRow & { n: number }>();
  for (const { order } of accepted) {
    for (const row of limitCounters(order)) raised.set(row.key, { ...row, n: (raised.get(row.key)?.n ?? 0) + order.quantity });
  }
  return counterWrites(q, 'buyer_units', 'units', [...raised.values()]);
}

/** Refused for a limit of its buyer's: the units left under the tightest cap are fewer than it asks for. */
function limitRefusal(f: Figures, order: PlacedOrder): ShopError | null {
  const { buyer, counts } = order.limits!;
  const left = unitsLeft(counts, (period) => f.limits.get(limitUnits(order.skuId, buyer, period)) ?? 0);
  return left < order.quantity ? limitReached(left) : null;
}

/** Whether the order's flash sale is still the SKU's, on at `now`, with the order's units left. */
const flashHas = (f: FlashSale | null, order: PlacedOrder, now: number) =>
  f !== null && f.price === order.flash!.price && f.startsAt === order.flash!.startsAt && f.startsAt <= now && now < f.endsAt && f.sold + order.quantity <= f.cap;

/** Decides each order against the figures, in arrival order, taking what it uses from them. */
function decide(q: Sql, batch: PlacedOrder[], f: Figures, outcomes: Array<Outcome<CheckoutResult>>, now: number): Accepted[] {
  const accepted: Accepted[] = [];
  const picked = new Set<number>();
  for (const [index, order] of batch.entries()) {
    const sku = f.skus.get(order.skuId);
    const wallet = f.wallets.get(order.userId!);
    const counted = order.productType === 'card';
    if (!sku?.enabled) outcomes[index] = errors.notFound('error.sku_not_found');
    else if (sku.price !== order.retail) outcomes[index] = new ShopError('price_changed', 409, 'error.price_changed');
    // Priced at a flash sale: that sale, still on, with the units left (the SKU UPDATE guards the cap).
    else if (order.flash && !flashHas(sku.flash, order, now)) outcomes[index] = flashSoldOut();
    // Decided from a catalog snapshot that may be a moment old: the SKU's keys are sold another way now.
    else if (counted && sku.shared !== Boolean(order.shared)) outcomes[index] = new ShopError('sku_changed', 409, 'keys.mode_changed');
    else if (counted && sku.stock < order.quantity) outcomes[index] = errors.outOfStock(sku.stock);
    else if (order.shared && !f.keys.get(order.skuId)?.length) outcomes[index] = errors.outOfStock(0);
    // Two buyers, one key: the first in the batch (or an earlier batch) has it.
    else if (order.picks?.some((id) => f.picked.get(id)?.skuId !== order.skuId || picked.has(id))) outcomes[index] = keyTaken();
    else if (order.coupon && couponRefusal(f, order)) outcomes[index] = couponRefusal(f, order)!;
    else if (order.limits && limitRefusal(f, order)) outcomes[index] = limitRefusal(f, order)!;
    else if (!wallet || wallet.balance < order.amount) outcomes[index] = errors.insufficientBalance();
    else {
      const stockAt = sku.stock;
      if (order.coupon) takeCoupon(f, order);
      for (const c of limitCounters(order)) f.limits.set(c.key, (f.limits.get(c.key) ?? 0) + order.quantity);
      for (const id of order.picks ?? []) picked.add(id);
      if (counted) sku.stock -= order.quantity;
      if (order.flash) sku.flash!.sold += order.quantity;
      wallet.balance -= order.amount;
      f.buyers.get(order.userId!)!.amount += order.amount;
      const no = newOrderNo(now);
      const ref = f.nextOrderId === null ? `(SELECT id FROM orders WHERE no = ${q.lit(no)})` : String(f.nextOrderId++);
      accepted.push({ index, order, no, token: randomToken(24), ref, stockAt });
    }
  }
  return accepted;
}

/** Every write of the batch, in the order the database must run them; takes the keys it gives. */
function writes(deps: Deps, q: Sql, f: Figures, accepted: Accepted[], revenue: number, lifted: Array<[number, number]>, now: number) {
  const steps: Step[] = [];
  const sold = new Map<number, { units: number; reserved: number; flash: number; counted: boolean; shared: boolean }>();
  const debits = new Map<number, number>();
  for (const { order } of accepted) {
    const counted = order.productType === 'card';
    const s = sold.get(order.skuId) ?? { units: 0, reserved: 0, flash: 0, counted, shared: Boolean(order.shared) };
    s.units += order.quantity;
    if (order.flash) s.flash += order.quantity;
    if (counted && order.review) s.reserved += order.quantity;
    sold.set(order.skuId, s);
    const wallet = f.wallets.get(order.userId!)!.id;
    debits.set(wallet, (debits.get(wallet) ?? 0) + order.amount);
  }

  // Stock and wallets first, in id order (two MySQL batches then lock in the same order).
  for (const [skuId, s] of [...sold].sort((a, b) => a[0] - b[0])) {
    // Units held for review leave the stock now but count as sold only once delivered.
    const stock = s.counted ? `stock = stock - ${q.lit(s.units)}, ` : '';
    const flash = s.flash ? `, flash_sold = flash_sold + ${q.lit(s.flash)}` : '';
    const cap = s.flash ? ` AND flash_sold + ${q.lit(s.flash)} <= flash_cap` : '';
    steps.push({ sql: `UPDATE skus SET ${stock}sold = sold + ${q.lit(s.units - s.reserved)}${flash} WHERE id = ${q.lit(skuId)}${s.counted ? ` AND stock >= ${q.lit(s.units)}` : ''}${cap}`, expect: 1 });
  }
  const debit = caseOf(q, [...debits].map(([id, amount]) => [id, q.lit(amount)]));
  steps.push({ sql: `UPDATE accounts SET balance = balance - ${debit} WHERE id IN ${list(q, [...debits.keys()])} AND balance >= ${debit}`, expect: debits.size });
  steps.push(...couponWrites(q, accepted), ...limitWrites(q, accepted));

  // A delivered order (a card in stock) pays its agents their margins in the same journal
  // transaction as the sale; an order delivered later pays them then (pricing/margins.ts).
  const credits = new Map<number, number>();
  const journal: Array<JournalTxn & { ref: string }> = accepted.map((a) => {
    const shares = deliveredAtOnce(a.order) ? a.order.margins.filter((m) => m.amount > 0) : [];
    const entries = [
      { accountId: f.wallets.get(a.order.userId!)!.id, amount: -a.order.amount },
      { accountId: revenue, amount: a.order.amount - shares.reduce((sum, m) => sum + m.amount, 0) },
      ...shares.map((m) => ({ accountId: f.wallets.get(m.agentId)!.id, amount: m.amount })),
    ];
    for (const m of shares) f.wallets.get(m.agentId)!.balance += m.amount;
    // The wallet is debited above; the other side is credited here, in one statement.
    for (const e of entries.slice(1)) credits.set(e.accountId, (credits.get(e.accountId) ?? 0) + e.amount);
    return { id: `order:${a.no}:pay`, kind: 'purchase', ref: a.ref, entries };
  });
  const credited = [...credits].filter(([, amount]) => amount !== 0);
  // Before the journal rows, whose foreign keys would otherwise share-lock these accounts on MySQL.
  if (credited.length) steps.push({ sql: `UPDATE accounts SET balance = balance + ${caseOf(q, credited.map(([id, amount]) => [id, q.lit(amount)]))} WHERE id IN ${list(q, credited.map(([id]) => id))}` });

  const spenders = [...f.buyers].filter(([, b]) => b.amount > 0);
  const levels = lifted.length ? `, level_id = CASE id ${lifted.map(([id, level]) => `WHEN ${q.lit(id)} THEN ${q.lit(level)}`).join(' ')} ELSE level_id END` : '';
  steps.push({ sql: `UPDATE users SET spend_total = spend_total + ${caseOf(q, spenders.map(([id, b]) => [id, q.lit(b.amount)]))}${levels} WHERE id IN ${list(q, spenders.map(([id]) => id))}` });

  steps.push(
    ...insertRows(
      q,
      'orders',
      accepted.map((a) =>
        Object.assign(orderRow(deps, a, now), {
          ...(f.nextOrderId === null ? {} : { id: Number(a.ref) }),
          // A card order held for review keeps its keys reserved until an admin decides.
          reserved: a.order.productType === 'card' && a.order.review ? a.order.quantity : 0,
        }),
      ),
    ),
  );

  // Keys, oldest first, to the orders in arrival order; held orders' keys only reserved. A shared
  // SKU's orders get copies of its pool's keys, in turn, and the pool stays.
  const keys = new Map<Accepted, PickedKey[]>();
  for (const [skuId, s] of sold) {
    if (!s.counted) continue;
    const next = f.keys.get(skuId) ?? [];
    if (s.shared) {
      for (const a of accepted) if (a.order.skuId === skuId) keys.set(a, poolTurns(next, a.stockAt, a.order.quantity));
      continue;
    }
    const mine = accepted.filter((a) => a.order.skuId === skuId);
    // Picked keys go to their buyers; the others draw the next keys, which the picked ones leave.
    const picks = new Set(mine.flatMap((a) => a.order.picks ?? []));
    if (picks.size) f.keys.set(skuId, next.filter((k) => !picks.has(k.id)));
    const rest = f.keys.get(skuId) ?? [];
    const drawn = s.units - picks.size;
    if (rest.length < drawn) throw new Error(`stock counter of sku ${skuId} is ahead of its keys (${rest.length} < ${drawn})`);
    for (const a of mine) keys.set(a, a.order.picks ? a.order.picks.map((id) => f.picked.get(id)!) : rest.splice(0, a.order.quantity));
  }
  const copies = [...keys].filter(([a]) => a.order.shared).flatMap(([a, ks]) => copyRows(deps, a.order.skuId, a.no, ks, a.order.review ? 'reserved' : 'sold', now).map((r) => ({ ...r, order_id: { sql: a.ref } })));
  steps.push(...insertRows(q, 'card_keys', copies));
  for (const held of [false, true]) {
    const claims = [...keys].filter(([a]) => !a.order.shared && Boolean(a.order.review) === held).flatMap(([a, ks]) => ks.map((k): [number, string] => [k.id, a.ref]));
    if (!claims.length) continue;
    const status = held ? `'reserved', sold_at = NULL` : `'sold', sold_at = ${q.lit(now)}`;
    steps.push({ sql: `UPDATE card_keys SET status = ${status}, order_id = ${caseOf(q, claims)} WHERE id IN ${list(q, claims.map(([id]) => id))} AND status = 'available'`, expect: claims.length });
  }

  steps.push(...insertRows(q, 'journal_transactions', journal.map((t) => ({ id: t.id, kind: t.kind, order_id: { sql: t.ref }, memo: null, actor_id: null, created_at: now }))));
  steps.push(...insertRows(q, 'journal_entries', journal.flatMap((t) => t.entries.map((e) => ({ txn_id: t.id, account_id: e.accountId, amount: e.amount, created_at: now })))));
  steps.push(
    ...insertRows(
      q,
      'order_margins',
      accepted.flatMap((a) => marginRows(0, a.order.amount, a.order.margins, deliveredAtOnce(a.order), now).map((m) => ({ ...m, order_id: { sql: a.ref } }))),
    ),
  );
  // Orders not delivered here are delivered by a worker: their job commits with the payment (held
  // for review: it waits for an admin); cards delivered here with a callback URL get their webhook.
  const jobs = accepted.flatMap((a): Array<NewJob & { orderRef: string }> => {
    const order = { id: 0, no: a.no, callback_url: a.order.api?.callbackUrl ?? null };
    const made = deliveredAtOnce(a.order) ? webhookJobs(order, 'order.delivered') : [{ ...deliveryJob(order), held: Boolean(a.order.review) }];
    return made.map((j) => ({ ...j, orderRef: a.ref }));
  });
  steps.push(
    ...insertRows(
      q,
      'delivery_jobs',
      jobs.map((j) => ({
        kind: j.kind,
        ref: j.ref,
        order_id: { sql: j.orderRef },
        payload: j.payload === undefined ? null : JSON.stringify(j.payload),
        status: j.held ? 'held' : 'queued',
        attempts: 0,
        run_at: now,
        created_at: now,
        updated_at: now,
      })),
      // One job per (kind, ref): writing it again keeps the first.
      { ignoreDuplicates: true },
    ),
  );
  return { steps, keys, jobs: jobs.length };
}

export interface BatchOutcome {
  outcomes: Array<Outcome<CheckoutResult>>;
  /** Whether jobs were written, for the worker to start on them now. */
  jobs: boolean;
}

/** Decides a batch, writes it with `send`, and answers each order. */
async function commitWith(
  deps: Deps,
  q: Sql,
  batch: PlacedOrder[],
  f: Figures,
  /** Writes the steps; answers the orders' ids by number where the database chose them. */
  send: (steps: Step[], nos: string[]) => Promise<Map<string, number> | null>,
): Promise<BatchOutcome & { lifted: number }> {
  const [pricing, revenue] = await Promise.all([pricingSnapshot(deps), systemAccountId(deps, deps.db.read, SYSTEM_ACCOUNTS.revenue)]);
  // From deciding to sending, nothing waits: the figures change only by what this batch takes.
  const now = deps.now();
  const outcomes: Array<Outcome<CheckoutResult>> = new Array(batch.length);
  const accepted = decide(q, batch, f, outcomes, now);
  if (!accepted.length) return { outcomes, jobs: false, lifted: 0 };
  const buying = new Map([...f.buyers].filter(([, b]) => b.amount > 0));
  const lifted = pricing.levels.some((l) => l.upgradeSpend !== null) ? levelLifts(pricing, buying) : [];
  const { steps, keys, jobs } = writes(deps, q, f, accepted, revenue, lifted, now);
  for (const b of buying.values()) (b.spent += b.amount), (b.amount = 0);
  for (const [id, level] of lifted) f.buyers.get(id)!.levelId = level;
  const ids = (await send(steps, accepted.map((a) => a.no))) ?? new Map(accepted.map((a) => [a.no, Number(a.ref)]));
  for (const a of accepted) {
    const status = deliveredAtOnce(a.order) ? 'delivered' : 'paid';
    const delivered: CardKey[] = status === 'delivered' ? (keys.get(a) ?? []).map((k) => openKey(deps, k.secret)) : [];
    outcomes[a.index] = { token: a.token, order: newOrderView(deps, a.order, { id: ids.get(a.no)!, no: a.no, status, now, keys: delivered }) };
  }
  return { outcomes, jobs: jobs > 0, lifted: lifted.length };
}

const emptyFigures = (): Figures => ({ skus: new Map(), wallets: new Map(), buyers: new Map(), keys: new Map(), nextOrderId: null, picked: new Map(), coupons: new Map(), couponBuyers: new Map(), limits: new Map() });

const picksOf = (batch: PlacedOrder[]) => batch.flatMap((o) => o.picks ?? []);
const couponsOf = (batch: PlacedOrder[]) => batch.filter((o) => o.coupon);
const limitedOf = (batch: PlacedOrder[]) => batch.filter((o) => o.limits);

/** MySQL: the figures read and locked inside the batch's own transaction. */
function mysqlBatches(deps: Deps) {
  return (batch: PlacedOrder[]) =>
    rawTransaction(deps.db, async (tx) => {
      const t = touched(batch);
      const f = emptyFigures();
      const lifts = (await pricingSnapshot(deps)).levels.some((l) => l.upgradeSpend !== null);
      const keys = [...[...t.units].map(([skuId, limit]) => ({ skuId, after: 0, limit })), ...[...t.pools].map((skuId) => ({ skuId, after: 0, limit: POOL_SIZE }))];
      await readFigures(deps, tx, { ...t, buyerIds: lifts ? t.buyerIds : [], keys, nextOrderId: false, picks: picksOf(batch), coupons: couponsOf(batch), limited: limitedOf(batch) }, f);
      for (const id of t.buyerIds) if (!f.buyers.has(id)) f.buyers.set(id, { spent: 0, levelId: null, amount: 0 });
      return commitWith(deps, tx, batch, f, async (steps, nos) => {
        await tx.commit(steps);
        return orderIds(tx, nos);
      });
    });
}

/** The ids MySQL gave the orders just written (other processes insert orders too). */
async function orderIds(q: Sql, nos: string[]): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  for (let i = 0; i < nos.length; i += 500) {
    for (const r of await q.all<{ id: number; no: string }>(`SELECT id, no FROM orders WHERE no IN ${list(q, nos.slice(i, i + 500))}`)) ids.set(r.no, Number(r.id));
  }
  return ids;
}

/** Keys read ahead for a card SKU, so batches find theirs already read; more are read in the background below half. */
const KEYS_AHEAD = 4096;

/**
 * SQLite: the figures kept between batches while the lane holds the writer (see the top). What is
 * not kept is read from the reader pool, which does not wait behind the writer: anything this lane
 * sent that touches it is already among the kept figures, or has finished (`settled`) before the
 * figures were dropped. Keys are read past the last one read, so a key given by a program still
 * running is never read again.
 */
function sqliteBatches(deps: Deps) {
  const lane = createLane(deps.db);
  const reader: Sql = { dialect: 'sqlite', lit: sqliteLiteral, all: async <T>(sql: string) => (await deps.db.read.raw(sql)) as T[] };
  const fresh = (epoch: number) => ({ epoch, figures: emptyFigures(), after: new Map<number, number>(), reading: new Map<number, Promise<void>>() });
  let kept = fresh(-1);
  /** Reads the next keys of a SKU past the last one read; one read at a time per SKU. */
  const readKeys = (k: typeof kept, skuId: number, limit: number) => {
    const read = readFigures(deps, reader, { skuIds: [], userIds: [], buyerIds: [], keys: [{ skuId, after: k.after.get(skuId) ?? 0, limit }], nextOrderId: false }, k.figures)
      .then(() => void k.after.set(skuId, k.figures.keys.get(skuId)?.at(-1)?.id ?? k.after.get(skuId) ?? 0))
      .finally(() => k.reading.delete(skuId));
    k.reading.set(skuId, read);
    return read;
  };
  const attempt = (batch: PlacedOrder[]) =>
    lane.run(async (tx) => {
      // A new epoch, or so many buyers kept that reading them again is cheaper than keeping them.
      if (kept.epoch !== tx.epoch || kept.figures.wallets.size > 20_000) {
        await tx.settled();
        kept = fresh(tx.epoch);
      }
      const f = kept.figures;
      const t = touched(batch);
      const lifts = (await pricingSnapshot(deps)).levels.some((l) => l.upgradeSpend !== null);
      const want: Wanted = {
        skuIds: t.skuIds.filter((id) => !f.skus.has(id)),
        userIds: t.userIds.filter((id) => !f.wallets.has(id)),
        buyerIds: lifts ? t.buyerIds.filter((id) => !f.buyers.has(id)) : [],
        keys: [],
        nextOrderId: f.nextOrderId === null,
        picks: picksOf(batch),
        coupons: couponsOf(batch),
        limited: limitedOf(batch),
      };
      // Picked keys, coupons' uses and buyers' units are read for each batch, once the programs sent
      // have finished (a gateway order may have taken some meanwhile, outside the lane).
      f.picked.clear();
      f.coupons.clear();
      f.couponBuyers.clear();
      f.limits.clear();
      if (want.picks!.length || want.coupons!.length || want.limited!.length) await tx.settled();
      // Before refusing anyone for stock or balance, read those figures again, once the programs
      // sent have finished: another process may have added keys or credited a wallet meanwhile.
      const short = batch.filter((o) => (o.productType === 'card' && (f.skus.get(o.skuId)?.stock ?? Infinity) < o.quantity) || (f.wallets.get(o.userId!)?.balance ?? Infinity) < o.amount);
      if (short.length) {
        await tx.settled();
        for (const o of short) {
          if (!want.skuIds.includes(o.skuId)) want.skuIds.push(o.skuId);
          if (!want.userIds.includes(o.userId!)) want.userIds.push(o.userId!);
        }
      }
      const k = kept;
      const keysRead = [
        ...[...t.units].map(async ([skuId, n]) => {
          await k.reading.get(skuId);
          if ((f.keys.get(skuId)?.length ?? 0) < n) await readKeys(k, skuId, Math.max(n, KEYS_AHEAD));
        }),
        // A shared pool is read once and kept (the lane's epoch drops it when the pool may have changed).
        ...[...t.pools].map(async (skuId) => {
          await k.reading.get(skuId);
          if (!f.keys.has(skuId)) await readKeys(k, skuId, POOL_SIZE);
        }),
      ];
      await Promise.all([readFigures(deps, reader, want, f, tx), ...keysRead]);
      // Running low: the next keys are read while this batch and the next are written.
      for (const [skuId, n] of t.units) if (!k.reading.has(skuId) && (f.keys.get(skuId)?.length ?? 0) - n < KEYS_AHEAD / 2) void readKeys(k, skuId, KEYS_AHEAD).catch(() => undefined);
      for (const id of t.buyerIds) if (!f.buyers.has(id)) f.buyers.set(id, { spent: 0, levelId: null, amount: 0 });
      return commitWith(deps, tx, batch, f, async (steps) => {
        await tx.submit(steps);
        return null;
      });
    });
  return async (batch: PlacedOrder[]) => {
    for (let n = 1; ; n++) {
      try {
        return await attempt(batch);
      } catch (err) {
        if (!isRetryable(err) || n >= 5) throw err;
      }
    }
  };
}

/** Commits batches of wallet checkouts (see the top of this file). */
export function createBatches(deps: Deps): (batch: PlacedOrder[]) => Promise<BatchOutcome> {
  const commit = deps.db.dialect === 'sqlite' ? sqliteBatches(deps) : mysqlBatches(deps);
  return async (batch) => {
    const { outcomes, jobs, lifted } = await commit(batch);
    // A buyer lifted to a better level pays its new prices from its next order on.
    if (lifted) invalidatePricing(deps);
    return { outcomes, jobs };
  };
}
