/**
 * The supplier connector interface that plugins implement (a top-up supplier's HTTP API, an
 * upstream cardshop, …). Every method takes one input object and returns one output object, so
 * fields can be added in a minor release without breaking a connector. The core owns everything
 * around it: which supplier to ask (routing), the order's state, exactly-once delivery, refunds.
 *
 * Idempotency: our order number is the `reference` of every call. A connector must pass it to the
 * supplier as the supplier's merchant order number (or idempotency key), so that placing the same
 * reference twice never makes a second order at the supplier.
 */
import type { CardKey } from '../inventory/parse.js';
import type { InputField } from '../catalog/fields.js';
import type { Localized, NotifyReply, NotifyRequest } from '../plugins/payment.js';

/** How a supplier answered about one order. */
export type SupplierResult =
  /** Done: keys (cards) or a receipt (a top-up's confirmation), and what it cost, when known. */
  | { status: 'delivered'; keys?: CardKey[]; receipt?: string; cost?: number; supplierOrderNo?: string }
  /** Accepted; the result comes later by callback or by query. */
  | { status: 'pending'; supplierOrderNo?: string }
  /**
   * Not done. `retryable`: the supplier did not take the order and asking again later may work
   * (maintenance, rate limit); otherwise the supplier refused it for good (no stock, bad account)
   * and the next supplier is tried.
   */
  | { status: 'failed'; retryable: boolean; reason: string };

export interface PlaceOrderInput {
  /** Our order number: the idempotency reference. */
  reference: string;
  /** The supplier's code for the product, from the SKU's route. */
  sku: string;
  quantity: number;
  /** The buyer's input (account, server, phone), validated against the product's fields. */
  fields: Record<string, string>;
  /** Where the supplier may send its asynchronous result: `<shop>/supplier/<id>/callback`. */
  callbackUrl: string;
  /** Aborted when the delivery job runs out of time. */
  signal?: AbortSignal;
}

export interface QueryOrderInput {
  reference: string;
  sku: string;
  /** The supplier's own number, when an earlier answer gave one. */
  supplierOrderNo?: string;
  signal?: AbortSignal;
}

/** `unknown`: the supplier has no order under this reference (it never arrived). */
export type SupplierQueryResult = SupplierResult | { status: 'unknown' };

/** A callback normalised: which order it is about and what it says, or why it was refused. */
export type CallbackResult =
  | { reference: string; result: SupplierResult; reply: NotifyReply }
  | { invalid: string; reply: NotifyReply };

export interface SupplierProduct {
  /** The supplier's code, used as `sku` in placeOrder. */
  sku: string;
  name: string;
  /** The product the SKU belongs to and its category, for importing a catalog. */
  product: string;
  category?: string;
  description?: string;
  /** `card` when the supplier sells keys, `direct` for a top-up. */
  type: 'card' | 'direct';
  /** What one unit costs us (minor units). */
  cost: number;
  /** Units available; null when the supplier does not say. */
  stock: number | null;
  fields?: InputField[];
  minQuantity?: number;
  maxQuantity?: number | null;
}

export interface SupplierConnector {
  /** Unique in the shop; the URL segment of /supplier/<id>/callback. Lowercase letters, digits, dashes. */
  id: string;
  label: Localized;
  placeOrder(input: PlaceOrderInput): Promise<SupplierResult>;
  queryOrder(input: QueryOrderInput): Promise<SupplierQueryResult>;
  /** Verifies and reads an asynchronous result sent to /supplier/<id>/callback. */
  handleCallback?(input: NotifyRequest): Promise<CallbackResult>;
  /** The supplier's catalog, for importing it and keeping cost and stock in sync. */
  listProducts?(input: { signal?: AbortSignal }): Promise<{ products: SupplierProduct[] }>;
  /** Stock and cost of some of the supplier's SKUs. */
  stock?(input: { skus: string[]; signal?: AbortSignal }): Promise<{ items: Array<{ sku: string; stock: number | null; cost?: number }> }>;
  /** Our balance at the supplier; `low` when it is below the connector's alert level. */
  balance?(input: { signal?: AbortSignal }): Promise<{ balance: number; currency: string; low?: boolean }>;
  /**
   * Import the supplier's catalog and keep it in sync (the operator's settings of the plugin). The
   * SKUs routed to this supplier are then the import's: their price follows cost by its markup.
   */
  catalog?: CatalogImport;
}

/** How an operator imports a supplier's catalog: which categories, at what markup over cost. */
export interface CatalogImport {
  /** Supplier categories to import; all when absent. */
  categories?: string[];
  /** Selling price = cost × (1 + percent/100) + fixed (minor units), rounded up to a whole fen. */
  markupPercent: number;
  markupFixed?: number;
  /** Local SKU codes are `<prefix><supplier sku>`. */
  skuPrefix?: string;
  /** How often cost, stock and prices are synced (minutes); 0 syncs only on demand. */
  syncMinutes?: number;
}
