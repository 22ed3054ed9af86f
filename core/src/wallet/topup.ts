import { z } from 'zod';
import type { User } from '../agents/users.js';
import type { Deps } from '../context.js';
import type { Database } from '../db/connect.js';
import { errors } from '../errors.js';
import type { CheckoutResult, RequestInfo } from '../orders/checkout.js';
import { placeGatewayOrder } from '../orders/payments.js';
import type { PaymentGateway } from '../plugins/payment.js';

/**
 * Wallet top-ups are orders of a hidden system product, so they are paid, confirmed, queried and
 * expired exactly like any gateway order; only `markPaid` differs, crediting the buyer's wallet
 * instead of revenue.
 */
const TOPUP = { category: '_system', product: '_wallet-topup', sku: '_TOPUP' } as const;

/** Creates the hidden top-up product (disabled, so no storefront lists it). */
export async function ensureTopupProduct(db: Database, now = Date.now()): Promise<void> {
  const knex = db.knex;
  await knex('categories').insert({ slug: TOPUP.category, name: 'System', sort: 0, enabled: false, created_at: now }).onConflict('slug').ignore();
  const category = await knex('categories').where('slug', TOPUP.category).first('id');
  await knex('products')
    .insert({ category_id: category.id, slug: TOPUP.product, name: '钱包充值 Wallet top-up', type: 'topup', fields: '[]', sort: 0, enabled: false, created_at: now, updated_at: now })
    .onConflict('slug')
    .ignore();
  const product = await knex('products').where('slug', TOPUP.product).first('id');
  await knex('skus')
    .insert({ product_id: product.id, code: TOPUP.sku, name: 'Top-up', price: 0, sort: 0, enabled: false, created_at: now, updated_at: now })
    .onConflict('code')
    .ignore();
}

export const topupSchema = z
  .object({
    /** Minor units: 1000 is ¥10.00. */
    amount: z.number({ error: 'field.integer' }).int('field.integer').min(100, 'field.min').max(10_000_000, 'field.max'),
    payment: z.string({ error: 'field.required' }).min(1, 'field.required').max(32, 'error.payment_unsupported'),
  })
  .strict();

/** Starts a top-up of the buyer's wallet through a gateway; the money arrives with the payment. */
export async function startTopup(
  deps: Deps,
  gateways: ReadonlyMap<string, PaymentGateway>,
  buyer: User | undefined,
  input: unknown,
  request?: RequestInfo,
): Promise<CheckoutResult> {
  if (!buyer) throw errors.unauthorized();
  const { amount, payment } = topupSchema.parse(input);
  const gateway = gateways.get(payment);
  if (!gateway) throw errors.validation({ payment: 'error.payment_unsupported' });
  await deps.hooks.check('before.topup', { buyer, amount, payment, ip: request?.ip ?? null, device: request?.device ?? null });
  const sku = await deps.db.knex('skus').join('products', 'products.id', 'skus.product_id').where('skus.code', TOPUP.sku).first('skus.id', 'skus.product_id');
  return placeGatewayOrder(
    deps,
    gateway,
    {
      userId: buyer.id,
      payment,
      skuId: sku.id,
      productId: sku.product_id,
      productType: 'topup',
      title: '钱包充值 Wallet top-up',
      quantity: 1,
      unitPrice: amount,
      amount,
      retail: amount,
      margins: [],
      siteId: null,
      contact: null,
      fields: {},
    },
    request,
  );
}
