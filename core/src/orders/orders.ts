import type { User } from '../agents/users.js';
import type { Deps } from '../context.js';
import { affected, transaction } from '../db/dialect.js';
import { errors, ShopError } from '../errors.js';
import { keysOfOrder } from '../inventory/keys.js';
import type { CardKey } from '../inventory/parse.js';
import type { PaymentAction, PaymentGateway } from '../plugins/payment.js';
import { decrypt, hmacHex, safeEqual } from '../security/keys.js';
import { finishDelivery } from './deliver.js';
import { enqueueJobs, webhookJobs } from '../delivery/jobs.js';
import { audit } from '../audit/audit.js';
import { unwindSale } from '../pricing/margins.js';
import { gatewayAccountId, postJournal, SYSTEM_ACCOUNTS, systemAccountId, walletAccountId } from '../wallet/ledger.js';
import { hashOrderToken } from './numbers.js';
import { releaseKeys } from './reservations.js';
import { returnCoupons } from '../coupons/coupons.js';
import { returnLimits } from './limits.js';
import { transition, type OrderStatus } from './state.js';

export interface OrderView {
  id: number;
  no: string;
  /** The buyer's account; null for a guest. */
  userId: number | null;
  status: OrderStatus;
  title: string;
  productType: string;
  skuId: number;
  quantity: number;
  unitPrice: number;
  /** What the buyer pays: the units at `unitPrice` less `discount`. */
  amount: number;
  /** The coupon code used, and what it took off. */
  coupon: string | null;
  discount: number;
  currency: string;
  payment: string;
  contact: string | null;
  fields: Record<string, string>;
  createdAt: number;
  paidAt: number | null;
  deliveredAt: number | null;
  reason: string | null;
  /** Card keys, once delivered. */
  keys: CardKey[];
  /** Text delivered by an admin or a supplier (manual and top-up orders). */
  delivery: string | null;
  /** While unpaid: how to pay (the gateway's link, QR content or form) and until when. */
  payAction?: PaymentAction | null;
  expiresAt?: number | null;
  /** Money was received that the shop owes back to the buyer. */
  refundDue?: boolean;
  /** Paid while out of stock: delivered when new keys arrive, oldest order first. */
  backorder?: boolean;
}

interface OrderRow {
  id: number;
  no: string;
  token_hash: string;
  user_id: number | null;
  sku_id: number;
  product_type: string;
  title: string;
  quantity: number;
  unit_price: number | string;
  amount: number | string;
  coupon_id?: number | null;
  coupon_code?: string | null;
  discount?: number | string;
  currency: string;
  status: OrderStatus;
  payment: string;
  contact: string | null;
  fields: string | null;
  delivery: string | null;
  reason: string | null;
  pay_action: string | null;
  trade_no: string | null;
  expires_at: number | string | null;
  refund_due: number | boolean;
  backorder?: number | boolean;
  /** Keys it holds but was not delivered: an order held for review. */
  reserved?: number | string;
  callback_url?: string | null;
  created_at: number | string;
  paid_at: number | string | null;
  delivered_at: number | string | null;
}

const num = (v: number | string | null) => (v === null ? null : Number(v));

async function view(deps: Deps, row: OrderRow, withGoods: boolean): Promise<OrderView> {
  const delivered = ['delivered', 'partial', 'refunded'].includes(row.status);
  return {
    id: row.id,
    no: row.no,
    userId: row.user_id,
    status: row.status,
    title: row.title,
    productType: row.product_type,
    skuId: row.sku_id,
    quantity: row.quantity,
    unitPrice: Number(row.unit_price),
    amount: Number(row.amount),
    coupon: row.coupon_code ?? null,
    discount: Number(row.discount ?? 0),
    currency: row.currency,
    payment: row.payment,
    contact: row.contact,
    fields: row.fields ? JSON.parse(row.fields) : {},
    createdAt: Number(row.created_at),
    paidAt: num(row.paid_at),
    deliveredAt: num(row.delivered_at),
    reason: row.reason,
    // Cards from stock, and keys a supplier or a plugin delivered.
    keys: withGoods && delivered && row.product_type !== 'topup' && row.product_type !== 'manual' ? await keysOfOrder(deps, row.id) : [],
    delivery: withGoods && row.delivery ? decrypt(deps.keys.encryption, row.delivery) : null,
    payAction: row.status === 'pending_payment' && row.pay_action ? (JSON.parse(row.pay_action) as PaymentAction) : null,
    expiresAt: num(row.expires_at),
    refundDue: Boolean(row.refund_due),
    backorder: Boolean(row.backorder),
  };
}

