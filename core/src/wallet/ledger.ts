import type { Knex } from 'knex';
import { audit } from '../audit/audit.js';
import type { Deps } from '../context.js';
import type { Database } from '../db/connect.js';
import { affected, transaction } from '../db/dialect.js';
import { errors } from '../errors.js';

/**
 * The double-entry ledger. Every balance change is a journal transaction whose entries sum to
 * zero; `accounts.balance` is a running total kept in the same database transaction, and
 * `verifyLedger` recomputes it from the journal.
 *
 * Sign convention: an entry's amount is added to its account's balance. A user's wallet is a
 * liability of the shop, so money the buyer spends leaves the wallet (negative) and arrives at
 * platform revenue (positive).
 */

export const SYSTEM_ACCOUNTS = {
  revenue: 'platform:revenue',
  /** The other side of admin credits and debits (owner's equity). */
  adjustments: 'platform:adjustments',
  /** Money received for orders that could not be served and is owed back to a guest. */
  refundsDue: 'platform:refunds_due',
  /** What the shop pays agents as monthly volume rebates (an expense). */
  rebates: 'platform:rebates',
  /** Money paid out to users' bank or Alipay accounts on their withdrawals. */
  payouts: 'platform:payouts',
} as const;

export const walletCode = (userId: number) => `wallet:${userId}`;

export interface Entry {
  accountId: number;
  amount: number;
}

export type JournalKind = 'purchase' | 'topup' | 'refund' | 'late_payment' | 'admin_credit' | 'admin_debit' | 'margin' | 'margin_reversal' | 'rebate' | 'upgrade' | 'supplier_cost' | 'withdrawal' | 'payout' | 'withdrawal_refused';

export interface JournalTxn {
  /** Deterministic id, e.g. `order:<no>:pay`: the primary key makes each movement happen once. */
  id: string;
  kind: JournalKind;
  orderId?: number | null;
  memo?: string | null;
  actorId?: number | null;
  entries: Entry[];
}

async function accountId(deps: Deps, trx: Knex, code: string, kind: string, userId?: number): Promise<number> {
  const found = await trx('accounts').where('code', code).first('id');
  if (found) return Number(found.id);
  await trx('accounts')
    .insert({ code, kind, user_id: userId ?? null, balance: 0, currency: deps.config.shop.currency, created_at: deps.now() })
    .onConflict('code')
    .ignore();
  // A locking read sees a row another MySQL transaction committed after our snapshot began.
  const q = trx('accounts').where('code', code).first('id');
  const row = await (deps.db.dialect === 'mysql' ? q.forShare() : q);
  return Number(row.id);
}

/** Creates the platform's own accounts; run after migrations, before the shop takes orders. */
export async function ensureSystemAccounts(db: Database, currency: string, now = Date.now()): Promise<void> {
  await db
    .knex('accounts')
    .insert(Object.values(SYSTEM_ACCOUNTS).map((code) => ({ code, kind: 'platform', balance: 0, currency, created_at: now })))
    .onConflict('code')
    .ignore();
}

// The platform's accounts exist before any order (ensureSystemAccounts) and their ids never
// change, so they are looked up once per process.
const systemIds = new WeakMap<Database, Map<string, number>>();

export async function systemAccountId(deps: Deps, trx: Knex, code: string): Promise<number> {
  const cache = systemIds.get(deps.db) ?? new Map<string, number>();
  systemIds.set(deps.db, cache);
  let id = cache.get(code);
  if (id === undefined) {
    const row = await trx('accounts').where('code', code).first('id');
    if (!row) throw new Error(`account ${code} is missing: run the migrations first`);
    cache.set(code, (id = Number(row.id)));
  }
  return id;
}

/** The clearing account of a payment gateway: what it has collected for us. */
export function gatewayAccountId(deps: Deps, trx: Knex, gatewayId: string): Promise<number> {
  return accountId(deps, trx, `gateway:${gatewayId}`, 'gateway');
}

/** What the shop has paid a supplier for the goods it delivered (the cost of goods sold). */
export function supplierAccountId(deps: Deps, trx: Knex, supplierId: string): Promise<number> {
  return accountId(deps, trx, `supplier:${supplierId}`, 'supplier');
}

export function walletAccountId(deps: Deps, trx: Knex, userId: number): Promise<number> {
  return accountId(deps, trx, walletCode(userId), 'wallet', userId);
}

