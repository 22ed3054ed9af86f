import type { Knex } from 'knex';
import type { CreatePaymentInput, Logger, PaymentAction, PaymentGateway, PluginContext, QueryResult } from '@cardshop/core';
import { fenFor, formatMicro, parseMicro, placesOf, usdtFor } from './amounts.js';
import type { rateKeeper } from './rate.js';
import type { Policy, UsdtSettings } from './settings.js';
import {
  advanceCursor,
  allocate,
  cursorOf,
  isRecorded,
  markSettled,
  oldestHeld,
  paymentOf,
  paymentsAround,
  PaymentTaken,
  recordTransfer,
  SKEW_MS,
  unsettled,
  type PaymentRow,
  type TransferRow,
} from './store.js';
import type { ChainWatcher, IncomingTransfer } from './watcher.js';

/** How long a confirmed transfer may take to reach the order (TRON solidifies in about a minute; then a poll). */
const CONFIRM_MARGIN_MS = 2 * 60_000;

/** A watcher reads this far back past its cursor again (an indexer may list a transfer late); transaction ids keep it at once. */
const OVERLAP_MS = 10 * 60_000;

export interface EngineDeps {
  db: Knex;
  settings: UsdtSettings;
  log: Logger;
  watcher: ChainWatcher;
  rates: ReturnType<typeof rateKeeper>;
  payments: PluginContext<unknown>['payments'];
  now?: () => number;
}

export type Verdict = Pick<TransferRow, 'orderNo' | 'outcome' | 'action' | 'note'> & { payment: PaymentRow | null };

const ACTION: Record<Policy, TransferRow['action']> = { accept: 'paid', wallet: 'kept', review: 'review' };

/**
 * What a transfer is to the payments whose window holds its time: the exact amount is its order's
 * (paid in time, or late); another amount is taken for an order only when that order alone is
 * within the tolerance, else it waits for an admin. A second transfer to a paid amount is `extra`.
 */
export function judge(t: IncomingTransfer, candidates: PaymentRow[], s: UsdtSettings, places: number): Verdict {
  const usdt = (m: bigint) => `${formatMicro(m, places)} USDT`;
  const exact = candidates.filter((p) => p.amount === t.amount).at(-1);
  if (exact?.txId) {
    return { payment: null, orderNo: exact.orderNo, outcome: 'extra', action: s.mismatch === 'wallet' ? 'kept' : 'review', note: `a second transfer of ${usdt(t.amount)} (the first: ${exact.txId})` };
  }
  if (exact) {
    const late = t.timestamp > exact.expiresAt + SKEW_MS;
    const action = late ? ACTION[s.late] : 'paid';
    return { payment: exact, orderNo: exact.orderNo, outcome: late ? 'late' : 'paid', action, note: late ? `${usdt(t.amount)} arrived after the payment window` : null };
  }
  const bp = BigInt(Math.round(s.tolerancePercent * 100));
  const near = candidates.filter((p) => !p.txId && (t.amount > p.amount ? t.amount - p.amount : p.amount - t.amount) * 10_000n <= p.amount * bp);
  if (near.length !== 1) {
    return { payment: null, orderNo: null, outcome: 'unmatched', action: 'review', note: near.length ? `${usdt(t.amount)} is near ${near.length} open orders` : `${usdt(t.amount)} matches no order` };
  }
  const p = near[0]!;
  const late = t.timestamp > p.expiresAt + SKEW_MS;
  // Late and off the amount: only when both rules agree does it go either way without an admin.
  const policy: Policy = late && s.late !== s.mismatch ? 'review' : s.mismatch;
  const outcome = t.amount < p.amount ? 'short' : 'over';
  return { payment: p, orderNo: p.orderNo, outcome, action: ACTION[policy], note: `${usdt(t.amount)} received for ${usdt(p.amount)}${late ? ', after the payment window' : ''}` };
}

