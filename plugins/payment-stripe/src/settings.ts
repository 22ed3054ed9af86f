import { z } from 'zod';

/**
 * Currencies this gateway charges in. All are two-decimal currencies on Stripe, so the shop's
 * minor units (fen, cents: always 2 digits in @cardshop/core) are exactly Stripe's `unit_amount`.
 * Zero-decimal currencies (JPY, KRW, VND, …) and three-decimal ones (BHD, KWD, …) would need a
 * conversion the core's money model does not express, so they are refused rather than mis-charged.
 */
export const SUPPORTED_CURRENCIES = ['cny', 'usd', 'eur', 'gbp', 'hkd', 'sgd', 'aud', 'cad'] as const;
export type StripeCurrency = (typeof SUPPORTED_CURRENCIES)[number];

/** Stripe's zero-decimal currencies: named in the error so the operator knows why. */
const ZERO_DECIMAL = new Set([
  'bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf',
]);

export function isSupportedCurrency(code: string): code is StripeCurrency {
  return (SUPPORTED_CURRENCIES as readonly string[]).includes(code);
}

export function unsupportedCurrencyMessage(code: string): string {
  const why = ZERO_DECIMAL.has(code) ? ' (a zero-decimal currency on Stripe)' : '';
  return `currency "${code}"${why} is not supported by the Stripe gateway; use one of ${SUPPORTED_CURRENCIES.join(', ')}`;
}

const currencySchema = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(SUPPORTED_CURRENCIES, { error: (issue) => unsupportedCurrencyMessage(String(issue.input)) }));

const labelSchema = z
  .union([z.string().min(1), z.object({ 'zh-CN': z.string().min(1), en: z.string().min(1) })])
  .transform((l) => (typeof l === 'string' ? { 'zh-CN': l, en: l } : l));

export const settingsSchema = z.object({
  /** Secret (`sk_…`) or restricted (`rk_…`) API key. */
  secretKey: z
    .string()
    .trim()
    .regex(/^(sk|rk)_[A-Za-z0-9_]+$/, 'must be a secret key (sk_live_…, sk_test_…) or a restricted key (rk_…), not a publishable key'),
  /** The signing secret of the webhook endpoint (`whsec_…`), from the Dashboard or `stripe listen`. */
  webhookSecret: z.string().trim().regex(/^whsec_\S+$/, 'must be the endpoint signing secret, whsec_…'),
  /** The currency of every order this gateway takes: the shop's currency. */
  currency: currencySchema.default('cny'),
  /** The gateway id, the URL segment of /pay/<id>/notify. */
  id: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'lowercase letters, digits and dashes, at most 32')
    .refine((id) => id !== 'wallet', 'the id "wallet" is reserved')
    .default('stripe'),
  /** What the buyer sees when choosing how to pay. */
  label: labelSchema.default({ 'zh-CN': 'Stripe（银行卡 / 钱包）', en: 'Stripe (cards and wallets)' }),
  /** Only for stripe-mock or tests: where the SDK sends API requests instead of api.stripe.com. */
  apiHost: z.string().min(1).optional(),
  apiPort: z.number().int().min(1).max(65535).optional(),
  apiProtocol: z.enum(['http', 'https']).optional(),
});

export type StripeSettings = z.output<typeof settingsSchema>;
export type StripeSettingsInput = z.input<typeof settingsSchema>;
