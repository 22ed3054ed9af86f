import type { Knex } from 'knex';

/** Time the chain's clock and ours may disagree by. */
export const SKEW_MS = 60_000;

export type PaymentStatus = 'open' | 'paid' | 'kept' | 'review';

export interface PaymentRow {
  id: number;
  orderNo: string;
  gateway: string;
  address: string;
  amount: bigint;
  fen: number;
  rate: bigint;
  createdAt: number;
  expiresAt: number;
  holdUntil: number;
  status: PaymentStatus;
  txId: string | null;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const toPayment = (r: any): PaymentRow => ({
  id: Number(r.id),
  orderNo: r.order_no,
  gateway: r.gateway,
  address: r.address,
  amount: BigInt(r.amount_micro),
  fen: Number(r.amount_fen),
  rate: BigInt(r.rate_micro),
  createdAt: Number(r.created_at),
  expiresAt: Number(r.expires_at),
  holdUntil: Number(r.hold_until),
  status: r.status,
  txId: r.tx_id,
});

const isMysql = (db: Knex) => /mysql/.test(String(db.client.config.client));

function isRetryable(err: unknown): boolean {
  const e = err as { code?: string; errno?: number; message?: string };
  return e?.code === 'ER_LOCK_DEADLOCK' || e?.code === 'ER_LOCK_WAIT_TIMEOUT' || e?.code === 'SQLITE_BUSY' || /database is locked/.test(e?.message ?? '');
}

export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === 'ER_DUP_ENTRY' || (e?.code === 'SQLITE_CONSTRAINT' && /UNIQUE|PRIMARY KEY/.test(e.message ?? ''));
}

/** A transaction run again on a deadlock or lock timeout (nothing it did survives a rollback). */
export async function inTransaction<T>(db: Knex, work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction(work);
    } catch (err) {
      if (!isRetryable(err) || attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * 20 * attempt));
    }
  }
}

export async function ensureAddresses(db: Knex, addresses: string[]): Promise<void> {
  for (const address of addresses) await db('usdt_addresses').insert({ address, cursor_ts: 0 }).onConflict('address').ignore();
}

export class NoFreeAmount extends Error {
  override name = 'NoFreeAmount';
}

/**
 * Reserves the smallest amount from `base` up (in `step`s, at most `maxSteps`) that no other order
 * holds on one of `addresses`, trying every address at each amount before the next, and records the
 * order's payment. The address rows are locked first, so parallel orders (any app process) take
 * amounts one after another; the unique `slot` index is the guarantee behind that. Amounts whose
 * hold has passed are freed here.
 */
export async function allocate(
  db: Knex,
  input: { orderNo: string; gateway: string; addresses: string[]; base: bigint; step: bigint; maxSteps: number; fen: number; rate: bigint; now: number; expiresAt: number; holdUntil: number },
): Promise<PaymentRow> {
  return inTransaction(db, async (trx) => {
    const lock = trx('usdt_addresses').whereIn('address', input.addresses).orderBy('address').select('address');
    await (isMysql(db) ? lock.forUpdate() : lock);
    // Free amounts only once no transfer made before their hold ended can still be on its way, and
    // so late that no transfer's time (give or take the skew) can fall in the old window and the new.
    await trx('usdt_payments').whereNotNull('slot').andWhere('hold_until', '<', input.now - 2 * SKEW_MS).update({ slot: null });
    const top = input.base + input.step * BigInt(input.maxSteps - 1);
    const taken = new Set(
      (
        await trx('usdt_payments')
          .whereNotNull('slot')
          .whereIn('address', input.addresses)
          .whereBetween('amount_micro', [input.base.toString(), top.toString()])
          .select('slot')
      ).map((r: { slot: string }) => r.slot),
    );
    for (let k = 0; k < input.maxSteps; k++) {
      const amount = input.base + input.step * BigInt(k);
      const address = input.addresses.find((a) => !taken.has(`${a}:${amount}`));
      if (!address) continue;
      const row = {
        order_no: input.orderNo,
        gateway: input.gateway,
        address,
        amount_micro: amount.toString(),
        amount_fen: input.fen,
        rate_micro: input.rate.toString(),
        created_at: input.now,
        expires_at: input.expiresAt,
        hold_until: input.holdUntil,
        slot: `${address}:${amount}`,
        status: 'open',
      };
      await trx('usdt_payments').insert(row);
      return toPayment({ id: 0, tx_id: null, ...row });
    }
    throw new NoFreeAmount(`every amount from ${input.base} to ${top} micro-USDT is held on ${input.addresses.length} address(es)`);
  });
}

export async function paymentOf(db: Knex, orderNo: string): Promise<PaymentRow | undefined> {
  const row = await db('usdt_payments').where('order_no', orderNo).first();
  return row ? toPayment(row) : undefined;
}

