import { describe, expect, it } from 'vitest';
import { countsOf, unitsLeft } from './limits.js';

describe('purchase limits', () => {
  const day = { buyerLimit: { units: 3, per: 'day' as const } };

  it("turns a day limit's period at midnight in Asia/Shanghai, not UTC", () => {
    const before = Date.parse('2026-12-08T15:59:59.999Z'); // 23:59:59.999 in Shanghai
    const after = Date.parse('2026-12-08T16:00:00.000Z'); // 00:00 the next day there
    const [a] = countsOf(day, null, before);
    const [b] = countsOf(day, null, after);
    expect(a!.period).not.toBe(b!.period);
    expect(countsOf(day, null, Date.parse('2026-12-08T00:00:00Z'))[0]!.period).toBe(a!.period);
  });

  it("counts a lifetime limit in one period, and a flash sale's cap per sale", () => {
    const now = Date.now();
    expect(countsOf({ buyerLimit: { units: 1, per: 'ever' } }, null, now)).toEqual([{ period: 'ever', limit: 1 }]);
    expect(countsOf({ buyerLimit: null }, { startsAt: 42, perBuyer: 2 }, now)).toEqual([{ period: 'f:42', limit: 2 }]);
    expect(countsOf({ buyerLimit: null }, { startsAt: 42, perBuyer: null }, now)).toEqual([]);
    expect(countsOf(day, { startsAt: 42, perBuyer: 2 }, now).map((c) => c.limit)).toEqual([3, 2]);
  });

  it('leaves the fewest units any cap allows', () => {
    const counts = [{ period: 'ever', limit: 5 }, { period: 'f:1', limit: 2 }];
    expect(unitsLeft(counts, (p) => (p === 'ever' ? 1 : 1))).toBe(1);
    expect(unitsLeft(counts, () => 0)).toBe(2);
    expect(unitsLeft(counts, (p) => (p === 'ever' ? 5 : 0))).toBe(0);
  });
});
