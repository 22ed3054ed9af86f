/**
 * The payment gateway interface that plugins implement (epay, Alipay, WeChat Pay, Stripe, …).
 * Every method takes one input object and returns one output object, so fields can be added in a
 * minor release without breaking a gateway. The core owns everything around it: the order, the
 * amount check, idempotency, the state transitions and delivery.
 */

export type Localized = { 'zh-CN': string; en: string };

export interface CreatePaymentInput {
  /** Our order number: the gateway's out_trade_no / merchant reference, unique per order. */
  orderNo: string;
  /** Minor units (fen for CNY). */
  amount: number;
  currency: string;
  /** What the buyer sees on the gateway's page, e.g. "Steam 钱包充值卡 - ¥100 面值 ×1". */
  subject: string;
  /** Where the gateway must send its asynchronous notification: `<publicUrl>/pay/<id>/notify`. */
  notifyUrl: string;
  /** Where the buyer's browser comes back to: `<publicUrl>/pay/<id>/return?no=…`. */
  returnUrl: string;
  clientIp?: string;
  /** The buyer's device, when the gateway offers different flows (H5 vs. desktop QR). */
  device?: 'mobile' | 'desktop';
  /** When the order stops waiting for its money (epoch ms; its keys go back on sale); absent: it has no deadline. */
  expiresAt?: number;
}

/**
 * How the buyer pays: follow a link, scan a QR code, post a form to the gateway, or send exactly
 * `amount` of `asset` to `address` on `network` before `expiresAt` (a crypto transfer the gateway
 * watches for; the order page shows the address as a QR code and a countdown).
 */
export type PaymentAction =
  | { kind: 'redirect'; url: string }
  | { kind: 'qr'; content: string }
  | { kind: 'form'; action: string; method: 'POST' | 'GET'; fields: Record<string, string> }
  | { kind: 'transfer'; network: string; asset: string; address: string; amount: string; expiresAt: number };

export interface NotifyRequest {
  method: string;
  /** The path with its query string, as requested (for signatures that cover it; set for supplier callbacks). */
  path?: string;
  /** Lower-cased header names. */
  headers: Record<string, string | undefined>;
  query: Record<string, string>;
  /** The body exactly as received: signatures are computed over it. */
  rawBody: string;
  /** The body parsed by its content type (form or JSON), or `{}`. */
  body: Record<string, unknown>;
}

/** What the gateway must be answered, e.g. `success` for epay or `{"code":"SUCCESS"}` for WeChat Pay. */
export interface NotifyReply {
  status?: number;
  type?: string;
  body: string;
}

/**
 * A notification normalised to one small set of actions. `invalid` means the signature (or the
 * request) did not verify: the core changes nothing, logs it, and sends `reply`.
 */
export type NotifyResult =
  | { action: 'paid'; orderNo: string; amount: number; tradeNo: string; reply: NotifyReply; failReply: NotifyReply }
  | { action: 'failed' | 'refunded'; orderNo: string; tradeNo?: string; reply: NotifyReply; failReply: NotifyReply }
  | { action: 'ignored'; orderNo?: string; reply: NotifyReply; failReply: NotifyReply }
  | { action: 'invalid'; reason: string; reply: NotifyReply };

export interface QueryResult {
  status: 'paid' | 'pending' | 'failed' | 'unknown';
  amount?: number;
  tradeNo?: string;
}

export interface RefundInput {
  orderNo: string;
  tradeNo?: string;
  /** Minor units; the whole order unless a partial refund. */
  amount: number;
  /** Our refund number, the idempotency key: asking twice with it refunds once. */
  refundNo: string;
  reason: string;
}

export interface RefundResult {
  status: 'refunded' | 'pending' | 'failed';
  refundId?: string;
  reason?: string;
}

export interface PaymentGateway {
  /** Unique in the shop; the URL segment of /pay/<id>/notify. Lowercase letters, digits, dashes. */
  id: string;
  label: Localized;
  createPayment(input: CreatePaymentInput): Promise<PaymentAction>;
  verifyNotify(input: NotifyRequest): Promise<NotifyResult>;
  /** Asks the gateway for an order's state; used to confirm notifies and repair stuck orders. */
  query(input: { orderNo: string }): Promise<QueryResult>;
  refund(input: RefundInput): Promise<RefundResult>;
}