export function createEngine(d: EngineDeps) {
  const s = d.settings;
  const now = d.now ?? Date.now;
  const step = parseMicro(s.step)!;
  const places = placesOf(step);
  const gatewayId = s.id;

  /** The order's side of a recorded transfer: confirmed through the core, or kept for the buyer. */
  async function settle(t: TransferRow): Promise<void> {
    if (!t.orderNo || (t.action !== 'paid' && t.action !== 'kept')) return;
    try {
      if (t.action === 'paid') {
        if (!(await d.payments.confirm({ gatewayId, orderNo: t.orderNo }))) d.log.warn(`order ${t.orderNo}: transfer ${t.txId} recorded, but the order was not confirmed (see its payment page)`);
      } else {
        const payment = await paymentOf(d.db, t.orderNo);
        const fen = payment ? fenFor(t.amount, payment.rate) : 0;
        if (fen <= 0) {
          d.log.warn(`order ${t.orderNo}: transfer ${t.txId} is worth less than a fen; left for review`);
          await d.db('usdt_transfers').where('tx_id', t.txId).update({ action: 'review', settled: true });
          return;
        }
        await d.payments.keep({ gatewayId, orderNo: t.orderNo, amount: fen, tradeNo: t.txId, reason: `USDT: ${t.note ?? t.outcome}` });
      }
      await markSettled(d.db, t.txId);
    } catch (err) {
      // Recorded, so nothing is lost: the next scan tries again.
      d.log.error(`order ${t.orderNo}: transfer ${t.txId} could not be settled yet`, err);
    }
  }

  async function take(t: IncomingTransfer): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const verdict = judge(t, await paymentsAround(d.db, t.to, t.timestamp), s, places);
      const row: TransferRow = { txId: t.txId, address: t.to, sender: t.from, amount: t.amount, blockTs: t.timestamp, seenAt: now(), settled: false, ...verdict };
      const status = verdict.action === 'paid' ? 'paid' : verdict.action === 'kept' ? 'kept' : 'review';
      try {
        if (await recordTransfer(d.db, row, verdict.payment && { id: verdict.payment.id, status })) await settle(row);
        return;
      } catch (err) {
        // Another transfer took that payment meanwhile (or another process recorded this one): look again.
        if (!(err instanceof PaymentTaken)) throw err;
        if (await isRecorded(d.db, t.txId)) return;
      }
    }
    // Not recorded: the address's cursor stays, so the next scan reads this transfer again.
    throw new Error(`transfer ${t.txId}: its payment kept changing hands; will read it again`);
  }

  let running: Promise<{ seen: number }> | null = null;

  /** Reads every address once (settling transfers left unsettled first); one scan at a time in this process. */
  function scan(): Promise<{ seen: number }> {
    running ??= (async () => {
      for (const t of await unsettled(d.db)) await settle(t);
      let seen = 0;
      for (const address of s.addresses) {
        try {
          const cursor = await cursorOf(d.db, address);
          const since = cursor ? cursor - OVERLAP_MS : ((await oldestHeld(d.db, address, now())) ?? now()) - SKEW_MS;
          let newest = cursor;
          for (const t of await d.watcher.incoming({ address, since })) {
            seen++;
            if (!(await isRecorded(d.db, t.txId))) await take(t);
            newest = Math.max(newest, t.timestamp);
          }
          if (newest > cursor) await advanceCursor(d.db, address, newest);
        } catch (err) {
          d.log.warn(`reading ${address} failed; the next scan tries again`, err);
        }
      }
      return { seen };
    })().finally(() => (running = null));
    return running;
  }

  const gateway: PaymentGateway = {
    id: gatewayId,
    label: s.label,

    async createPayment(input: CreatePaymentInput): Promise<PaymentAction> {
      if (input.currency.toUpperCase() !== 'CNY') throw new Error(`usdt gateway "${gatewayId}": prices are converted from CNY, not ${input.currency}`);
      const rate = await d.rates.current();
      if (rate === null) throw new Error(`usdt gateway "${gatewayId}": no exchange rate (the rate source is stale and no fixed rate is set)`);
      const at = now();
      // The window closes a little before the order stops holding its keys: a transfer at the last
      // moment is then confirmed (about a minute on TRON, plus a poll) while the order still waits.
      const deadline = input.expiresAt === undefined ? Infinity : Math.max(input.expiresAt - CONFIRM_MARGIN_MS, at + (input.expiresAt - at) / 2);
      const expiresAt = Math.floor(Math.min(at + s.expiryMinutes * 60_000, deadline));
      const payment = await allocate(d.db, {
        orderNo: input.orderNo,
        gateway: gatewayId,
        addresses: s.addresses,
        base: usdtFor(input.amount, rate, step),
        step,
        maxSteps: s.maxSteps,
        fen: input.amount,
        rate,
        now: at,
        expiresAt,
        holdUntil: expiresAt + s.lateMinutes * 60_000,
      });
      return { kind: 'transfer', network: d.watcher.network, asset: 'USDT', address: payment.address, amount: formatMicro(payment.amount, places), expiresAt };
    },

    // The chain is read by the watcher; nothing posts to /pay/usdt/notify.
    async verifyNotify() {
      return { action: 'invalid', reason: 'usdt: payments are read from the chain, not notified', reply: { status: 404, body: 'not found' } };
    },

    async query({ orderNo }): Promise<QueryResult> {
      const p = await paymentOf(d.db, orderNo);
      if (!p) return { status: 'unknown' };
      if (p.status === 'paid' && p.txId) return { status: 'paid', amount: p.fen, tradeNo: p.txId };
      return { status: p.status === 'open' && now() <= p.holdUntil ? 'pending' : 'unknown', ...(p.txId ? { tradeNo: p.txId } : {}) };
    },

    // A transfer cannot be pulled back: the core refunds such orders to the wallet (or marks them owed).
    async refund() {
      return { status: 'failed', reason: 'a USDT transfer cannot be refunded by the gateway; refund to the wallet or by hand' };
    },
  };

  /** Waits for a scan under way (on shutdown: the database stays open until it is done). */
  const idle = async () => {
    await running?.catch(() => undefined);
  };

  return { gateway, scan, idle, places };
}
