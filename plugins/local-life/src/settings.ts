import { z } from 'zod';

/** The plugin's settings (the admin renders them as a form). Merchants, staff and voucher SKUs live in its tables. */
export const settingsSchema = z.object({
  sweepMinutes: z.number().int().min(1).max(24 * 60).default(10).describe('how often expired vouchers are settled / 过期券结算间隔（分钟）'),
  staffHours: z.number().int().min(1).max(24 * 30).default(12).describe('a staff sign-in lasts this long / 店员登录有效期（小时）'),
  pinWindowMinutes: z.number().int().min(1).max(24 * 60).default(15),
  pinTriesPerAddress: z.number().int().min(1).max(1000).default(10).describe('PIN tries per IP address in the window / 每个 IP 的 PIN 尝试次数'),
  pinTriesPerMerchant: z.number().int().min(1).max(10_000).default(30).describe('PIN tries per store in the window / 每个门店的 PIN 尝试次数'),
  pageViewsPerAddress: z.number().int().min(1).max(100_000).default(120).describe('voucher page views per IP address per 10 minutes / 券页面访问频率'),
});

export type LocalLifeSettings = z.output<typeof settingsSchema>;
export type LocalLifeSettingsInput = z.input<typeof settingsSchema>;
