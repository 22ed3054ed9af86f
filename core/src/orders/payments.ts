import { createHash } from 'node:crypto';
import type { Deps } from '../context.js';
import { affected, isUniqueViolation, transaction } from '../db/dialect.js';
import { errors, ShopError } from '../errors.js';
import { claimKeys, pickKeys } from '../inventory/keys.js';
import type { PaymentGateway } from '../plugins/payment.js';
import { randomToken } from '../security/keys.js';
import { balanceOf, gatewayAccountId, postJournal, SYSTEM_ACCOUNTS, systemAccountId, walletAccountId } from '../wallet/ledger.js';
import type { CheckoutResult, PlacedOrder, RequestInfo } from './checkout.js';
import { newOrderView, orderRow } from './checkout.js';
import { newOrderNo } from './numbers.js';
import { loadOrder } from './orders.js';
import { transition } from './state.js';

/**
 * Payment through a gateway. The order waits in `pending_payment` without holding stock (bots
 * cannot lock a shop's stock with unpaid orders); the payment, however it arrives, goes through
 * `markPaid`, which moves the money in the ledger and delivers in the same transaction.
 */

export async function placeGatewayOrder(
  deps: Deps,
  gateway: PaymentGateway,
  order: PlacedOrder,
  request?: RequestInfo,
): Promise<CheckoutResult> {
  if (order.productType === 'card') {
    const sku = await deps.db.knex('skus').where('id', order.skuId).first('stock');
    if (Number(sku?.stock ?? 0) < order.quantity) throw errors.outOfStock(Number(sku?.stock ?? 0));
  }
  const now = deps.now();
  const no = newOrderNo(now);
  const token = randomToken(24);
  const [id] = await deps.db.knex('orders').insert(orderRow(deps, { order, no, token }, now, 'pending_payment'));
  const base = (deps.config.publicUrl ?? request?.origin ?? `http://${deps.config.host}:${deps.config.port}`).replace(/\/+$/, '');
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
    });
  } catch (err) {
    deps.log.error(`payment gateway ${gateway.id} could not create a payment for ${no}`, err);
    await transition(deps.db.knex, Number(id), 'pending_payment', 'cancelled', { reason: `gateway ${gateway.id} unavailable` });
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

export type PaidOutcome = 'paid' | 'duplicate' | 'late';

/**
 * Records a verified payment of `amount` for order `orderNo` exactly once, in one transaction:
 * - a pending order becomes paid (journal: the gateway's clearing account to revenue) and, for
 *   cards, is delivered at once; if the keys ran out meanwhile it fails visibly and the money goes
 *   to the buyer's wallet, or is marked as owed to a guest;
 * - a second notify for a paid order changes nothing (`duplicate`);
 * - a payment for an expired or cancelled order is never lost (`late`): it goes to the buyer's
 *   wallet, or is marked as owed to a guest.
 * An unknown order, another gateway's order or a different amount is refused and changes nothing.
 */
export async function markPaid(
  deps: Deps,
  input: { gatewayId: string; orderNo: string; amount: number; tradeNo: string },
): Promise<PaidOutcome> {
  const outcome = await transaction(deps.db, async (trx) => {
    const q = trx('orders').where('no', input.orderNo).first();
    const row = await (deps.db.dialect === 'mysql' ? q.forUpdate() : q);
    if (!row || row.payment !== input.gatewayId) throw new PaymentRefused(`no ${input.gatewayId} order ${input.orderNo}`);
    if (Number(row.amount) !== input.amount) {
      throw new PaymentRefused(`order ${row.no} costs ${row.amount}, the notify says ${input.amount}`);
    }
    // The same trade number again: this payment is already recorded.
    if (row.trade_no === input.tradeNo) return 'duplicate' as const;

    const now = deps.now();
    const amount = input.amount;
    const clearing = await gatewayAccountId(deps, trx, input.gatewayId);
    const buyerWallet = row.user_id === null ? null : await walletAccountId(deps, trx, row.user_id);
    // Money that cannot buy the goods goes back to its owner: the wallet, or a refund owed.
    const owedTo = buyerWallet ?? (await systemAccountId(deps, trx, SYSTEM_ACCOUNTS.refundsDue));

    // Paid after the order expired or was cancelled, or paid a second time under another trade
    // number (two QR scans): the money is kept for the buyer, once per trade number.
    if (row.status !== 'pending_payment' || row.trade_no !== null) {
      const second = row.trade_no !== null;
      const entries = [
        { accountId: clearing, amount: -amount },
        { accountId: owedTo, amount },
      ];
      const id = `order:${row.no}:extra:${createHash('sha256').update(input.tradeNo).digest('hex').slice(0, 16)}`;
      const memo = second ? `paid again (trade ${input.tradeNo})`.slice(0, 255) : `paid after ${row.status}`;
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
          ...(second ? {} : { trade_no: input.tradeNo }),
          refund_due: buyerWallet === null || Boolean(row.refund_due),
          reason: second ? `paid twice; the second payment is ${kept}` : `paid after it expired; ${kept}`,
          updated_at: now,
        });
      return 'late' as const;
    }

    await transition(trx, row.id, 'pending_payment', 'paid', { paid_at: now, trade_no: input.tradeNo, updated_at: now });
    if (row.product_type === 'topup') {
      // A wallet top-up: the money is the buyer's, so it lands in the wallet, not in revenue.
      const entries = [
        { accountId: clearing, amount: -amount },
        { accountId: buyerWallet!, amount },
      ];
      await postJournal(deps, trx, [{ id: `order:${row.no}:pay`, kind: 'topup', orderId: row.id, entries }], new Set());
      await transition(trx, row.id, 'paid', 'delivered', { delivered_at: now, updated_at: now });
      return 'paid' as const;
    }
    const revenue = await systemAccountId(deps, trx, SYSTEM_ACCOUNTS.revenue);
    const payEntries = [
      { accountId: clearing, amount: -amount },
      { accountId: revenue, amount },
    ];
    await postJournal(deps, trx, [{ id: `order:${row.no}:pay`, kind: 'purchase', orderId: row.id, entries: payEntries }], new Set());
    if (row.product_type !== 'card') {
      await trx('skus').where('id', row.sku_id).increment('sold', row.quantity);
      return 'paid' as const;
    }
    const took = await trx('skus')
      .where('id', row.sku_id)
      .andWhere('stock', '>=', row.quantity)
      .update({ stock: trx.raw('stock - ?', [row.quantity]), sold: trx.raw('sold + ?', [row.quantity]) });
    if (affected(took) === 1) {
      const picked = await pickKeys(deps, trx, row.sku_id, row.quantity);
      await claimKeys(deps, trx, row.sku_id, picked, [{ orderId: row.id, quantity: row.quantity }]);
      await transition(trx, row.id, 'paid', 'delivered', { delivered_at: now, updated_at: now });
      return 'paid' as const;
    }
    // Paid, but the last keys went to a wallet buyer meanwhile: never "delivered" with an apology.
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
  });
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
    return false;
  }
  await markPaid(deps, { gatewayId: gateway.id, orderNo: order.no, amount: order.amount, tradeNo: answer.tradeNo });
  return true;
}

