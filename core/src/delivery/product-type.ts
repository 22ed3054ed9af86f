/**
 * A product type a plugin adds beside the core's `card`, `direct` and `manual` (local-life
 * vouchers, say). The core sells it like any product; when an order of it is paid, the delivery
 * engine calls `deliver`, retrying after a retryable failure or a restart, and refunds the buyer
 * when it fails for good.
 *
 * ```ts
 * ctx.productType({
 *   name: 'voucher',
 *   label: { 'zh-CN': '到店券', en: 'Voucher' },
 *   async deliver({ reference, quantity }) {
 *     const codes = await issueVouchers(reference, quantity); // idempotent by reference
 *     return { status: 'delivered', keys: codes.map((card) => ({ card })) };
 *   },
 *   render: ({ keys }, { locale }) => keys.map((k) => `${locale === 'en' ? 'Code' : '券码'} ${k.card}`).join('\n'),
 * });
 * ```
 */
import type { CardKey } from '../inventory/parse.js';
import type { Locale } from '../i18n/messages.js';
import type { Localized } from '../plugins/payment.js';
import type { SupplierResult } from './supplier.js';

export interface DeliverInput {
  /** Our order number: the same on every retry, so a delivery is made once. */
  reference: string;
  /** The SKU's code in this shop. */
  sku: string;
  quantity: number;
  fields: Record<string, string>;
  /** This shop's address (its public URL), for links in the goods. */
  shopUrl: string;
  /** The shop's language, for text in the goods. */
  locale: Locale;
  /** Aborted when the delivery job runs out of time. */
  signal?: AbortSignal;
}

export interface ProductTypeDefinition {
  /** The products' `type`: lowercase letters, digits and dashes, up to 16 characters. */
  name: string;
  label: Localized;
  /**
   * Checks the buyer's input beyond the product's field rules, before anything is charged.
   * Returns errors by field name (`{ account: 'no such account' }`), or nothing.
   */
  validateInput?(input: { sku: string; quantity: number; fields: Record<string, string> }): Promise<Record<string, string> | void>;
  deliver(input: DeliverInput): Promise<SupplierResult>;
  /**
   * Goods that come from a supplier: a SKU of this type with supplier routes (`sku_suppliers`) is
   * bought through them like a `direct` one (failover, exactly once, refund when none can), and
   * what the supplier delivers is handed here first (a voucher records the code it returned), to
   * become what the buyer gets. May be called twice for one order (a callback and a poll): it must
   * be idempotent by `reference`. Without it, this type's SKUs never go to suppliers.
   */
  fromSupplier?(input: Omit<DeliverInput, 'signal'> & { keys: CardKey[]; receipt?: string }): Promise<{ keys?: CardKey[]; receipt?: string }>;
  /** The text the buyer sees for delivered goods; without it, keys are shown as keys and the receipt as text. */
  render?(goods: { keys: CardKey[]; receipt?: string }, opts: { locale: Locale }): string;
}
