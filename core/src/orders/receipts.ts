import type { User } from '../agents/users.js';
import type { Deps } from '../context.js';
import { ShopError } from '../errors.js';
import { hmacHex, safeEqual } from '../security/keys.js';
import { getOrder, type OrderView } from './orders.js';
import type { OrderStatus } from './state.js';

/**
 * Receipts (交易凭证) for delivered orders. The verification code is the shop's HMAC over the facts
 * printed on the receipt (order number, amount, currency, delivery time), so only this shop can
 * issue one, anyone holding a receipt can have it checked on the shop's verify page, and a receipt
 * whose amount or date was edited no longer verifies.
 */

type Facts = Pick<OrderView, 'no' | 'title' | 'quantity' | 'unitPrice' | 'amount' | 'coupon' | 'discount' | 'currency' | 'payment' | 'status' | 'createdAt' | 'paidAt' | 'deliveredAt'>;

export interface Receipt extends Facts {
  shop: { name: string; url: string };
  /** The order's status now, not at delivery: a receipt of an order refunded later says so. */
  status: OrderStatus;
  deliveredAt: number;
  /** `XXXX-XXXX-XXXX-XXXX-XXXX`. */
  code: string;
  /** The shop's page that checks this receipt. */
  verifyUrl: string;
}

export function receiptCode(deps: Deps, facts: { no: string; amount: number; currency: string; deliveredAt: number }): string {
  const mac = hmacHex(deps.keys.tokens, `receipt:v1|${facts.no}|${facts.amount}|${facts.currency}|${facts.deliveredAt}`, 10).toUpperCase();
  return mac.match(/.{4}/g)!.join('-');
}

/** The receipt of an order as it stands; `origin` is the shop's address when no publicUrl is configured. */
function toReceipt(deps: Deps, order: Facts, origin: string): Receipt {
  const deliveredAt = order.deliveredAt;
  if (deliveredAt === null) throw new ShopError('receipt_unavailable', 409, 'error.receipt_unavailable');
  const code = receiptCode(deps, { ...order, deliveredAt });
  const url = (deps.config.publicUrl ?? origin).replace(/\/+$/, '');
  // Field by field: an order view carries more (contact, keys) than a receipt may show.
  return {
    shop: { name: deps.config.shop.name, url },
    no: order.no,
    title: order.title,
    quantity: order.quantity,
    unitPrice: order.unitPrice,
    amount: order.amount,
    coupon: order.coupon,
    discount: order.discount,
    currency: order.currency,
    payment: order.payment,
    status: order.status,
    createdAt: order.createdAt,
    paidAt: order.paidAt,
    deliveredAt,
    code,
    verifyUrl: `${url}/receipt/verify?no=${encodeURIComponent(order.no)}&code=${code}`,
  };
}

/** The receipt of a delivered order, for whoever may see the order (its owner, an admin, a guest with its token). */
export async function getReceipt(deps: Deps, no: string, viewer: { user?: User; token?: string }, origin: string): Promise<Receipt> {
  return toReceipt(deps, await getOrder(deps, no, viewer, false), origin);
}

/**
 * Checks a receipt by its order number and code. A match returns what the receipt should say, with
 * the order's status now; anything else is `{ valid: false }`, the same for an order that does not
 * exist as for a wrong code, so the page tells a guesser nothing.
 */
export async function verifyReceipt(
  deps: Deps,
  input: { no: string; code: string },
  origin: string,
): Promise<{ valid: true; receipt: Receipt } | { valid: false }> {
  const no = input.no.trim().toUpperCase();
  const code = input.code.toUpperCase().replace(/[^0-9A-F]/g, '');
  if (!no || no.length > 32 || code.length !== 20) return { valid: false };
  const row = await deps.db
    .read('orders')
    .where('no', no)
    .first('no', 'title', 'quantity', 'unit_price', 'amount', 'coupon_code', 'discount', 'currency', 'payment', 'status', 'created_at', 'paid_at', 'delivered_at');
  if (!row || row.delivered_at === null) return { valid: false };
  const receipt = toReceipt(
    deps,
    {
      no: row.no,
      title: row.title,
      quantity: Number(row.quantity),
      unitPrice: Number(row.unit_price),
      amount: Number(row.amount),
      coupon: row.coupon_code ?? null,
      discount: Number(row.discount),
      currency: row.currency,
      payment: row.payment,
      status: row.status,
      createdAt: Number(row.created_at),
      paidAt: row.paid_at === null ? null : Number(row.paid_at),
      deliveredAt: Number(row.delivered_at),
    },
    origin,
  );
  return safeEqual(receipt.code.replace(/-/g, ''), code) ? { valid: true, receipt } : { valid: false };
}
