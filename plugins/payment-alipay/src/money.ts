import { parseMoney, toDecimalString } from '@cardshop/core';

/** Alipay's limits on one trade: total_amount in [0.01, 100000000] yuan. */
export const MIN_FEN = 1;
export const MAX_FEN = 100_000_000 * 100;

/** Whole fen → Alipay's yuan string: 1234 → "12.34", 5 → "0.05". Refuses anything Alipay would not take. */
export function toYuan(fen: number): string {
  if (!Number.isSafeInteger(fen) || fen < MIN_FEN || fen > MAX_FEN) {
    throw new RangeError(`amount must be a whole number of fen from ${MIN_FEN} to ${MAX_FEN}, got ${fen}`);
  }
  return toDecimalString(fen);
}

/**
 * Alipay's yuan string → whole fen, exactly ("12.34" → 1234, "100" → 10000). Stricter than
 * parseMoney: no sign, no whitespace, no exponent, at most two decimals; anything else is null.
 */
export function parseYuan(text: unknown): number | null {
  if (typeof text !== 'string' || !/^\d{1,9}(?:\.\d{1,2})?$/.test(text)) return null;
  const fen = parseMoney(text);
  return fen !== null && Number.isSafeInteger(fen) ? fen : null;
}
