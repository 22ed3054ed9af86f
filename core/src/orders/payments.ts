import { createHash } from 'node:crypto';
import { crashPoint } from '../crash.js';
import type { Knex } from 'knex';
import type { Deps } from '../context.js';
import { affected, ConflictRetry, forUpdateSkipLocked, isUniqueViolation, transaction } from '../db/dialect.js';
import { errors, ShopError } from '../errors.js';
import type { PaymentGateway } from '../plugins/payment.js';
import { randomToken } from '../security/keys.js';
import { balanceOf, gatewayAccountId, postJournal, SYSTEM_ACCOUNTS, systemAccountId, walletAccountId } from '../wallet/ledger.js';
import type { CheckoutResult, PlacedOrder, RequestInfo } from './checkout.js';
import { newOrderView, orderRow } from './checkout.js';
import { newOrderNo } from './numbers.js';
import { loadOrder } from './orders.js';
import { deliverCards, finishDelivery } from './deliver.js';
import { addSpend, marginRows } from '../pricing/margins.js';
import { invalidatePricing } from '../pricing/pricing.js';
import { transition } from './state.js';
import { deliveryJob, enqueueJobs } from '../delivery/jobs.js';
import { audit } from '../audit/audit.js';
import { shopBaseUrl } from './notify-check.js';
import { holdStock, releaseHolds, releaseKeys, reserveKeys, takeHolds } from './reservations.js';
import { contactKey } from './lookup.js';
import { redeemCoupon, returnCoupons } from '../coupons/coupons.js';
import { announceStuckPayment } from './stuck.js';
import { returnFlash, takeFlash } from '../pricing/flash.js';
import { returnLimits, takeLimits } from './limits.js';

/**
 * Payment through a gateway. The order waits in `pending_payment`, holding its keys for
 * `checkout.reserveMinutes` (reservations.ts: a contact, an address and a session may hold only a
 * few such orders at once); the payment, however it arrives, goes through `markPaid`, which moves
 * the money in the ledger and delivers in the same transaction.
 */

export async function placeGatewayOrder(
  deps: Deps,
  gateway: PaymentGateway,
  order: PlacedOrder,
  request?: RequestInfo,
): Promise<CheckoutResult> {
  const now = deps.now();
  const no = newOrderNo(now);
  const token = randomToken(24);
  // A card order holds its keys, so it waits for the money only so long.
  const expiresAt = order.productType === 'card' ? now + deps.config.checkout.reserveMinutes * 60_000 : undefined;
  const id = await transaction(deps.db, async (trx) => {
    const reserves = expiresAt !== undefined;
    const holds = await takeHolds(deps, trx, { contact: order.contact, ip: request?.ip, session: request?.device ?? (order.userId ? `user:${order.userId}` : null) });
    if (reserves) await holdStock(trx, order.skuId, order.quantity);
    await takeFlash(trx, order, now);
    if (order.limits) await takeLimits(trx, order.skuId, order.limits, order.quantity);
    // Before the insert, whose foreign key would share-lock the coupon's row first (as holdStock's).
    if (order.coupon) await redeemCoupon(deps, trx, order.coupon);
    const [id] = await trx('orders').insert({
      ...orderRow(deps, { order, no, token }, now, 'pending_payment'),
      ...(reserves ? { expires_at: expiresAt } : {}),
      holds: holds.length ? JSON.stringify(holds) : null,
      client_ip: request?.ip?.slice(0, 64) ?? null,
      contact_key: order.contact ? contactKey(deps, order.contact) : null,
      query_hash: order.queryHash ?? null,
    });
    if (reserves) await reserveKeys(deps, trx, { id: Number(id), no, skuId: order.skuId, quantity: order.quantity, picks: order.picks });
    // The margins are fixed now, at the price the buyer sees; credited once delivered.
    if (order.margins.length) await trx('order_margins').insert(marginRows(Number(id), order.amount, order.margins, false, now));
    return id;
  });
  const base = shopBaseUrl(deps, request?.origin);
  let payment;
  try {
    payment = await gateway.createPayment({
      orderNo: no,
      amount: order.amount,
      currency: deps.config.shop.currency,
      subject: `${order.title} ×${order.quantity}`,
      notifyUrl: `${base}/pay/${gateway.id}/notify`,
      returnUrl: `${base}/pay/${gateway.id}/return?no=${no}`,
      clientIp: request?.ip,
      ...(expiresAt ? { expiresAt } : {}),
    });
  } catch (err) {
    deps.log.error(`payment gateway ${gateway.id} could not create a payment for ${no}`, err);
    await transaction(deps.db, async (trx) => {
      if (!(await transition(trx, Number(id), 'pending_payment', 'cancelled', { reason: `gateway ${gateway.id} unavailable` }))) return;
      const row = await trx('orders').where('id', Number(id)).first('id', 'sku_id', 'quantity', 'reserved', 'holds', 'coupon_id', 'user_id', 'contact', 'flash_units', 'limit_periods', 'created_at');
      await releaseKeys(trx, [row]);
      await releaseHolds(trx, [row]);
      await returnCoupons(deps, trx, [row]);
      await returnFlash(trx, [row]);
      await returnLimits(deps, trx, [row]);
    });
    throw new ShopError('gateway_unavailable', 502, 'error.gateway_unavailable');
  }
  await deps.db.knex('orders').where('id', Number(id)).update({ pay_action: JSON.stringify(payment) });
  const view = newOrderView(deps, order, { id: Number(id), no, status: 'pending_payment', now, keys: [] });
  deps.hooks.emit('order.created', { order: view });
  return { order: view, token, payment };
}

