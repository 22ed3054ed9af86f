import { describe, expect, it } from 'vitest';
import { fenFor, formatMicro, parseMicro, placesOf, tokenValueToMicro, usdtFor } from './amounts.js';
import { isTronAddress, USDT_CONTRACT } from './tron.js';
import { tronAddress } from './testing/fake-trongrid.js';

describe('USDT amounts', () => {
  it('reads decimals exactly, never through a float', () => {
    expect(parseMicro('7.2')).toBe(7_200_000n);
    expect(parseMicro(7.25)).toBe(7_250_000n);
    expect(parseMicro('0.000001')).toBe(1n);
    for (const bad of ['0', '-1', '1e3', '7.1234567', '', 'abc', Number.NaN]) expect(parseMicro(bad)).toBeNull();
  });

  it('prices CNY in USDT rounded up to the step, and back down to fen', () => {
    // 10.00 CNY at 7.2 CNY per USDT = 1.388888… USDT → 1.3889
    expect(usdtFor(1000, 7_200_000n, 100n)).toBe(1_388_900n);
    expect(formatMicro(1_388_900n, 4)).toBe('1.3889');
    expect(usdtFor(720, 7_200_000n, 100n)).toBe(1_000_000n); // exact: no rounding up
    expect(fenFor(1_388_900n, 7_200_000n)).toBe(1000); // 10.00008 CNY, floored
    expect(fenFor(1_000_000n, 7_200_000n)).toBe(720);
    expect(placesOf(100n)).toBe(4);
    expect(placesOf(10_000n)).toBe(2);
    expect(placesOf(1n)).toBe(6);
  });

  it('reads TRC20 values by the token\'s decimals, refusing fractions of a micro-unit', () => {
    expect(tokenValueToMicro('1388900', 6)).toBe(1_388_900n);
    expect(tokenValueToMicro('1388900000000000000', 18)).toBe(1_388_900n);
    expect(tokenValueToMicro('1388900000000000001', 18)).toBeNull();
    expect(tokenValueToMicro('13889', 4)).toBe(1_388_900n);
    expect(tokenValueToMicro(1388900, 6)).toBeNull();
    expect(tokenValueToMicro('-1', 6)).toBeNull();
  });
});

describe('TRON addresses', () => {
  it('checks the Base58Check checksum', () => {
    expect(isTronAddress(USDT_CONTRACT)).toBe(true);
    const a = tronAddress('shop');
    expect(isTronAddress(a)).toBe(true);
    // one character changed: the checksum no longer holds
    const typo = a.slice(0, 10) + (a[10] === 'a' ? 'b' : 'a') + a.slice(11);
    expect(isTronAddress(typo)).toBe(false);
    expect(isTronAddress('0x' + 'a'.repeat(40))).toBe(false);
    expect(isTronAddress('T' + 'l'.repeat(33))).toBe(false);
  });
});
