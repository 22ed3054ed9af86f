import { z } from 'zod';
import { Secret, type Localized } from '@cardshop/core';

/** Buyer-facing names of the usual epay `type` values. */
export const TYPE_LABELS: Readonly<Record<string, Localized>> = {
  alipay: { 'zh-CN': '支付宝', en: 'Alipay' },
  wxpay: { 'zh-CN': '微信支付', en: 'WeChat Pay' },
  qqpay: { 'zh-CN': 'QQ钱包', en: 'QQ Wallet' },
  bank: { 'zh-CN': '云闪付', en: 'UnionPay' },
  jdpay: { 'zh-CN': '京东支付', en: 'JD Pay' },
  paypal: { 'zh-CN': 'PayPal', en: 'PayPal' },
  usdt: { 'zh-CN': 'USDT', en: 'USDT' },
};

const ENDPOINT_FILE = /\/(?:submit|mapi|api)\.php$/i;

/**
 * "https://pay.example.com/", "https://pay.example.com/submit.php" and "https://pay.example.com"
 * all become "https://pay.example.com"; a path prefix ("https://example.com/epay/") is kept.
 */
export function normaliseApiUrl(input: string): string | null {
  let url: URL;
  try {
    url = new URL(input.trim());
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.username || url.password) return null;
  let path = url.pathname.replace(/\/+$/, '');
  path = path.replace(ENDPOINT_FILE, '').replace(/\/+$/, '');
  return `${url.protocol}//${url.host}${path}`;
}

const GATEWAY_ID = /^[a-z0-9][a-z0-9-]{0,31}$/;

export const settingsSchema = z
  .object({
    /** The epay site's API base URL, e.g. https://pay.example.com (trailing slash and submit.php are dropped). */
    apiUrl: z
      .string({ error: 'required: the base URL of your epay site, e.g. https://pay.example.com' })
      .transform((v, ctx) => {
        const url = normaliseApiUrl(v);
        if (url === null) {
          ctx.addIssue({ code: 'custom', message: `"${v}" is not an http(s) URL such as https://pay.example.com` });
          return z.NEVER;
        }
        return url;
      })
      .describe('epay API address / 接口地址'),
    /** 商户ID. */
    pid: z
      .union([z.string(), z.number().int().nonnegative()], { error: 'required: your merchant id (商户ID)' })
      .transform((v) => String(v).trim())
      .pipe(z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'must be the merchant id (商户ID) from the epay dashboard, e.g. 1001'))
      .describe('merchant id / 商户ID'),
    /** 商户密钥 (MD5 key). */
    key: z
      .string({ error: 'required: your merchant key (商户密钥)' })
      .trim()
      .min(1, 'required: your merchant key (商户密钥)')
      .transform((v) => new Secret(v))
      .describe('merchant key / 商户密钥')
      .meta({ secret: true }),
    /** Payment types offered: alipay, wxpay, qqpay, bank, jdpay… */
    types: z
      .array(z.string().trim().regex(/^[a-z0-9_]{1,20}$/, 'an epay type such as alipay, wxpay or qqpay'))
      .min(1, 'offer at least one type, e.g. ["alipay", "wxpay"]')
      .transform((list) => [...new Set(list)])
      .default(['alipay', 'wxpay']),
    /** 'redirect': the buyer goes to submit.php; 'api': the shop calls mapi.php and shows its payurl or QR code. */
    mode: z.enum(['redirect', 'api']).default('redirect'),
    /** One gateway per type (`<id>-alipay`, `<id>-wxpay`) so the buyer picks the type in the shop. */
    perType: z.boolean().default(false),
    /** Gateway id: the notify URL is <publicUrl>/pay/<id>/notify. */
    id: z
      .string()
      .regex(GATEWAY_ID, 'lowercase letters, digits and dashes, at most 32')
      .refine((v) => v !== 'wallet', '"wallet" is reserved')
      .default('epay'),
    label: z
      .object({ 'zh-CN': z.string().trim().min(1), en: z.string().trim().min(1) })
      .default({ 'zh-CN': '易支付', en: 'Epay' }),
    /** Optional `sitename` sent with each payment. */
    sitename: z.string().trim().max(64).optional(),
    /** Timeout of each call to the epay site. */
    timeoutMs: z.number().int().min(1000).max(60_000).default(10_000),
  })
  .superRefine((s, ctx) => {
    if (s.mode === 'api' && !s.perType && s.types.length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['types'],
        message: `mode "api" calls mapi.php, which needs one type per payment: offer one type, or set perType: true to get one gateway per type (${s.types.join(', ')})`,
      });
    }
    if (s.perType) {
      for (const type of s.types) {
        if (!GATEWAY_ID.test(`${s.id}-${type.replace(/_/g, '-')}`)) {
          ctx.addIssue({ code: 'custom', path: ['id'], message: `gateway id "${s.id}-${type}" would be longer than 32 characters` });
        }
      }
    }
  });

export type EpaySettingsInput = z.input<typeof settingsSchema>;
export type EpaySettings = z.output<typeof settingsSchema>;
