import type { User } from '../agents/users.js';
import type { Deps } from '../context.js';
import { affected, transaction } from '../db/dialect.js';
import { errors, ShopError } from '../errors.js';
import { keysOfOrder } from '../inventory/keys.js';
import type { CardKey } from '../inventory/parse.js';
import type { PaymentAction, PaymentGateway } from '../plugins/payment.js';
import { decrypt, encrypt, safeEqual } from '../security/keys.js';
import { gatewayAccountId, postJournal, SYSTEM_ACCOUNTS, systemAccountId, walletAccountId } from '../wallet/ledger.js';
import { hashOrderToken } from './numbers.js';
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
  amount: number;
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
    currency: row.currency,
    payment: row.payment,
    contact: row.contact,
    fields: row.fields ? JSON.parse(row.fields) : {},
    createdAt: Number(row.created_at),
    paidAt: num(row.paid_at),
    deliveredAt: num(row.delivered_at),
    reason: row.reason,
    keys: withGoods && delivered && row.product_type === 'card' ? await keysOfOrder(deps, row.id) : [],
    delivery: withGoods && row.delivery ? decrypt(deps.keys.encryption, row.delivery) : null,
    payAction: row.status === 'pending_payment' && row.pay_action ? (JSON.parse(row.pay_action) as PaymentAction) : null,
    expiresAt: num(row.expires_at),
    refundDue: Boolean(row.refund_due),
  };
}

/**
 * An order for whoever may see it: its owner, an admin, or a guest holding its token. Anyone
 * else gets "not found", the same answer as for a number that does not exist.
 */
export async function getOrder(deps: Deps, no: string, viewer: { user?: User; token?: string }): Promise<OrderView> {
  const row: OrderRow | undefined = await deps.db.read('orders').where('no', no).first();
  const allowed =
    row &&
    ((viewer.user && (viewer.user.id === row.user_id || viewer.user.role === 'admin')) ||
      (viewer.token && safeEqual(hashOrderToken(viewer.token), row.token_hash)));
  if (!row || !allowed) throw errors.notFound('error.order_not_found');
  return view(deps, row, true);
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

/** An admin (or, later, a supplier) delivers a manual or top-up order with a text. */
export async function deliverManually(deps: Deps, input: { no: string; content: string; actorId: number }): Promise<OrderView> {
  if (!input.content.trim()) throw errors.validation({ content: 'field.required' });
  if (input.content.length > 20_000) throw errors.validation({ content: 'field.too_long' });
  const row = await orderByNo(deps, input.no);
  if (row.product_type === 'card') throw errors.invalidState(row.status);
  const now = deps.now();
  const delivery = encrypt(deps.keys.encryption, input.content);
  const moved = await transition(deps.db.knex, row.id, ['paid', 'delivering', 'failed'], 'delivered', {
    delivery,
    delivered_at: now,
    updated_at: now,
  });
  if (!moved) throw errors.invalidState(row.status);
  const order = await view(deps, { ...row, status: 'delivered', delivered_at: now, delivery }, true);
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
 * expired, or out of stock when paid) is settled the same way.
 */
export async function refundOrder(
  deps: Deps,
  gateways: ReadonlyMap<string, PaymentGateway>,
  input: { no: string; reason: string; actorId: number },
): Promise<OrderView> {
  if (!input.reason.trim()) throw errors.validation({ reason: 'field.required' });
  const row = await orderByNo(deps, input.no);
  const owed = Boolean(row.refund_due);
  // A top-up's money sits in the wallet: take it back with a wallet adjustment, not a refund.
  if (row.product_type === 'topup' || (!owed && !REFUNDABLE.includes(row.status))) throw errors.invalidState(row.status);
  const amount = Number(row.amount);
  const gateway = gateways.get(row.payment);
  let toGateway = false;
  if (gateway && row.trade_no) {
    const result = await gateway.refund({ orderNo: row.no, tradeNo: row.trade_no, amount, refundNo: `${row.no}-refund`, reason: input.reason });
    if (result.status === 'pending') throw new ShopError('refund_pending', 409, 'error.refund_pending');
    toGateway = result.status === 'refunded';
    if (!toGateway && row.user_id === null) {
      throw new ShopError('refund_failed', 502, 'error.refund_failed', undefined, { reason: result.reason ?? '' });
    }
  } else if (row.user_id === null) {
    throw errors.invalidState(row.status);
  }
  await transaction(deps.db, async (trx) => {
    const now = deps.now();
    const patch = { reason: input.reason.slice(0, 255), refund_due: false, updated_at: now };
    // Money owed back may sit on an order that is already final (expired): clear the debt only.
    const moved = REFUNDABLE.includes(row.status)
      ? await transition(trx, row.id, REFUNDABLE, 'refunded', patch)
      : affected(await trx('orders').where({ id: row.id, refund_due: true }).update(patch)) === 1;
    if (!moved) throw errors.invalidState(row.status);
    const from = await systemAccountId(deps, trx, owed ? SYSTEM_ACCOUNTS.refundsDue : SYSTEM_ACCOUNTS.revenue);
    const to = toGateway ? await gatewayAccountId(deps, trx, row.payment) : await walletAccountId(deps, trx, row.user_id!);
    const entries = [
      { accountId: from, amount: -amount },
      { accountId: to, amount },
    ];
    await postJournal(deps, trx, [{ id: `order:${row.no}:refund`, kind: 'refund', orderId: row.id, memo: input.reason.slice(0, 255), actorId: input.actorId, entries }], new Set());
  });
  const order = await loadOrder(deps, input.no);
  deps.hooks.emit('order.refunded', { order, reason: input.reason });
  return order;
}