/**
 * An order for whoever may see it: its owner, an admin, a guest holding its token, or one who just
 * proved it with the order's query password or a code (`granted`, checked by the caller: see
 * lookup.ts). Anyone else gets "not found", the same answer as for a number that does not exist. `withGoods: false`
 * leaves the keys and delivered text out (nothing is decrypted).
 */
/**
 * The token of the link in a guest's order e-mail: the checkout's own token is shown once and
 * only its hash is kept, so the mail carries an HMAC of the order number, which opens the order
 * page as that token does.
 */
export const mailLinkToken = (deps: Deps, no: string) => `m${hmacHex(deps.keys.tokens, `order-mail:${no}`, 16)}`;

const tokenOpens = (deps: Deps, token: string, row: { no: string; token_hash: string }) =>
  safeEqual(hashOrderToken(token), row.token_hash) || safeEqual(token, mailLinkToken(deps, row.no));

export async function getOrder(deps: Deps, no: string, viewer: { user?: User; token?: string; granted?: boolean }, withGoods = true): Promise<OrderView> {
  const row: OrderRow | undefined = await deps.db.read('orders').where('no', no).first();
  const allowed =
    row &&
    ((viewer.user && (viewer.user.id === row.user_id || viewer.user.role === 'admin')) ||
      (viewer.token && tokenOpens(deps, viewer.token, row)) ||
      viewer.granted);
  if (!row || !allowed) throw errors.notFound('error.order_not_found');
  return view(deps, row, withGoods);
}

/** A user's orders, newest first, without their goods (those are on each order's page). */
export async function listOrders(deps: Deps, userId: number, opts: { limit?: number; beforeId?: number } = {}) {
  const q = deps.db
    .read('orders')
    .where('user_id', userId)
    .orderBy('id', 'desc')
    .limit(Math.min(opts.limit ?? 20, 100));
  if (opts.beforeId) q.andWhere('id', '<', opts.beforeId);
  const rows: OrderRow[] = await q;
  return Promise.all(rows.map((r) => view(deps, r, false)));
}

async function orderByNo(deps: Deps, no: string): Promise<OrderRow> {
  const row = await deps.db.knex('orders').where('no', no).first();
  if (!row) throw errors.notFound('error.order_not_found');
  return row;
}

/** An order with its goods, for the code that just changed it (hooks, admin answers). */
export async function loadOrder(deps: Deps, no: string): Promise<OrderView> {
  return view(deps, await orderByNo(deps, no), true);
}

const MANUAL_FROM: OrderStatus[] = ['paid', 'delivering', 'failed'];

/** Orders an admin may deliver by hand: any but cards (their keys come from stock), once paid and not yet delivered. */
export const canDeliverManually = (order: { productType: string; status: OrderStatus }) => order.productType !== 'card' && MANUAL_FROM.includes(order.status);

/** An admin delivers a manual or top-up order with a text (补单 for a supplier that failed), audited with the delivery. */
export async function deliverManually(deps: Deps, input: { no: string; content: string; actorId: number; ip?: string }): Promise<OrderView> {
  if (!input.content.trim()) throw errors.validation({ content: 'field.required' });
  if (input.content.length > 20_000) throw errors.validation({ content: 'field.too_long' });
  const row = await orderByNo(deps, input.no);
  if (row.product_type === 'card') throw errors.invalidState(row.status);
  const moved = await transaction(deps.db, async (trx) => {
    if (!(await finishDelivery(deps, trx, row, MANUAL_FROM, { text: input.content }))) return false;
    // The content may be a key: the audit says that it was delivered and how long it was, not what.
    await audit(deps, trx, {
      actorId: input.actorId,
      action: 'order.deliver_manually',
      targetType: 'order',
      targetId: row.no,
      before: { status: row.status },
      after: { status: 'delivered', length: input.content.length },
      ip: input.ip,
    });
    return true;
  });
  if (!moved) throw errors.invalidState(row.status);
  const order = await loadOrder(deps, row.no);
  deps.hooks.emit('order.delivered', { order });
  return order;
}

const REFUNDABLE: OrderStatus[] = ['paid', 'failed', 'partial', 'delivered'];

/**
 * Gives an order's money back: to the original gateway where it can refund, else to the buyer's
 * wallet (a guest without a wallet is then refused with the gateway's reason). The gateway is asked
 * first, with the refund number `<no>-refund`, so asking again never refunds twice; then the status
 * move and the journal entry commit together, and the journal id `order:<no>:refund` makes a
 * second refund in the books impossible. An order whose money is already owed back (paid after it
 * expired, or out of stock when paid) is settled the same way; an order delivered and paid twice
 * keeps its status, only the second payment goes back.
 * `to` forces the destination (an admin's choice); an admin's refund is audited in its transaction.
 */
