/**
 * Money is always an integer count of the currency's minor unit (fen for CNY).
 * Parsing and formatting go through strings so that no float ever touches an amount.
 */

const MINOR_DIGITS = 2;
const MAX_MINOR = Number.MAX_SAFE_INTEGER;

export type Minor = number;

/** Parses "12", "12.3", "12.34", "-5.00" into minor units; returns null for anything else. */
export function parseMoney(text: string): Minor | null {
  const m = /^(-)?(\d{1,13})(?:\.(\d{1,2}))?$/.exec(text.trim());
  if (!m) return null;
  const whole = Number(m[2]);
  const frac = Number((m[3] ?? '').padEnd(MINOR_DIGITS, '0'));
  const minor = whole * 100 + frac;
  return m[1] ? -minor : minor;
}

export function isMinor(n: unknown): n is Minor {
  return Number.isSafeInteger(n) && Math.abs(n as number) <= MAX_MINOR;
}

/** 1234 -> "12.34" */
export function toDecimalString(minor: Minor): string {
  const sign = minor < 0 ? '-' : '';
  const abs = Math.abs(minor);
  const whole = Math.trunc(abs / 100);
  const frac = String(abs % 100).padStart(MINOR_DIGITS, '0');
  return `${sign}${whole}.${frac}`;
}

const SYMBOLS: Record<string, string> = { CNY: '¥', USD: '$', EUR: '€' };

/** 123456 -> "¥1,234.56" */
export function formatMoney(minor: Minor, currency = 'CNY'): string {
  const [whole, frac] = toDecimalString(Math.abs(minor)).split('.') as [string, string];
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${minor < 0 ? '-' : ''}${SYMBOLS[currency] ?? `${currency} `}${grouped}.${frac}`;
}

/** Multiplies a unit price by a quantity, refusing results that are not exact integers. */
export function multiply(unit: Minor, quantity: number): Minor {
  const total = unit * quantity;
  if (!Number.isSafeInteger(total)) throw new RangeError('amount out of range');
  return total;
}
