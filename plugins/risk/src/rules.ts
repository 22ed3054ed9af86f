import type { Localized } from '@cardshop/core';
import type { RiskSettings } from './settings.js';

/** What is being attempted: an order at checkout, or a wallet top-up. */
export interface Attempt {
  kind: 'checkout' | 'topup';
  userId: number | null;
  ip: string | null;
  device: string | null;
  contact: string | null;
  skuId: number | null;
  quantity: number;
  amount: number;
  /** Through the Agent API with a signed key: a program of a known buyer, which has no device id. */
  api?: boolean;
}

/** What the database says about the attempt's neighbours; a rule that is off needs none of it. */
export interface Facts {
  /** Attempts in each rule's window, this one included. */
  ipAttempts: number;
  deviceAttempts: number;
  contactAttempts: number;
  contactIps: number;
  userAttempts: number;
  /** The user's accepted attempts of this kind in the last 24 hours, before this one. */
  userDailyAmount: number;
  /** Null for guests. */
  accountAgeMs: number | null;
  /** The user's accepted orders before this one. */
  userOrders: number;
  /** The fingerprint of the user's verified ID number. */
  idFingerprint: string | null;
  /** Distinct IPs of the browser (device window) and of the account (user window), this attempt's included. */
  deviceIps: number;
  userIps: number;
  /** Distinct contacts the browser ordered for in its window, this attempt's included. */
  deviceContacts: number;
}

export const RULES = ['blacklist', 'limits', 'new-account', 'daily', 'ip', 'device', 'contact', 'user'] as const;
export type Rule = (typeof RULES)[number];

const MODE: Record<Rule, keyof RiskSettings> = {
  blacklist: 'blacklistMode',
  limits: 'limitsMode',
  'new-account': 'newAccountMode',
  daily: 'dailyMode',
  ip: 'ipMode',
  device: 'deviceMode',
  contact: 'contactMode',
  user: 'userMode',
};

export const modeOf = (s: RiskSettings, rule: Rule) => s[MODE[rule]] as 'block' | 'dry-run' | 'off';

/** What the buyer is told. Velocity rules say "too often" without naming the limit. */
export const REASONS: Record<Rule, Localized> = {
  blacklist: { 'zh-CN': '该交易无法受理，请联系客服', en: 'This cannot be accepted; please contact support' },
  limits: { 'zh-CN': '单笔金额或数量超出本店限制', en: 'This exceeds the shop\'s limit for one order' },
  'new-account': { 'zh-CN': '新注册账户的前几笔订单有金额和数量限制，请减少数量或稍后再试', en: 'New accounts have limits on their first orders; order fewer or try again later' },
  daily: { 'zh-CN': '已超出每日交易限额', en: 'This exceeds your daily limit' },
  ip: { 'zh-CN': '操作过于频繁，请稍后再试', en: 'Too many attempts in a short time; please try again later' },
  device: { 'zh-CN': '操作过于频繁，请稍后再试', en: 'Too many attempts in a short time; please try again later' },
  contact: { 'zh-CN': '操作过于频繁，请稍后再试', en: 'Too many attempts in a short time; please try again later' },
  user: { 'zh-CN': '操作过于频繁，请稍后再试', en: 'Too many attempts in a short time; please try again later' },
};

/** Whether an IPv4 or IPv6 address is listed, exactly or (IPv4) inside a listed range `a.b.c.d/nn`. */
export function ipListed(ip: string, list: readonly string[]): boolean {
  const v4 = (a: string) => {
    const parts = a.split('.').map(Number);
    return parts.length === 4 && parts.every((p) => Number.isInteger(p) && p >= 0 && p <= 255) ? parts.reduce((n, p) => n * 256 + p, 0) : null;
  };
  const addr = v4(ip.replace(/^::ffff:/, ''));
  return list.some((entry) => {
    if (entry === ip) return true;
    const [base, bits] = entry.split('/');
    const net = v4(base ?? '');
    if (addr === null || net === null || bits === undefined) return false;
    const size = 2 ** (32 - Number(bits));
    return Number.isInteger(size) && Math.floor(addr / size) === Math.floor(net / size);
  });
}