/** A payment notification that does not fit the order: answered with the gateway's failure reply. */
export class PaymentRefused extends Error {
  override name = 'PaymentRefused';
}

/**
 * A verified notify the order no longer waits for (expired, cancelled, already paid under another
 * trade number), or any top-up: recorded only once the gateway confirms it by query
 * (callbacks.ts recordVerifiedPayment).
 */
export class PaymentUnconfirmed extends Error {
  override name = 'PaymentUnconfirmed';
}

export type PaidOutcome = 'paid' | 'duplicate' | 'late';

/** An admin's 补单: the payment was checked by hand (the gateway's back office, a bank statement). */
export interface ManualConfirm {
  actorId: number;
  note: string;
  ip?: string;
}

/**
 * Records a verified payment of `amount` for order `orderNo` exactly once, in one transaction:
 * - a pending order becomes paid (journal: the gateway's clearing account to revenue) and, for
 *   cards, is delivered at once; if the keys ran out meanwhile it fails visibly and the money goes
 *   to the buyer's wallet, or is marked as owed to a guest;
 * - a second notify for a paid order changes nothing (`duplicate`);
 * - a payment for an expired or cancelled order is never lost (`late`): it goes to the buyer's
 *   wallet, or is marked as owed to a guest.
 * An unknown order, another gateway's order or a different amount is refused and changes nothing.
 * A payment the order no longer waits for, and every top-up, must come `confirmed` (by the
 * gateway's query), else PaymentUnconfirmed: a valid signature alone credits nothing.
 *
 * `manual` is an admin's confirmation (补单) of a pending or expired order: the same path as a
 * verified notify (an expired order comes back to life and is delivered; money already kept for
 * the buyer from a late payment pays for it), audited in the same transaction. Once the order is
 * paid, another confirmation changes nothing (`duplicate`).
 *
 * `keep` (why) records money a gateway received for the order that does not pay for it (a
 * transfer short of the amount, say): kept for the buyer as a late payment is, once per trade
 * number, whatever its amount; the order itself is left as it stands.
 */
