import type { Deps } from '../context.js';
import { rawTransaction, type Literal, type RawTx, type Step } from '../db/raw.js';
import { deliveryJob, webhookJobs, type NewJob } from '../delivery/jobs.js';
import { errors, ShopError } from '../errors.js';
import { openKey, type PickedKey } from '../inventory/keys.js';
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
 * One group-commit batch of wallet checkouts (docs/architecture.md, "Checkout: group commit"), in
 * two trips to the database whatever its size:
 * 1. read (on MySQL: lock) the SKUs' price and stock, the wallets, the buyers' spend where levels
 *    are reached by spending, and the candidate keys; on SQLite also the next order id, since the
 *    write lock is ours from BEGIN IMMEDIATE on;
 * 2. decide every order in arrival order against those figures (a buyer who lacks stock or
 *    balance fails alone), then send every write at once with COMMIT. Each guarded statement
 *    (`stock >= n`, `balance >= amount`, `status = 'available'`) must change exactly the rows
 *    decided, or the whole batch rolls back and runs again: the database, not this code, keeps
 *    stock and balances from going below zero and a key from reaching two orders.
 */

interface Accepted {
  index: number;
  order: PlacedOrder;
  no: string;
  token: string;
  /** SQL for the order's id: its literal where known (SQLite), else a lookup by its number. */
  ref: string;
}

interface BatchState {
  skus: Map<number, { price: number; stock: number; enabled: boolean }>;
  /** Wallet accounts by user id. */
  wallets: Map<number, { id: number; balance: number }>;
  buyers: Map<number, { spent: number; levelId: number | null; amount: number }>;
  keys: Map<number, PickedKey[]>;
  /** SQLite: the id the next order gets (the write lock is held, so nobody else takes it). */
  nextOrderId: number | null;
}

const list = (tx: RawTx, values: Literal[]) => `(${values.map((v) => tx.lit(v)).join(', ')})`;

/** `CASE id WHEN … THEN … END`, for statements that set each row differently. */
const caseOf = (tx: RawTx, pairs: Array<[number, string]>) => `CASE id ${pairs.map(([id, sql]) => `WHEN ${tx.lit(id)} THEN ${sql}`).join(' ')} END`;

/** Multi-row INSERTs of rows with the same columns, 200 rows a statement. */
function insertRows(tx: RawTx, table: string, rows: Array<Record<string, Literal | { sql: string }>>, opts: { ignoreDuplicates?: boolean } = {}): Step[] {
  if (!rows.length) return [];
  const columns = Object.keys(rows[0]!);
  const steps: Step[] = [];
  for (let i = 0; i < rows.length; i += 200) {
    const values = rows.slice(i, i + 200).map((r) => `(${columns.map((c) => { const v = r[c]; return typeof v === 'object' && v !== null ? v.sql : tx.lit(v); }).join(', ')})`);
    const head = opts.ignoreDuplicates && tx.dialect === 'mysql' ? 'INSERT IGNORE INTO' : 'INSERT INTO';
    const tail = opts.ignoreDuplicates && tx.dialect === 'sqlite' ? ' ON CONFLICT DO NOTHING' : '';
    steps.push({ sql: `${head} ${table} (${columns.join(', ')}) VALUES ${values.join(', ')}${tail}` });
  }
  return steps;
}