/** A user's money set aside for a withdrawal until it is paid out or refused. */
export function holdAccountId(deps: Deps, trx: Knex, userId: number): Promise<number> {
  return accountId(deps, trx, `hold:${userId}`, 'hold', userId);
}

function assertBalanced(txns: JournalTxn[]): void {
  for (const t of txns) {
    if (t.entries.reduce((s, e) => s + e.amount, 0) !== 0) throw new Error(`journal ${t.id} does not balance`);
  }
}

/** Inserts the journal rows, in multi-row statements. Balances are moved by `applyBalances`. */
export async function recordJournal(deps: Deps, trx: Knex, txns: JournalTxn[]): Promise<void> {
  assertBalanced(txns);
  const now = deps.now();
  await trx.batchInsert(
    'journal_transactions',
    txns.map((t) => ({ id: t.id, kind: t.kind, order_id: t.orderId ?? null, memo: t.memo ?? null, actor_id: t.actorId ?? null, created_at: now })),
    200,
  );
  await trx.batchInsert(
    'journal_entries',
    txns.flatMap((t) => t.entries.map((e) => ({ txn_id: t.id, account_id: e.accountId, amount: e.amount, created_at: now }))),
    200,
  );
}

/**
 * Adds each entry to its account's balance, one UPDATE per account. Debits of wallets are
 * conditional (`balance >= x`), so a wallet never goes negative whatever runs in parallel; one
 * that does not fit throws `insufficient_balance` and the caller's transaction rolls back.
 */
export async function applyBalances(trx: Knex, entries: Entry[], walletIds: Set<number>): Promise<void> {
  const delta = new Map<number, number>();
  for (const e of entries) delta.set(e.accountId, (delta.get(e.accountId) ?? 0) + e.amount);
  // A fixed order of row updates keeps two MySQL transactions from deadlocking on each other.
  for (const [id, amount] of [...delta].sort((a, b) => a[0] - b[0])) {
    if (amount === 0) continue;
    const q = trx('accounts').where('id', id);
    if (amount < 0 && walletIds.has(id)) q.andWhere('balance', '>=', -amount);
    if (affected(await q.increment('balance', amount)) !== 1) throw errors.insufficientBalance();
  }
}

/** Records journal transactions and moves their balances, inside the caller's transaction. */
export async function postJournal(deps: Deps, trx: Knex, txns: JournalTxn[], walletIds: Set<number>): Promise<void> {
  if (deps.db.dialect === 'mysql') {
    // The journal rows' foreign keys share-lock their accounts, and the balance UPDATEs then need
    // the write lock: two postings to one account (revenue) would deadlock on that upgrade. Taking
    // the write locks first, in id order, makes them queue instead.
    const ids = [...new Set(txns.flatMap((t) => t.entries.map((e) => e.accountId)))].sort((a, b) => a - b);
    await trx('accounts').whereIn('id', ids).orderBy('id').forUpdate().select('id');
  }
  await recordJournal(deps, trx, txns);
  await applyBalances(trx, txns.flatMap((t) => t.entries), walletIds);
}

/** A user's wallet movements, newest first: what each journal transaction did to the balance. */
export async function walletHistory(deps: Deps, userId: number, opts: { limit?: number; beforeId?: number } = {}) {
  const q = deps.db
    .read('journal_entries as e')
    .join('accounts as a', 'a.id', 'e.account_id')
    .join('journal_transactions as t', 't.id', 'e.txn_id')
    .where('a.code', walletCode(userId))
    .orderBy('e.id', 'desc')
    .limit(Math.min(opts.limit ?? 50, 200))
    .select('e.id', 'e.amount', 'e.created_at', 't.kind', 't.memo', 't.id as txn');
  if (opts.beforeId) q.andWhere('e.id', '<', opts.beforeId);
  const rows = await q;
  return rows.map((r: Record<string, any>) => ({
    id: Number(r.id),
    amount: Number(r.amount),
    kind: r.kind as JournalKind,
    memo: (r.memo ?? null) as string | null,
    /** The order number for order movements (`order:<no>:…`). */
    orderNo: /^order:([^:]+):/.exec(r.txn)?.[1] ?? null,
    createdAt: Number(r.created_at),
  }));
}

export async function balanceOf(deps: Deps, userId: number): Promise<number> {
  const row = await deps.db.read('accounts').where('code', walletCode(userId)).first('balance');
  return row ? Number(row.balance) : 0;
}