export async function markPaid(
  deps: Deps,
  input: { gatewayId: string; orderNo: string; amount: number; tradeNo: string; confirmed?: boolean; manual?: ManualConfirm; keep?: string },
): Promise<PaidOutcome> {
  let lifted: number[] = [];
  let before: { status: string; tradeNo: string | null } | undefined;
  const pay = async (trx: Knex.Transaction): Promise<PaidOutcome> => {
    const q = trx('orders').where('no', input.orderNo).first();
    const row = await (deps.db.dialect === 'mysql' ? q.forUpdate() : q);
    if (!row || row.payment !== input.gatewayId) throw new PaymentRefused(`no ${input.gatewayId} order ${input.orderNo}`);
    if (Number(row.amount) !== input.amount && !input.keep) {
      throw new PaymentRefused(`order ${row.no} costs ${row.amount}, the notify says ${input.amount}`);
    }
    before = { status: row.status, tradeNo: row.trade_no };
    // The same trade number again: this payment is already recorded (unless an admin now wants
    // the late payment it was to pay for the order after all).
    if (row.trade_no === input.tradeNo && !(input.manual && row.status === 'expired')) return 'duplicate' as const;
    // An admin confirms only an order still waiting for its money (a top-up paid late is in the wallet already).
    if (input.manual && (!['pending_payment', 'expired'].includes(row.status) || (row.product_type === 'topup' && row.trade_no !== null))) {
      if (row.status === 'cancelled') throw errors.invalidState(row.status);
      return 'duplicate' as const;
    }
    if (!input.confirmed && !input.manual && (row.product_type === 'topup' || row.status !== 'pending_payment' || row.trade_no !== null)) {
      throw new PaymentUnconfirmed(`order ${row.no} is ${row.product_type === 'topup' ? 'a top-up' : row.status}${row.trade_no ? ' and paid' : ''}`);
    }
    const revive = Boolean(input.manual) && row.status === 'expired';

    const now = deps.now();
    const amount = input.amount;
    const clearing = await gatewayAccountId(deps, trx, input.gatewayId);
    const buyerWallet = row.user_id === null ? null : await walletAccountId(deps, trx, row.user_id);
    // Money that cannot buy the goods goes back to its owner: the wallet, or a refund owed.
    const owedTo = buyerWallet ?? (await systemAccountId(deps, trx, SYSTEM_ACCOUNTS.refundsDue));

    // Paid after the order expired or was cancelled, or paid a second time under another trade
    // number (two QR scans): the money is kept for the buyer, once per trade number.
    if (input.keep || (!revive && (row.status !== 'pending_payment' || row.trade_no !== null))) {
      const second = row.trade_no !== null;
      const entries = [
        { accountId: clearing, amount: -amount },
        { accountId: owedTo, amount },
      ];
      const id = `order:${row.no}:extra:${createHash('sha256').update(input.tradeNo).digest('hex').slice(0, 16)}`;
      const memo = (input.keep ?? (second ? `paid again (trade ${input.tradeNo})` : `paid after ${row.status}`)).slice(0, 255);
      try {
        await postJournal(deps, trx, [{ id, kind: 'late_payment', orderId: row.id, memo, entries }], new Set());
      } catch (err) {
        if (isUniqueViolation(err)) return 'duplicate' as const;
        throw err;
      }
      const kept = buyerWallet ? 'credited to the balance' : 'refund due';
      await trx('orders')
        .where('id', row.id)
        .update({
          ...(second || input.keep ? {} : { trade_no: input.tradeNo }),
          refund_due: buyerWallet === null || Boolean(row.refund_due),
          reason: (input.keep ? `${input.keep}; ${kept}` : second ? `paid twice; the second payment is ${kept}` : `paid after it expired; ${kept}`).slice(0, 255),
          updated_at: now,
        });
      return 'late' as const;
    }

    // A late payment kept for the buyer (wallet or refund owed) pays for a revived order.
    const source = revive && row.trade_no !== null ? owedTo : clearing;
    await transition(trx, row.id, revive ? 'expired' : 'pending_payment', 'paid', {
      paid_at: now,
      trade_no: row.trade_no ?? input.tradeNo,
      ...(revive ? { refund_due: false, reason: null } : {}),
      updated_at: now,
    });
    if (!revive) await releaseHolds(trx, [row]);
    if (row.product_type === 'topup') {
      // A wallet top-up: the money is the buyer's, so it lands in the wallet, not in revenue.
      const entries = [
        { accountId: clearing, amount: -amount },
        { accountId: buyerWallet!, amount },
      ];
      await postJournal(deps, trx, [{ id: `order:${row.no}:pay`, kind: 'topup', orderId: row.id, entries }], new Set());
      await finishDelivery(deps, trx, row, ['paid']);
      return 'paid' as const;
    }
    const revenue = await systemAccountId(deps, trx, SYSTEM_ACCOUNTS.revenue);
    const payEntries = [
      { accountId: source, amount: -amount },
      { accountId: revenue, amount },
    ];
    // Out of a wallet only while it covers the amount (the buyer may have spent a late payment).
    await postJournal(deps, trx, [{ id: `order:${row.no}:pay`, kind: 'purchase', orderId: row.id, entries: payEntries }], new Set(source === buyerWallet ? [source] : []));
    // A sale that stands counts towards the buyer's spend (and level).
    const countSpend = async () => {
      if (row.user_id === null) return;
      const buyer = await trx('users').where('id', row.user_id).first('spend_total', 'level_id');
      lifted = await addSpend(deps, trx, new Map([[row.user_id, { spent: Number(buyer.spend_total), levelId: buyer.level_id, amount }]]));
    };
    // Delivered by a worker: other types, and cards held for review (they keep the keys they
    // reserved until an admin decides: orders/review.ts).
    if (row.product_type !== 'card' || row.review) {
      if (row.product_type !== 'card') await trx('skus').where('id', row.sku_id).increment('sold', row.quantity);
      await enqueueJobs(deps, trx, [{ ...deliveryJob(row), held: Boolean(row.review) }]);
      await countSpend();
      return 'paid' as const;
    }
    // Paid in time: the keys it held are its own; else keys still in stock.
    if (await deliverCards(deps, trx, row)) {
      await countSpend();
      return 'paid' as const;
    }
    // Paid, but no keys are left (an expired order confirmed late): never "delivered" with an
    // apology. The SKU says whether the buyer waits for new keys or gets the money back.
    const sku = await trx('skus').where('id', row.sku_id).first('oversell');
    if (sku?.oversell === 'backorder') {
      await trx('orders').where('id', row.id).update({ backorder: true, reason: 'backordered: delivered when new keys arrive', updated_at: now });
      await countSpend();
      return 'paid' as const;
    }
    const refundEntries = [
      { accountId: revenue, amount: -amount },
      { accountId: owedTo, amount },
    ];
    const memo = 'out of stock when the payment arrived';
    await postJournal(deps, trx, [{ id: `order:${row.no}:unfilled`, kind: 'refund', orderId: row.id, memo, entries: refundEntries }], new Set());
    await transition(trx, row.id, 'paid', buyerWallet ? 'refunded' : 'failed', {
      refund_due: buyerWallet === null,
      reason: buyerWallet ? 'out of stock when the payment arrived; refunded to the balance' : 'out of stock when the payment arrived; refund due',
      updated_at: now,
    });
    return 'paid' as const;
  };
  const outcome = await transaction(deps.db, async (trx) => {
    lifted = [];
    const result = await pay(trx);
    if (input.manual) {
      const after = await trx('orders').where('no', input.orderNo).first('status', 'trade_no');
      await audit(deps, trx, {
        actorId: input.manual.actorId,
        action: 'order.confirm',
        targetType: 'order',
        targetId: input.orderNo,
        before,
        after: { status: after.status, tradeNo: after.trade_no, outcome: result, enteredTradeNo: input.tradeNo, note: input.manual.note },
        ip: input.manual.ip,
      });
    }
    return result;
  });
  crashPoint('notify.paid');
  if (lifted.length) invalidatePricing(deps);
  if (outcome !== 'duplicate') {
    const order = await loadOrder(deps, input.orderNo);
    if (outcome === 'paid') deps.hooks.emit('order.paid', { order });
    if (outcome === 'paid' && order.productType === 'topup') {
      deps.hooks.emit('wallet.credited', { userId: order.userId!, amount: order.amount, balance: await balanceOf(deps, order.userId!), txnId: `order:${order.no}:pay`, reason: 'top-up' });
    }
    if (order.status === 'delivered') deps.hooks.emit('order.delivered', { order });
    if (order.status === 'refunded') deps.hooks.emit('order.refunded', { order, reason: order.reason ?? '' });
  }
  return outcome;
}