async function readState(deps: Deps, tx: RawTx, batch: PlacedOrder[], lifts: boolean): Promise<BatchState> {
  const lock = tx.dialect === 'mysql' ? ' FOR UPDATE' : '';
  const buyerIds = [...new Set(batch.map((o) => o.userId!))];
  // Agents earning a margin are credited in the same transaction: their wallets too.
  const userIds = [...new Set([...buyerIds, ...batch.flatMap((o) => o.margins.map((m) => m.agentId))])];
  const units = new Map<number, number>();
  for (const o of batch) if (o.productType === 'card') units.set(o.skuId, (units.get(o.skuId) ?? 0) + o.quantity);
  const skuIds = [...new Set(batch.map((o) => o.skuId))];
  const walletsOf = () => tx.all<{ id: number; user_id: number; balance: number }>(`SELECT id, user_id, balance FROM accounts WHERE code IN ${list(tx, userIds.map(walletCode))} ORDER BY id${lock}`);
  const [skuRows, walletRows, buyerRows, keyRows, seq] = await Promise.all([
    tx.all<{ id: number; price: number; stock: number; enabled: number }>(`SELECT id, price, stock, enabled FROM skus WHERE id IN ${list(tx, skuIds)}${lock}`),
    walletsOf(),
    lifts ? tx.all<{ id: number; spend_total: number; level_id: number | null }>(`SELECT id, spend_total, level_id FROM users WHERE id IN ${list(tx, buyerIds)}${lock}`) : null,
    Promise.all(
      [...units].map(([skuId, n]) =>
        tx.all<{ id: number; secret: string }>(
          `SELECT id, secret FROM card_keys WHERE sku_id = ${tx.lit(skuId)} AND status = 'available' ORDER BY id LIMIT ${tx.lit(n)}${tx.dialect === 'mysql' ? ' FOR UPDATE SKIP LOCKED' : ''}`,
        ),
      ),
    ),
    tx.dialect === 'sqlite' ? tx.all<{ seq: number }>(`SELECT seq FROM sqlite_sequence WHERE name = 'orders'`) : null,
  ]);
  const state: BatchState = {
    skus: new Map(skuRows.map((r) => [Number(r.id), { price: Number(r.price), stock: Number(r.stock), enabled: Boolean(r.enabled) }])),
    wallets: new Map(walletRows.map((r) => [Number(r.user_id), { id: Number(r.id), balance: Number(r.balance) }])),
    buyers: new Map(buyerIds.map((id) => [id, { spent: 0, levelId: null, amount: 0 }])),
    keys: new Map([...units.keys()].map((skuId, i) => [skuId, keyRows[i]!.map((r) => ({ id: Number(r.id), secret: r.secret }))])),
    nextOrderId: seq ? Number(seq[0]?.seq ?? 0) + 1 : null,
  };
  for (const r of buyerRows ?? []) state.buyers.set(Number(r.id), { spent: Number(r.spend_total), levelId: r.level_id === null ? null : Number(r.level_id), amount: 0 });
  // A buyer without a wallet has nothing to pay with; an agent without one gets one for its margin.
  const agentsWithout = userIds.filter((id) => !state.wallets.has(id) && !buyerIds.includes(id));
  if (agentsWithout.length) {
    const now = deps.now();
    const currency = deps.config.shop.currency;
    for (const step of insertRows(tx, 'accounts', agentsWithout.map((id) => ({ code: walletCode(id), kind: 'wallet', user_id: id, balance: 0, currency, created_at: now })), { ignoreDuplicates: true })) await tx.run(step.sql);
    for (const r of await walletsOf()) state.wallets.set(Number(r.user_id), { id: Number(r.id), balance: Number(r.balance) });
  }
  return state;
}

/** Decides each order against the figures read, in arrival order; returns those accepted. */
function decide(tx: RawTx, batch: PlacedOrder[], state: BatchState, outcomes: Array<Outcome<CheckoutResult>>, now: number): Accepted[] {
  const accepted: Accepted[] = [];
  let nextId = state.nextOrderId;
  for (const [index, order] of batch.entries()) {
    const sku = state.skus.get(order.skuId);
    const wallet = state.wallets.get(order.userId!);
    const counted = order.productType === 'card';
    if (!sku?.enabled) outcomes[index] = errors.notFound('error.sku_not_found');
    else if (sku.price !== order.retail) outcomes[index] = new ShopError('price_changed', 409, 'error.price_changed');
    else if (counted && sku.stock < order.quantity) outcomes[index] = errors.outOfStock(sku.stock);
    else if (!wallet || wallet.balance < order.amount) outcomes[index] = errors.insufficientBalance();
    else {
      if (counted) sku.stock -= order.quantity;
      wallet.balance -= order.amount;
      state.buyers.get(order.userId!)!.amount += order.amount;
      const no = newOrderNo(now);
      accepted.push({ index, order, no, token: randomToken(24), ref: nextId === null ? `(SELECT id FROM orders WHERE no = ${tx.lit(no)})` : String(nextId++) });
    }
  }
  return accepted;
}

