import type { Knex } from 'knex';
import type { Deps } from '../context.js';
import { affected, caseById } from '../db/dialect.js';
import { postJournal, SYSTEM_ACCOUNTS, systemAccountId, walletAccountId, type Entry } from '../wallet/ledger.js';
import { pricingSnapshot, type PricingSnapshot } from './pricing.js';

/**
 * The agents' share of an order. The split is computed when the order is placed and frozen in
 * `order_margins`; each row moves `pending → credited` when the order is delivered and
 * `credited → reversed` when it is refunded, by guarded UPDATEs whose row counts decide whether
 * the journal moves money, so neither can happen twice.
 */

export interface MarginShare {
  agentId: number;
  viaUserId: number | null;
  /** For the whole order (unit margin × quantity). */
  amount: number;
}

export function marginRows(orderId: number, sale: number, shares: MarginShare[], credited: boolean, now: number) {
  return shares.map((m) => ({
    order_id: orderId,
    agent_id: m.agentId,
    via_user_id: m.viaUserId,
    amount: m.amount,
    sale,
    status: credited ? 'credited' : 'pending',
    created_at: now,
  }));
}

/** The journal entries that move margins out of revenue into the agents' wallets. */
export async function marginEntries(deps: Deps, trx: Knex, shares: Array<{ agentId: number; amount: number }>, sign = 1): Promise<Entry[]> {
  const paid = shares.filter((m) => m.amount > 0);
  if (!paid.length) return [];
  const revenue = await systemAccountId(deps, trx, SYSTEM_ACCOUNTS.revenue);
  const entries: Entry[] = [{ accountId: revenue, amount: -sign * paid.reduce((s, m) => s + m.amount, 0) }];
  for (const m of paid) entries.push({ accountId: await walletAccountId(deps, trx, m.agentId), amount: sign * m.amount });
  return entries;
}

async function sharesOf(trx: Knex, orderId: number, status: string) {
  const rows = await trx('order_margins').where({ order_id: orderId, status }).select('agent_id', 'amount');
  return rows.map((r: Record<string, unknown>) => ({ agentId: Number(r.agent_id), amount: Number(r.amount) }));
}

/**
 * Credits an order's margins on delivery, inside the delivering transaction. For an order
 * delivered later than it was paid (a top-up through a supplier, a manual delivery).
 */
export async function creditMargins(deps: Deps, trx: Knex, order: { id: number; no: string }): Promise<void> {
  const shares = await sharesOf(trx, order.id, 'pending');
  if (!shares.length) return;
  const moved = affected(await trx('order_margins').where({ order_id: order.id, status: 'pending' }).update({ status: 'credited' }));
  if (moved !== shares.length) throw new Error(`margins of order ${order.no} moved under the delivery`);
  const entries = await marginEntries(deps, trx, shares);
  if (entries.length) await postJournal(deps, trx, [{ id: `order:${order.no}:margin`, kind: 'margin', orderId: order.id, entries }], new Set());
}

/**
 * Takes an order's credited margins back on refund, inside the refunding transaction. An agent who
 * already spent its margin gives back what its wallet holds; the shop bears the rest, so a wallet
 * never goes below zero.
 */
export async function reverseMargins(deps: Deps, trx: Knex, order: { id: number; no: string }): Promise<void> {
  const shares = await sharesOf(trx, order.id, 'credited');
  if (!shares.length) return;
  const moved = affected(await trx('order_margins').where({ order_id: order.id, status: 'credited' }).update({ status: 'reversed' }));
  if (moved !== shares.length) throw new Error(`margins of order ${order.no} moved under the refund`);
  const back: typeof shares = [];
  for (const s of shares.filter((m) => m.amount > 0)) {
    const wallet = await walletAccountId(deps, trx, s.agentId);
    const q = trx('accounts').where('id', wallet).first('balance');
    const row = await (deps.db.dialect === 'mysql' ? q.forUpdate() : q);
    back.push({ agentId: s.agentId, amount: Math.min(s.amount, Math.max(0, Number(row.balance))) });
  }
  const entries = await marginEntries(deps, trx, back, -1);
  if (!entries.length) return;
  const wallets = new Set(entries.slice(1).map((e) => e.accountId));
  await postJournal(deps, trx, [{ id: `order:${order.no}:margin-reversal`, kind: 'margin_reversal', orderId: order.id, entries }], wallets);
}

/** The best level each buyer's spend reaches after these purchases, where it is better than its own (never down). */
export function levelLifts(pricing: PricingSnapshot, buyers: Map<number, { spent: number; levelId: number | null; amount: number }>): Array<[number, number]> {
  const { levels, levelById, baseLevelId } = pricing;
  const lifts: Array<[number, number]> = [];
  for (const [userId, b] of buyers) {
    const total = b.spent + b.amount;
    const current = levelById.get(b.levelId ?? baseLevelId);
    const best = levels.filter((l) => l.upgradeSpend !== null && l.upgradeSpend <= total).pop();
    if (best && (!current || best.rank > current.rank)) lifts.push([userId, best.id]);
  }
  return lifts;
}

/**
 * Adds purchases to the buyers' cumulative spend and lifts each to the best level its spend
 * reaches (never down), in one UPDATE. `spent` is the spend each buyer had when read in this
 * transaction, with its level. Returns the users lifted, whose cached chains the caller drops
 * once the transaction has committed.
 */
export async function addSpend(
  deps: Deps,
  trx: Knex,
  buyers: Map<number, { spent: number; levelId: number | null; amount: number }>,
): Promise<number[]> {
  if (!buyers.size) return [];
  const lifts = levelLifts(await pricingSnapshot(deps), buyers);
  const pairs = [...buyers].map(([id, b]): [number, number] => [id, b.amount]).sort((a, b) => a[0] - b[0]);
  const patch: Record<string, Knex.Raw> = { spend_total: trx.raw('spend_total + ?', [caseById(trx, pairs)]) };
  if (lifts.length) patch.level_id = trx.raw(`(CASE id ${lifts.map(() => 'WHEN ? THEN ?').join(' ')} ELSE level_id END)`, lifts.flat());
  await trx('users').whereIn('id', pairs.map(([id]) => id)).update(patch);
  return lifts.map(([id]) => id);
}

/**
 * On refund of a sale: the agents give back their margins (as far as their wallets hold them) and
 * the amount leaves the buyer's cumulative spend. Levels already reached are kept.
 */
export async function unwindSale(deps: Deps, trx: Knex, order: { id: number; no: string; user_id: number | null; amount: number | string }): Promise<void> {
  await reverseMargins(deps, trx, order);
  if (order.user_id === null) return;
  await trx('users')
    .where('id', order.user_id)
    .andWhere('spend_total', '>=', Number(order.amount))
    .update({ spend_total: trx.raw('spend_total - ?', [Number(order.amount)]) });
}