/**
 * Asks the gateway whether an unpaid order was paid after all, and records it if so: a notify
 * lost on its way (a CDN, a wrong URL, a restart) then costs a minute, not a sale.
 */
export async function confirmByQuery(deps: Deps, gateway: PaymentGateway, order: { no: string; amount: number }): Promise<boolean> {
  let answer;
  try {
    answer = await gateway.query({ orderNo: order.no });
  } catch (err) {
    deps.log.warn(`pay ${gateway.id}: query for ${order.no} failed`, err);
    return false;
  }
  if (answer.status !== 'paid' || !answer.tradeNo) return false;
  if (answer.amount !== order.amount) {
    deps.log.warn(`pay ${gateway.id}: query says ${order.no} was paid ${answer.amount}, the order costs ${order.amount}`);
    await announceStuckPayment(deps, order.no, 'reported_other_amount');
    return false;
  }
  // The gateway's own answer: as confirmed as a payment gets (a top-up may be credited on it).
  await markPaid(deps, { gatewayId: gateway.id, orderNo: order.no, amount: order.amount, tradeNo: answer.tradeNo, confirmed: true });
  return true;
}

/**
 * The minute job for gateway orders: unpaid ones older than a minute are confirmed by query where
 * the gateway was paid (those about to expire first, a bounded number per run), then those past
 * their time expire: a buyer who paid in time but whose notify was lost still gets the keys.
 */