/**
 * The minute job for gateway orders: unpaid ones older than a minute are confirmed by query where
 * the gateway was paid (oldest first, a bounded number per run), then those past their time expire.
 */
export async function sweepPending(deps: Deps, gateways: ReadonlyMap<string, PaymentGateway>, limit = 50): Promise<{ confirmed: number; expired: number }> {
  const rows: Array<{ no: string; amount: number | string; payment: string }> = await deps.db
    .read('orders')
    .where('status', 'pending_payment')
    .andWhere('created_at', '<', deps.now() - 60_000)
    .orderBy('created_at')
    .limit(limit)
    .select('no', 'amount', 'payment');
  let confirmed = 0;
  for (const row of rows) {
    const gateway = gateways.get(row.payment);
    if (gateway && (await confirmByQuery(deps, gateway, { no: row.no, amount: Number(row.amount) }))) confirmed++;
  }
  return { confirmed, expired: await expireUnpaid(deps) };
}

/** Expires gateway orders whose payment window has passed. */
export async function expireUnpaid(deps: Deps): Promise<number> {
  return affected(
    await deps.db
      .knex('orders')
      .where('status', 'pending_payment')
      .andWhere('expires_at', '<', deps.now())
      .update({ status: 'expired', updated_at: deps.now() }),
  );
}