/** Every write of the batch, in the order the database must run them. */
function writes(deps: Deps, tx: RawTx, state: BatchState, accepted: Accepted[], revenue: number, lifted: Array<[number, number]>, now: number) {
  const steps: Step[] = [];
  const sold = new Map<number, { units: number; reserved: number; counted: boolean }>();
  const debits = new Map<number, number>();
  for (const { order } of accepted) {
    const counted = order.productType === 'card';
    const s = sold.get(order.skuId) ?? { units: 0, reserved: 0, counted };
    s.units += order.quantity;
    if (counted && order.review) s.reserved += order.quantity;
    sold.set(order.skuId, s);
    const wallet = state.wallets.get(order.userId!)!.id;
    debits.set(wallet, (debits.get(wallet) ?? 0) + order.amount);
  }

  // Stock, wallets and spend first: the statements that may find a row moved.
  for (const [skuId, s] of sold) {
    // Units held for review leave the stock now but count as sold only once delivered.
    const stock = s.counted ? `stock = stock - ${tx.lit(s.units)}, ` : '';
    steps.push({ sql: `UPDATE skus SET ${stock}sold = sold + ${tx.lit(s.units - s.reserved)} WHERE id = ${tx.lit(skuId)}${s.counted ? ` AND stock >= ${tx.lit(s.units)}` : ''}`, expect: 1 });
  }
  const debit = caseOf(tx, [...debits].map(([id, amount]) => [id, tx.lit(amount)]));
  steps.push({ sql: `UPDATE accounts SET balance = balance - ${debit} WHERE id IN ${list(tx, [...debits.keys()])} AND balance >= ${debit}`, expect: debits.size });
  const spenders = [...state.buyers].filter(([, b]) => b.amount > 0);
  const levels = lifted.length ? `, level_id = CASE id ${lifted.map(([id, level]) => `WHEN ${tx.lit(id)} THEN ${tx.lit(level)}`).join(' ')} ELSE level_id END` : '';
  steps.push({ sql: `UPDATE users SET spend_total = spend_total + ${caseOf(tx, spenders.map(([id, b]) => [id, tx.lit(b.amount)]))}${levels} WHERE id IN ${list(tx, spenders.map(([id]) => id))}` });

  steps.push(
    ...insertRows(
      tx,
      'orders',
      accepted.map((a) => ({
        ...(state.nextOrderId === null ? {} : { id: Number(a.ref) }),
        ...orderRow(deps, a, now),
        // A card order held for review keeps its keys reserved until an admin decides.
        reserved: a.order.productType === 'card' && a.order.review ? a.order.quantity : 0,
      })),
    ),
  );

  // Keys, oldest first, to the orders in arrival order; held orders' keys only reserved.
  const keys = new Map<Accepted, PickedKey[]>();
  for (const [skuId, s] of sold) {
    if (!s.counted) continue;
    const picked = state.keys.get(skuId) ?? [];
    if (picked.length < s.units) throw new Error(`stock counter of sku ${skuId} is ahead of its keys (${picked.length} < ${s.units})`);
    let at = 0;
    for (const a of accepted) if (a.order.skuId === skuId) keys.set(a, picked.slice(at, (at += a.order.quantity)));
  }
  for (const held of [false, true]) {
    const claims = [...keys].filter(([a]) => Boolean(a.order.review) === held).flatMap(([a, ks]) => ks.map((k): [number, string] => [k.id, a.ref]));
    if (!claims.length) continue;
    const status = held ? `'reserved', sold_at = NULL` : `'sold', sold_at = ${tx.lit(now)}`;
    steps.push({ sql: `UPDATE card_keys SET status = ${status}, order_id = ${caseOf(tx, claims)} WHERE id IN ${list(tx, claims.map(([id]) => id))} AND status = 'available'`, expect: claims.length });
  }

  // A delivered order (a card in stock) pays its agents their margins in the same journal
  // transaction as the sale; an order delivered later pays them then (pricing/margins.ts).
  const credits = new Map<number, number>();
  const journal: Array<JournalTxn & { ref: string }> = accepted.map((a) => {
    const shares = deliveredAtOnce(a.order) ? a.order.margins.filter((m) => m.amount > 0) : [];
    const entries = [
      { accountId: state.wallets.get(a.order.userId!)!.id, amount: -a.order.amount },
      { accountId: revenue, amount: a.order.amount - shares.reduce((sum, m) => sum + m.amount, 0) },
      ...shares.map((m) => ({ accountId: state.wallets.get(m.agentId)!.id, amount: m.amount })),
    ];
    // The wallet was debited above; the other side is credited below, in one statement.
    for (const e of entries.slice(1)) credits.set(e.accountId, (credits.get(e.accountId) ?? 0) + e.amount);
    return { id: `order:${a.no}:pay`, kind: 'purchase', ref: a.ref, entries };
  });
  steps.push(...insertRows(tx, 'journal_transactions', journal.map((t) => ({ id: t.id, kind: t.kind, order_id: { sql: t.ref }, memo: null, actor_id: null, created_at: now }))));
  steps.push(...insertRows(tx, 'journal_entries', journal.flatMap((t) => t.entries.map((e) => ({ txn_id: t.id, account_id: e.accountId, amount: e.amount, created_at: now })))));
  const credited = [...credits].filter(([, amount]) => amount !== 0);
  if (credited.length) {
    steps.push({ sql: `UPDATE accounts SET balance = balance + ${caseOf(tx, credited.map(([id, amount]) => [id, tx.lit(amount)]))} WHERE id IN ${list(tx, credited.map(([id]) => id))}` });
  }
  steps.push(
    ...insertRows(
      tx,
      'order_margins',
      accepted.flatMap((a) => marginRows(0, a.order.amount, a.order.margins, deliveredAtOnce(a.order), now).map((m) => ({ ...m, order_id: { sql: a.ref } }))),
    ),
  );
  // Orders not delivered here are delivered by a worker: their job commits with the payment (held
  // for review: it waits for an admin); cards delivered here with a callback URL get their webhook.
  const jobs = accepted.flatMap((a): Array<NewJob & { ref: string; orderRef: string }> => {
    const order = { id: 0, no: a.no, callback_url: a.order.api?.callbackUrl ?? null };
    const made = deliveredAtOnce(a.order) ? webhookJobs(order, 'order.delivered') : [{ ...deliveryJob(order), held: Boolean(a.order.review) }];
    return made.map((j) => ({ ...j, orderRef: a.ref }));
  });
  steps.push(
    ...insertRows(
      tx,
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

/** Commits a batch of wallet checkouts (see the top of this file). */
export async function commitBatch(deps: Deps, batch: PlacedOrder[]): Promise<BatchOutcome> {
  const revenue = await systemAccountId(deps, deps.db.read, SYSTEM_ACCOUNTS.revenue);
  const pricing = await pricingSnapshot(deps);
  // The buyers' spend and level matter only where a level is reached by spending.
  const lifts = pricing.levels.some((l) => l.upgradeSpend !== null);
  let lifted: Array<[number, number]> = [];
  const result = await rawTransaction(deps.db, async (tx) => {
    const now = deps.now();
    const outcomes: Array<Outcome<CheckoutResult>> = new Array(batch.length);
    const state = await readState(deps, tx, batch, lifts);
    const accepted = decide(tx, batch, state, outcomes, now);
    if (!accepted.length) return { outcomes, jobs: false };
    lifted = lifts ? levelLifts(pricing, new Map([...state.buyers].filter(([, b]) => b.amount > 0))) : [];
    const { steps, keys, jobs } = writes(deps, tx, state, accepted, revenue, lifted, now);
    await tx.commit(steps);
    const ids = state.nextOrderId === null ? await orderIds(tx, accepted.map((a) => a.no)) : new Map(accepted.map((a) => [a.no, Number(a.ref)]));
    for (const a of accepted) {
      const status = deliveredAtOnce(a.order) ? 'delivered' : 'paid';
      const delivered: CardKey[] = status === 'delivered' ? (keys.get(a) ?? []).map((k) => openKey(deps, k.secret)) : [];
      outcomes[a.index] = { token: a.token, order: newOrderView(deps, a.order, { id: ids.get(a.no)!, no: a.no, status, now, keys: delivered }) };
    }
    return { outcomes, jobs: jobs > 0 };
  });
  // A buyer lifted to a better level pays its new prices from its next order on.
  if (lifted.length) invalidatePricing(deps);
  return result;
}

/** The ids the database gave the orders (MySQL, where other processes insert orders too). */
async function orderIds(tx: RawTx, nos: string[]): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  for (let i = 0; i < nos.length; i += 500) {
    for (const r of await tx.all<{ id: number; no: string }>(`SELECT id, no FROM orders WHERE no IN ${list(tx, nos.slice(i, i + 500))}`)) ids.set(r.no, Number(r.id));
  }
  return ids;
}
