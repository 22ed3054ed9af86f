/**
 * USDT amounts are integers of micro-USDT (6 decimals, as the TRC20 token counts them); rates are
 * integers of micro-CNY per USDT. Nothing here is a float, so a price converts the same way on
 * every machine and a transfer's value compares exactly.
 */

/** "7.2", "7.25", 7.2 → micro-units (7_200_000); null unless a positive decimal of at most 6 places. */
export function parseMicro(value: string | number): bigint | null {
  const text = typeof value === 'number' ? (Number.isFinite(value) ? String(value) : '') : value.trim();
  const m = /^(\d{1,12})(?:\.(\d{1,6}))?$/.exec(text);
  if (!m) return null;
  const micro = BigInt(m[1]!) * 1_000_000n + BigInt((m[2] ?? '').padEnd(6, '0'));
  return micro > 0n ? micro : null;
}

/** Micro-units as a decimal with exactly `places` decimals: 1_388_900n, 4 → "1.3889". */
export function formatMicro(micro: bigint, places: number): string {
  const whole = micro / 1_000_000n;
  const frac = (micro % 1_000_000n).toString().padStart(6, '0').slice(0, places);
  return places ? `${whole}.${frac}` : `${whole}`;
}

/** The decimals a step shows: 100n (0.0001) → 4. */
export function placesOf(step: bigint): number {
  let places = 6;
  for (let s = step; places > 0 && s % 10n === 0n; s /= 10n) places--;
  return places;
}

/** What `fen` CNY costs in micro-USDT at `rate` (micro-CNY per USDT), rounded up to a whole `step`. */
export function usdtFor(fen: number, rate: bigint, step: bigint): bigint {
  // fen / 100 CNY ÷ (rate / 10^6) CNY per USDT × 10^6 micro-USDT per USDT
  const exact = BigInt(fen) * 10_000_000_000n;
  const micro = (exact + rate - 1n) / rate;
  return ((micro + step - 1n) / step) * step;
}

/** What `micro` USDT is worth in fen at `rate`, rounded down (money kept for a buyer never exceeds what came in). */
export function fenFor(micro: bigint, rate: bigint): number {
  return Number((micro * rate) / 10_000_000_000n);
}

/** A TRC20 `value` (an integer string in the token's smallest unit) in micro-units; null if unreadable. */
export function tokenValueToMicro(value: unknown, decimals: number): bigint | null {
  if (typeof value !== 'string' || !/^\d{1,40}$/.test(value) || !Number.isInteger(decimals) || decimals < 0 || decimals > 30) return null;
  const v = BigInt(value);
  if (decimals === 6) return v;
  if (decimals > 6) {
    const unit = 10n ** BigInt(decimals - 6);
    // A fraction of a micro-unit cannot be an exact payment amount: keep it unreadable rather than round.
    return v % unit === 0n ? v / unit : null;
  }
  return v * 10n ** BigInt(6 - decimals);
}