/** An admin's credit (positive) or debit (negative) of a user's wallet, with a reason. */
export async function adjustWallet(
  deps: Deps,
  input: { userId: number; amount: number; reason: string; actorId?: number | null; ref?: string; ip?: string },
): Promise<{ txnId: string; balance: number }> {
  if (!Number.isSafeInteger(input.amount) || input.amount === 0) {
    throw errors.validation({ amount: 'field.invalid' });
  }
  if (!input.reason.trim()) throw errors.validation({ reason: 'field.required' });
  const txnId = input.ref ?? `adjust:${input.userId}:${deps.now()}:${Math.random().toString(36).slice(2, 10)}`;
  const result = await transaction(deps.db, async (trx) => {
    const user = await trx('users').where('id', input.userId).first('id');
    if (!user) throw errors.notFound();
    const wallet = await walletAccountId(deps, trx, input.userId);
    const equity = await systemAccountId(deps, trx, SYSTEM_ACCOUNTS.adjustments);
    await postJournal(
      deps,
      trx,
      [
        {
          id: txnId,
          kind: input.amount > 0 ? 'admin_credit' : 'admin_debit',
          memo: input.reason.slice(0, 255),
          actorId: input.actorId ?? null,
          entries: [
            { accountId: wallet, amount: input.amount },
            { accountId: equity, amount: -input.amount },
          ],
        },
      ],
      new Set([wallet]),
    );
    const row = await trx('accounts').where('id', wallet).first('balance');
    // An admin's adjustment is audited with it; the shop's own (tests, scripts) has no actor.
    if (input.actorId) {
      await audit(deps, trx, {
        actorId: input.actorId,
        action: 'wallet.adjust',
        targetType: 'user',
        targetId: input.userId,
        before: { balance: Number(row.balance) - input.amount },
        after: { balance: Number(row.balance), amount: input.amount, reason: input.reason.slice(0, 255), txn: txnId },
        ip: input.ip,
      });
    }
    return { txnId, balance: Number(row.balance) };
  });
  if (input.amount > 0) deps.hooks.emit('wallet.credited', { userId: input.userId, amount: input.amount, ...result, reason: input.reason });
  return result;
}

export interface LedgerReport {
  accounts: number;
  transactions: number;
  /** Accounts whose stored balance differs from the sum of their entries. */
  drift: Array<{ code: string; balance: number; journal: number }>;
  /** Journal transactions whose entries do not sum to zero. */
  unbalanced: Array<{ id: string; sum: number }>;
  /** Wallets below zero. */
  negative: Array<{ code: string; balance: number }>;
  ok: boolean;
}

/**
 * Recomputes every balance from the journal. The aggregates run in the database, inside one read
 * transaction, so a shop taking orders meanwhile cannot make balances and journal disagree.
 */
export async function verifyLedger(deps: Deps): Promise<LedgerReport> {
  type Sum = { key: number | string; total: unknown };
  const [accounts, sums, unbalancedRows, count] = await deps.db.read.transaction(async (trx) => [
    await trx('accounts').select('id', 'code', 'kind', 'balance'),
    (await trx('journal_entries').select({ key: 'account_id' }).sum({ total: 'amount' }).groupBy('account_id')) as Sum[],
    (await trx('journal_entries')
      .select({ key: 'txn_id' })
      .sum({ total: 'amount' })
      .groupBy('txn_id')
      .havingRaw('SUM(amount) <> 0')) as Sum[],
    await trx('journal_transactions').count({ n: '*' }).first(),
  ] as const);
  const journal = new Map(sums.map((r) => [Number(r.key), Number(r.total)]));
  const drift: LedgerReport['drift'] = [];
  const negative: LedgerReport['negative'] = [];
  for (const a of accounts as Array<{ id: number; code: string; kind: string; balance: unknown }>) {
    const balance = Number(a.balance);
    const expected = journal.get(Number(a.id)) ?? 0;
    if (balance !== expected) drift.push({ code: a.code, balance, journal: expected });
    if (a.kind === 'wallet' && balance < 0) negative.push({ code: a.code, balance });
  }
  const unbalanced = unbalancedRows.map((r) => ({ id: String(r.key), sum: Number(r.total) }));
  return {
    accounts: accounts.length,
    transactions: Number(count?.n ?? 0),
    drift,
    unbalanced,
    negative,
    ok: !drift.length && !unbalanced.length && !negative.length,
  };
}

