import { describe, expect, it } from 'vitest';
import { formatMoney, multiply, parseMoney, toDecimalString } from './money.js';

describe('money', () => {
  it('parses decimal strings into minor units without floats', () => {
    expect(parseMoney('100.00')).toBe(10000);
    expect(parseMoney('0.1')).toBe(10);
    expect(parseMoney('19.99')).toBe(1999);
    expect(parseMoney('-5')).toBe(-500);
    expect(parseMoney(' 7 ')).toBe(700);
  });

  it('rejects what is not an amount', () => {
    for (const bad of ['', 'abc', '1.234', '1e3', '.5', '1,000', 'NaN', '99999999999999']) {
      expect(parseMoney(bad), bad).toBeNull();
    }
  });

  it('formats', () => {
    expect(toDecimalString(5)).toBe('0.05');
    expect(toDecimalString(-1234)).toBe('-12.34');
    expect(formatMoney(123456)).toBe('¥1,234.56');
    expect(formatMoney(-99, 'USD')).toBe('-$0.99');
  });

  it('multiplies exactly and refuses overflow', () => {
    expect(multiply(1999, 3)).toBe(5997);
    expect(() => multiply(Number.MAX_SAFE_INTEGER, 2)).toThrow(RangeError);
  });
});
