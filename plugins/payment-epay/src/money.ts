import { parseMoney } from '@cardshop/core';

/**
 * Parses an epay `money` field ("1", "0.1", "12.34") into fen. Stricter than parseMoney: no sign,
 * no whitespace, no exponent, at most two decimals, and more than zero; anything else is null.
 */
export function parseEpayMoney(text: unknown): number | null {
  if (typeof text !== 'string' || !/^\d{1,13}(?:\.\d{1,2})?$/.test(text)) return null;
  const fen = parseMoney(text);
  return fen !== null && Number.isSafeInteger(fen) && fen > 0 ? fen : null;
}