/** Whether `rule` would refuse the attempt, whatever its mode. */
function fires(rule: Rule, s: RiskSettings, a: Attempt, f: Facts, blockedIds: ReadonlySet<string>): boolean {
  switch (rule) {
    case 'blacklist':
      return Boolean(
        (a.ip && ipListed(a.ip, s.blockIps)) ||
          (a.contact && s.blockContacts.includes(a.contact)) ||
          (a.device && s.blockDevices.includes(a.device)) ||
          (f.idFingerprint && blockedIds.has(f.idFingerprint)),
      );
    case 'limits':
      return a.kind === 'topup' ? a.amount > s.maxTopupAmount : a.amount > s.maxOrderAmount || a.quantity > s.maxOrderQuantity;
    case 'new-account':
      return (
        a.kind === 'checkout' &&
        f.accountAgeMs !== null &&
        f.accountAgeMs < s.newAccountHours * 3_600_000 &&
        (f.userOrders >= s.newAccountMaxOrders || a.amount > s.newAccountMaxAmount || a.quantity > s.newAccountMaxQuantity)
      );
    case 'daily':
      return a.userId !== null && f.userDailyAmount + a.amount > s.dailyAmountPerUser;
    case 'ip':
      return a.ip !== null && f.ipAttempts > s.ipMaxOrders;
    case 'device':
      return a.device !== null && f.deviceAttempts > s.deviceMaxOrders;
    case 'contact':
      return a.contact !== null && (f.contactAttempts > s.contactMaxOrders || f.contactIps > s.contactMaxIps);
    case 'user':
      return a.userId !== null && f.userAttempts > s.userMaxOrders;
  }
}

/** Signals of the review score, each worth its setting's points. */
export const SIGNALS = ['no-device', 'velocity', 'ip-spread', 'shared-device', 'new-account'] as const;
export type Signal = (typeof SIGNALS)[number];

const POINTS: Record<Signal, keyof RiskSettings> = {
  'no-device': 'scoreNoDevice',
  velocity: 'scoreVelocity',
  'ip-spread': 'scoreIpSpread',
  'shared-device': 'scoreSharedDevice',
  'new-account': 'scoreNewAccount',
};

/** Whether a checkout shows a signal. None alone reaches the default threshold: it takes two. */
function shows(signal: Signal, s: RiskSettings, a: Attempt, f: Facts): boolean {
  switch (signal) {
    case 'no-device':
      return a.device === null && !a.api;
    case 'velocity':
      return (
        (a.ip !== null && f.ipAttempts > s.ipMaxOrders / 2) ||
        (a.device !== null && f.deviceAttempts > s.deviceMaxOrders / 2) ||
        (a.contact !== null && f.contactAttempts > s.contactMaxOrders / 2) ||
        (a.userId !== null && f.userAttempts > s.userMaxOrders / 2)
      );
    case 'ip-spread':
      return Math.max(f.contactIps, f.deviceIps, f.userIps) >= s.spreadIps;
    case 'shared-device':
      return f.deviceContacts >= 2;
    case 'new-account':
      return f.accountAgeMs !== null && f.accountAgeMs < s.newAccountHours * 3_600_000;
  }
}

/** A checkout's review score and the signals that make it up (top-ups are never held). */
export function score(s: RiskSettings, a: Attempt, f: Facts): { score: number; signals: Signal[] } {
  if (a.kind !== 'checkout' || s.reviewMode === 'off') return { score: 0, signals: [] };
  const signals = SIGNALS.filter((signal) => shows(signal, s, a, f) && (s[POINTS[signal]] as number) > 0);
  return { score: signals.reduce((sum, signal) => sum + (s[POINTS[signal]] as number), 0), signals };
}

export interface Decision {
  /** The rule that refuses the attempt. */
  block: Rule | null;
  /** Let through, with its delivery held for an admin's review. */
  hold: boolean;
  /** Rules in dry-run that would have refused it; `review` when the score would have held it. */
  flagged: Array<Rule | 'review'>;
  score: number;
  signals: Signal[];
}

/**
 * The decision: the first rule in `block` mode that fires refuses the attempt; rules in dry-run
 * that fire are only named (`flagged`), so an operator sees what a rule would do before using it.
 * An attempt no rule refuses is held for review when its score reaches `reviewScore`.
 */
export function evaluate(s: RiskSettings, a: Attempt, f: Facts, blockedIds: ReadonlySet<string>): Decision {
  let block: Rule | null = null;
  const flagged: Decision['flagged'] = [];
  for (const rule of RULES) {
    const mode = modeOf(s, rule);
    if (mode === 'off' || !fires(rule, s, a, f, blockedIds)) continue;
    if (mode === 'dry-run') flagged.push(rule);
    else block ??= rule;
  }
  const scored = score(s, a, f);
  const over = block === null && scored.score >= s.reviewScore;
  if (over && s.reviewMode === 'dry-run') flagged.push('review');
  return { block, hold: over && s.reviewMode === 'hold', flagged, ...scored };
}