/** Payments whose window (with the skew either side) contains `at` on `address`: the candidates for a transfer. */
export async function paymentsAround(db: Knex, address: string, at: number): Promise<PaymentRow[]> {
  const rows = await db('usdt_payments')
    .where('address', address)
    .andWhere('created_at', '<=', at + SKEW_MS)
    .andWhere('hold_until', '>=', at - SKEW_MS)
    .orderBy('id');
  return rows.map(toPayment);
}

/** The earliest a still-held payment began: where a watcher with no cursor starts reading. */
export async function oldestHeld(db: Knex, address: string, now: number): Promise<number | null> {
  const row = await db('usdt_payments').where('address', address).andWhere('hold_until', '>=', now - SKEW_MS).min({ at: 'created_at' }).first();
  return row?.at == null ? null : Number(row.at);
}

export async function cursorOf(db: Knex, address: string): Promise<number> {
  const row = await db('usdt_addresses').where('address', address).first('cursor_ts');
  return Number(row?.cursor_ts ?? 0);
}

export async function advanceCursor(db: Knex, address: string, to: number): Promise<void> {
  await db('usdt_addresses').where('address', address).andWhere('cursor_ts', '<', to).update({ cursor_ts: to });
}

export interface TransferRow {
  txId: string;
  address: string;
  sender: string;
  amount: bigint;
  blockTs: number;
  orderNo: string | null;
  outcome: 'paid' | 'late' | 'short' | 'over' | 'extra' | 'unmatched';
  /** `closed`: it was under review, and its order has been paid since (by hand, or by another transfer). */
  action: 'paid' | 'kept' | 'review' | 'closed';
  settled: boolean;
  note: string | null;
  seenAt: number;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const toTransfer = (r: any): TransferRow => ({
  txId: r.tx_id,
  address: r.address,
  sender: r.sender,
  amount: BigInt(r.amount_micro),
  blockTs: Number(r.block_ts),
  orderNo: r.order_no,
  outcome: r.outcome,
  action: r.action,
  settled: Boolean(r.settled),
  note: r.note,
  seenAt: Number(r.seen_at),
});

/**
 * Records a transfer and what it does to its payment, in one transaction: false if the
 * transfer was recorded before (another scan, another app process), and then nothing changes. A
 * payment takes one transfer only (`tx_id` is set where it is still null).
 */
export async function recordTransfer(db: Knex, t: Omit<TransferRow, 'settled'>, payment: { id: number; status: PaymentStatus } | null): Promise<boolean> {
  try {
    return await inTransaction(db, async (trx) => {
      if (payment) {
        const n = await trx('usdt_payments').where('id', payment.id).whereNull('tx_id').update({ status: payment.status, tx_id: t.txId });
        if (!n) throw new PaymentTaken();
      }
      await trx('usdt_transfers').insert({
        tx_id: t.txId,
        address: t.address,
        sender: t.sender.slice(0, 64),
        amount_micro: t.amount.toString(),
        block_ts: t.blockTs,
        order_no: t.orderNo,
        outcome: t.outcome,
        action: t.action,
        settled: t.action === 'review',
        note: t.note?.slice(0, 255) ?? null,
        seen_at: t.seenAt,
      });
      return true;
    });
  } catch (err) {
    if (isUniqueViolation(err)) return false;
    throw err;
  }
}

/** Another transfer took the payment between the read and the write: the caller looks again. */
export class PaymentTaken extends Error {
  override name = 'PaymentTaken';
}

export async function isRecorded(db: Knex, txId: string): Promise<boolean> {
  return Boolean(await db('usdt_transfers').where('tx_id', txId).first('tx_id'));
}

export async function unsettled(db: Knex, limit = 50): Promise<TransferRow[]> {
  return (await db('usdt_transfers').where('settled', false).orderBy('seen_at').limit(limit)).map(toTransfer);
}

/** The order was paid (an admin's 补单, another transfer): its transfers under review need no one any more. */
export async function resolvedByHand(db: Knex, orderNo: string): Promise<void> {
  await db('usdt_transfers').where({ order_no: orderNo, action: 'review' }).update({ action: 'closed' });
}

export async function markSettled(db: Knex, txId: string): Promise<void> {
  await db('usdt_transfers').where('tx_id', txId).update({ settled: true });
}

export async function recentTransfers(db: Knex, opts: { review?: boolean; limit?: number } = {}): Promise<TransferRow[]> {
  const q = db('usdt_transfers').orderBy('seen_at', 'desc').limit(opts.limit ?? 100);
  if (opts.review) q.where('action', 'review');
  return (await q).map(toTransfer);
}

export async function openPayments(db: Knex, now: number, limit = 100): Promise<PaymentRow[]> {
  return (await db('usdt_payments').where('status', 'open').andWhere('hold_until', '>=', now).orderBy('id', 'desc').limit(limit)).map(toPayment);
}