export async function refundOrder(
  deps: Deps,
  gateways: ReadonlyMap<string, PaymentGateway>,
  /** `actorId` null: the shop itself (the delivery engine refunding what no supplier could fill). */
  input: { no: string; reason: string; actorId: number | null; to?: 'wallet' | 'gateway'; ip?: string },
): Promise<OrderView> {
  if (!input.reason.trim()) throw errors.validation({ reason: 'field.required' });
  const row = await orderByNo(deps, input.no);
  const owed = Boolean(row.refund_due);
  // A top-up's money sits in the wallet: take it back with a wallet adjustment, not a refund.
  if (row.product_type === 'topup' || (!owed && !REFUNDABLE.includes(row.status))) throw errors.invalidState(row.status);
  const amount = Number(row.amount);
  const gateway = gateways.get(row.payment);
  let toGateway = false;
  if (input.to === 'wallet' && row.user_id === null) throw new ShopError('refund_failed', 409, 'error.refund_failed', undefined, { reason: 'a guest has no wallet' });
  if (input.to === 'gateway' && !(gateway && row.trade_no)) throw new ShopError('refund_failed', 409, 'error.refund_failed', undefined, { reason: `no ${row.payment} payment to refund` });
  if (gateway && row.trade_no && input.to !== 'wallet') {
    const result = await gateway.refund({ orderNo: row.no, tradeNo: row.trade_no, amount, refundNo: `${row.no}-refund`, reason: input.reason });
    if (result.status === 'pending') throw new ShopError('refund_pending', 409, 'error.refund_pending');
    toGateway = result.status === 'refunded';
    if (!toGateway && (row.user_id === null || input.to === 'gateway')) {
      throw new ShopError('refund_failed', 502, 'error.refund_failed', undefined, { reason: result.reason ?? '' });
    }
  } else if (row.user_id === null) {
    throw errors.invalidState(row.status);
  }
  await transaction(deps.db, async (trx) => {
    const now = deps.now();
    const patch = { reason: input.reason.slice(0, 255), refund_due: false, updated_at: now };
    // Money owed back may sit on an order that is already final (expired) or delivered (paid
    // twice): clear the debt only. An order that failed for want of stock is refunded whole.
    const refunds = REFUNDABLE.includes(row.status) && (!owed || row.status === 'failed');
    const moved = refunds
      ? await transition(trx, row.id, REFUNDABLE, 'refunded', patch)
      : affected(await trx('orders').where({ id: row.id, refund_due: true }).update(patch)) === 1;
    if (!moved) throw errors.invalidState(row.status);
    if (!owed) await unwindSale(deps, trx, row);
    // The coupon's use and the units counted against the buyer's limits come back with the order
    // (an expired one gave them back already).
    if (refunds) {
      await returnCoupons(deps, trx, [row]);
      await returnLimits(deps, trx, [row]);
    }
    // A card order refunded while held for review puts the keys it reserved back on sale.
    await releaseKeys(trx, [{ ...row, reserved: row.reserved ?? 0 }]);
    const from = await systemAccountId(deps, trx, owed ? SYSTEM_ACCOUNTS.refundsDue : SYSTEM_ACCOUNTS.revenue);
    const to = toGateway ? await gatewayAccountId(deps, trx, row.payment) : await walletAccountId(deps, trx, row.user_id!);
    const entries = [
      { accountId: from, amount: -amount },
      { accountId: to, amount },
    ];
    await postJournal(deps, trx, [{ id: `order:${row.no}:refund`, kind: 'refund', orderId: row.id, memo: input.reason.slice(0, 255), actorId: input.actorId, entries }], new Set());
    // An Agent API caller that asked for webhooks hears of the refund (the job commits with it).
    if (row.callback_url && (await trx('orders').where('id', row.id).first('status')).status === 'refunded') {
      await enqueueJobs(deps, trx, webhookJobs(row, 'order.refunded'));
    }
    if (input.actorId !== null) {
      const after = await trx('orders').where('id', row.id).first('status');
      await audit(deps, trx, {
        actorId: input.actorId,
        action: 'order.refund',
        targetType: 'order',
        targetId: row.no,
        before: { status: row.status, refundDue: owed },
        after: { status: after.status, to: toGateway ? 'gateway' : 'wallet', amount, reason: input.reason.slice(0, 255) },
        ip: input.ip,
      });
    }
  });
  const order = await loadOrder(deps, input.no);
  deps.hooks.emit('order.refunded', { order, reason: input.reason });
  return order;
}
