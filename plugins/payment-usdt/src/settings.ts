import { z } from 'zod';
import { Secret } from '@cardshop/core';
import { parseMicro } from './amounts.js';
import { isTronAddress, USDT_CONTRACT } from './tron.js';

const GATEWAY_ID = /^[a-z0-9][a-z0-9-]{0,31}$/;

/** A positive decimal of at most 6 places, kept as its text (settings stay JSON; the code reads micro-units with parseMicro). */
const decimal = (what: string) =>
  z
    .union([z.string(), z.number()])
    .transform((v) => String(v).trim())
    .refine((v) => parseMicro(v) !== null, `${what}: a positive number with at most 6 decimals`);

/** What happens to a transfer that came after its order's window, or with another amount. */
const policy = z.enum(['review', 'wallet', 'accept']);
export type Policy = z.output<typeof policy>;

export const settingsSchema = z
  .object({
    /** Receiving TRC20 addresses (T…); orders are spread over them, each amount unique per address. */
    addresses: z
      .array(z.string().trim().refine(isTronAddress, 'not a TRON address (T…, 34 characters, checksum checked)'), {
        error: 'required: at least one receiving TRC20 address (T…)',
      })
      .min(1, 'required: at least one receiving TRC20 address (T…)')
      .transform((list) => [...new Set(list)])
      .describe('receiving TRC20 addresses / 收款地址'),
    /** CNY per USDT, e.g. 7.2; with `rateSource`, the fallback while the source cannot be read. */
    rate: decimal('rate').optional().describe('CNY per USDT / 汇率'),
    /**
     * A JSON rate source: `url` answers JSON, `path` (dots) leads to the CNY-per-USDT number in it,
     * read every `refreshMinutes`; older than `maxAgeMinutes`, `rate` is used (or payments refused).
     */
    rateSource: z
      .object({
        url: z.url({ protocol: /^https?$/, error: 'an http(s) URL that answers JSON' }),
        path: z.string().trim().regex(/^[\w-]+(?:\.[\w-]+)*$/, 'dot-separated keys, e.g. "data.rate"'),
        refreshMinutes: z.number().int().min(1).max(1440).default(10),
        maxAgeMinutes: z.number().int().min(1).max(10_080).default(60),
      })
      .optional(),
    /** The unique-amount increment: each open order on an address differs by at least this much. */
    step: decimal('step').default('0.0001'),
    /** How many increments over the price may be tried before an address counts as full. */
    maxSteps: z.number().int().min(1).max(100_000).default(100),
    /** How long the buyer has to pay (the order's own deadline, if sooner, wins). */
    expiryMinutes: z.number().int().min(1).max(1440).default(20),
    /** How long after that an amount stays reserved, so a late transfer still finds its order. */
    lateMinutes: z.number().int().min(0).max(10_080).default(60),
    /** A transfer after the window: `review` (the console lists it), `wallet` (kept for the buyer), `accept` (the order is paid). */
    late: policy.default('review'),
    /** A transfer off the amount (within `tolerancePercent` of one order only): the same three choices. */
    mismatch: policy.default('review'),
    /** How far off an amount may be and still be taken for its order (when no other order is as close). */
    tolerancePercent: z.number().min(0).max(50).default(5),
    /** A TronGrid-compatible API. */
    apiUrl: z.url({ protocol: /^https?$/ }).default('https://api.trongrid.io').transform((u) => u.replace(/\/+$/, '')),
    /** TronGrid's TRON-PRO-API-KEY (higher rate limits). */
    apiKey: z
      .string()
      .trim()
      .min(1)
      .transform((v) => new Secret(v))
      .optional()
      .meta({ secret: true }),
    contract: z.string().trim().refine(isTronAddress, 'not a TRON contract address').default(USDT_CONTRACT),
    /** How often the chain is read; 0: only when asked (the console's "scan now", tests). */
    pollSeconds: z.number().int().min(0).max(3600).default(15),
    timeoutMs: z.number().int().min(1000).max(60_000).default(10_000),
    id: z
      .string()
      .regex(GATEWAY_ID, 'lowercase letters, digits and dashes, at most 32')
      .refine((v) => v !== 'wallet', '"wallet" is reserved')
      .default('usdt'),
    label: z.object({ 'zh-CN': z.string().trim().min(1), en: z.string().trim().min(1) }).default({ 'zh-CN': 'USDT (TRC20)', en: 'USDT (TRC20)' }),
  })
  .superRefine((s, ctx) => {
    if (s.rate === undefined && !s.rateSource) ctx.addIssue({ code: 'custom', path: ['rate'], message: 'set a rate (CNY per USDT, e.g. 7.2) or a rateSource' });
    if (s.step && parseMicro(s.step)! > 1_000_000n) ctx.addIssue({ code: 'custom', path: ['step'], message: 'at most 1 USDT' });
  });

export type UsdtSettingsInput = z.input<typeof settingsSchema>;
export type UsdtSettings = z.output<typeof settingsSchema>;