export async function sweepPending(deps: Deps, gateways: ReadonlyMap<string, PaymentGateway>, limit = 50): Promise<{ confirmed: number; expired: number }> {
  const rows: Array<{ no: string; amount: number | string; payment: string }> = await deps.db
    .read('orders')
    .where('status', 'pending_payment')
    .andWhere('created_at', '<', deps.now() - 60_000)
    .orderBy('expires_at')
    .limit(limit)
    .select('no', 'amount', 'payment');
  let confirmed = 0;
  for (const row of rows) {
    const gateway = gateways.get(row.payment);
    if (gateway && (await confirmByQuery(deps, gateway, { no: row.no, amount: Number(row.amount) }))) confirmed++;
  }
  return { confirmed, expired: await expireUnpaid(deps) };
}

const EXPIRE_BATCH = 500;

/**
 * Expires gateway orders whose payment window has passed and puts the keys they held back on sale,
 * exactly once: the orders are locked (skipping any a payment holds), moved by one guarded UPDATE
 * whose row count must match, and only then released, all in one transaction.
 */
export async function expireUnpaid(deps: Deps): Promise<number> {
  let expired = 0;
  for (;;) {
    const n = await transaction(deps.db, async (trx) => {
      const now = deps.now();
      const rows: Array<{ id: number; sku_id: number; quantity: number; reserved: number; holds: string | null; coupon_id: number | null; user_id: number | null; contact: string | null; flash_units: number; limit_periods: string | null; created_at: number }> = await forUpdateSkipLocked(
        deps.db,
        trx('orders')
          .where('status', 'pending_payment')
          .andWhere('expires_at', '<', now)
          .orderBy('id')
          .limit(EXPIRE_BATCH)
          .select('id', 'sku_id', 'quantity', 'reserved', 'holds', 'coupon_id', 'user_id', 'contact', 'flash_units', 'limit_periods', 'created_at'),
      );
      if (!rows.length) return 0;
      const ids = rows.map((r) => r.id);
      const moved = affected(await trx('orders').whereIn('id', ids).andWhere('status', 'pending_payment').update({ status: 'expired', updated_at: now }));
      if (moved !== ids.length) throw new ConflictRetry(`expired ${moved} of ${ids.length} orders`);
      await releaseKeys(trx, rows);
      await releaseHolds(trx, rows);
      await returnCoupons(deps, trx, rows);
      await returnFlash(trx, rows);
      await returnLimits(deps, trx, rows);
      return rows.length;
    });
    expired += n;
    if (n < EXPIRE_BATCH) return expired;
  }
}
