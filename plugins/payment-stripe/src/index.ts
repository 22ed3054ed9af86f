/**
 * @cardshop/plugin-payment-stripe: Stripe Checkout as a cardshop payment gateway.
 *
 * In cardshop.config.ts: `plugins: [stripe({ secretKey, webhookSecret, currency: 'cny' })]`; in
 * Stripe, send the events checkout.session.completed, checkout.session.async_payment_succeeded,
 * checkout.session.async_payment_failed, checkout.session.expired and charge.refunded to
 * `<publicUrl>/pay/stripe/notify`.
 */
import { definePlugin } from '@cardshop/core';
import { createStripeGateway, PLUGIN_VERSION } from './gateway.js';
import { settingsSchema } from './settings.js';

const stripe = definePlugin({
  name: 'stripe',
  version: PLUGIN_VERSION,
  core: '>=0.1.0 <1.0.0',
  settings: settingsSchema,
  setup(ctx) {
    ctx.paymentGateway(createStripeGateway(ctx.settings, { log: ctx.log }));
  },
});

export default stripe;
export { createStripeGateway, checkoutIdempotencyKey, RECEIVED, RETRY } from './gateway.js';
export { settingsSchema, SUPPORTED_CURRENCIES, type StripeSettings, type StripeSettingsInput, type StripeCurrency } from './settings.js';
