import { z } from 'zod';

/** Each rule blocks, only records what it would have blocked (dry run), or is off. */
const mode = () => z.enum(['block', 'dry-run', 'off']).default('block');
const count = (n: number) => z.number().int().min(1).default(n);
const minutes = (n: number) => z.number().int().min(1).max(7 * 24 * 60).default(n);
/** Minor units (fen). */
const fen = (n: number) => z.number().int().min(1).default(n);
const points = (n: number) => z.number().int().min(0).max(1000).default(n);
const list = (clean: (v: string) => string = (v) => v) => z.array(z.string().trim().min(1).transform(clean)).default([]);

/**
 * The rules on checkout and top-up, flat so the admin renders them as one form. The defaults are
 * the rule set the attack test (test/risk-attacks.test.ts) measures.
 */
export const settingsSchema = z.object({
  ipMode: mode().describe('orders per IP / 同一 IP 下单频率'),
  ipMaxOrders: count(8).describe('at most this many per IP in the window'),
  ipWindowMinutes: minutes(10),
  deviceMode: mode().describe('orders per browser (device cookie) / 同一设备下单频率'),
  deviceMaxOrders: count(5),
  deviceWindowMinutes: minutes(10),
  contactMode: mode().describe('orders per contact, and the IPs one contact uses / 同一联系方式下单频率与 IP 数'),
  contactMaxOrders: count(5),
  contactMaxIps: count(3),
  contactWindowMinutes: minutes(60),
  userMode: mode().describe('orders per account / 同一账户下单频率'),
  userMaxOrders: count(5),
  userWindowMinutes: minutes(10),
  limitsMode: mode().describe('amount and quantity of one order or top-up / 单笔金额与数量上限'),
  maxOrderAmount: fen(500_000).describe('one order, in fen / 单笔订单金额（分）'),
  maxOrderQuantity: count(100),
  maxTopupAmount: fen(1_000_000).describe('one top-up, in fen / 单笔充值金额（分）'),
  dailyMode: mode().describe('per account and day, purchases and top-ups each (AML) / 每日累计限额'),
  dailyAmountPerUser: fen(2_000_000).describe('in fen / 每日累计（分）'),
  blacklistMode: mode().describe('blacklists / 黑名单'),
  blockIps: list().describe('IPs or IPv4 ranges (203.0.113.0/24)'),
  blockContacts: list((v) => v.toLowerCase()).describe('e-mail addresses or phone numbers'),
  // A secret field: the admin never shows these numbers back; the form sends them as one string.
  blockIdNumbers: z
    .union([z.array(z.string()), z.string()])
    .transform((v) => (Array.isArray(v) ? v : v.split(/[,;\s]+/)).map((id) => id.trim().toUpperCase()).filter(Boolean))
    .default([])
    .describe('ID card numbers, matched against users\' verified identity / 身份证号黑名单')
    .meta({ secret: true }),
  blockDevices: list().describe('device ids, as the decisions list shows them'),
  newAccountMode: mode().describe('first orders of new accounts / 新账户首单限制'),
  newAccountHours: z.number().int().min(1).max(24 * 90).default(24).describe('an account is new for this many hours'),
  newAccountMaxOrders: count(3),
  newAccountMaxAmount: fen(20_000).describe('one order of a new account, in fen'),
  newAccountMaxQuantity: count(5),
  // The review score: checkouts no rule refuses but that look like an attack add up the points of
  // the signals they show; at reviewScore their delivery waits for an admin (/plugins/risk/review).
  reviewMode: z.enum(['hold', 'dry-run', 'off']).default('hold').describe('hold scored orders for review / 评分达到阈值的订单暂停发货、人工审核'),
  reviewScore: z.number().int().min(1).max(1000).default(60).describe('hold at this many points / 审核阈值（分）'),
  scoreNoDevice: points(40).describe('a checkout from a client that keeps no cookies / 不保存 Cookie 的客户端'),
  scoreVelocity: points(40).describe('over half of a velocity limit (IP, device, contact or account) / 超过任一频率上限的一半'),
  scoreIpSpread: points(40).describe('a contact, browser or account seen from spreadIps or more IPs in its window / 同一联系方式、设备或账户使用多个 IP'),
  spreadIps: count(3),
  scoreSharedDevice: points(40).describe('one browser ordering for two or more contacts / 同一设备使用多个联系方式'),
  scoreNewAccount: points(20).describe('an account younger than newAccountHours / 新注册账户'),
});

export type RiskSettingsInput = z.input<typeof settingsSchema>;
export type RiskSettings = z.output<typeof settingsSchema>;
