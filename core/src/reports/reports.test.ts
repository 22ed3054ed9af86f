import { describe, expect, it } from 'vitest';
import type { Deps } from '../context.js';
import { cachedReport } from './cache.js';
import { barChart } from './chart.js';
import { csvCell, csvChunks, csvLine, csvTime } from './csv.js';
import { quintileScorer, segmentOf } from './insight.js';
import { bucketsFor, dayOf, dayStart, parseDay } from './periods.js';

const at = (iso: string) => Date.parse(iso);

describe('report periods', () => {
  it('counts days in China Standard Time', () => {
    // 23:30 UTC on 2 December is 07:30 on 3 December in Shanghai.
    expect(dayOf(at('2026-12-02T23:30:00Z'))).toBe(parseDay('2026-12-03'));
    expect(dayStart(parseDay('2026-12-03')!)).toBe(at('2026-12-02T16:00:00Z'));
    expect(parseDay('2026-02-30')).toBeUndefined();
    expect(parseDay('2026-2-3')).toBeUndefined();
  });

  it('ends each range with the bucket holding now', () => {
    const now = at('2026-12-03T04:00:00Z'); // a Thursday
    const days = bucketsFor('day', now);
    expect(days.keys).toHaveLength(30);
    expect(days.keys.at(-1)).toBe('2026-12-03');
    expect(days.keys[0]).toBe('2026-11-04');
    const weeks = bucketsFor('week', now);
    expect(weeks.keys.at(-1)).toBe('2026-11-30'); // Monday
    expect(weeks.keys[0]).toBe('2026-09-14');
    expect(weeks.keyOf(parseDay('2026-12-06')!)).toBe('2026-11-30'); // Sunday is the week's last day
    const months = bucketsFor('month', now);
    expect(months.keys).toEqual(['2026-01', '2026-02', '2026-03', '2026-04', '2026-05', '2026-06', '2026-07', '2026-08', '2026-09', '2026-10', '2026-11', '2026-12']);
    expect(months.firstDay).toBe(parseDay('2026-01-01'));
    expect(bucketsFor('month', at('2027-01-15T00:00:00Z')).keys[0]).toBe('2026-02');
  });
});

describe('bar charts', () => {
  it('draws one bar per value, losses below the zero line, and escapes labels', () => {
    const svg = barChart({
      title: 'Sales <&>',
      labels: ['a', 'b'],
      series: [
        { label: 'sales', values: [100, 300], color: '#00f' },
        { label: 'margin', values: [-50, 120], color: '#0f0' },
      ],
      format: String,
    });
    expect(svg.match(/<rect [^>]*data-series=/g)).toHaveLength(4);
    expect(svg).toContain('aria-label="Sales &#60;&#38;&#62;"');
    const bar = (series: string, label: string) => new RegExp(`<rect x="[\\d.]+" y="([\\d.]+)" width="[\\d.]+" height="([\\d.]+)" fill="[^"]+" data-series="${series}" data-label="${label}" data-value="(-?\\d+)"`).exec(svg)!;
    const zero = Number(/<line [^>]*y1="([\d.]+)"[^>]*stroke="#8c959f"/.exec(svg)![1]);
    const loss = bar('margin', 'a');
    expect(Number(loss[1])).toBeCloseTo(zero, 0);
    const high = bar('sales', 'b');
    expect(Number(high[1]) + Number(high[2])).toBeCloseTo(zero, 0);
    expect(Number(high[2])).toBeGreaterThan(Number(bar('sales', 'a')[2]) * 2.9);
  });

  it('draws an empty range without dividing by zero', () => {
    const svg = barChart({ title: 'x', labels: ['a'], series: [{ label: 's', values: [0], color: '#000' }], format: String });
    expect(svg).not.toMatch(/NaN|Infinity/);
  });
});

describe('CSV', () => {
  it('quotes what must be quoted and defuses formulas', () => {
    expect(csvLine(['a,b', 'say "hi"', 'line\nbreak', 12, null])).toBe('"a,b","say ""hi""","line\nbreak",12,\r\n');
    expect(csvCell('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvCell('+86 138')).toBe("'+86 138");
    expect(csvCell('@cmd')).toBe("'@cmd");
    expect(csvCell('-12.50')).toBe('-12.50');
    expect(csvTime(at('2026-12-02T16:00:00Z'))).toBe('2026-12-03 00:00:00');
    expect(csvTime(null)).toBe('');
  });

  it('streams a byte-order mark, the header and the rows in chunks', async () => {
    const rows = Array.from({ length: 5_000 }, (_, i) => [i, 'x'.repeat(20)]);
    const chunks: string[] = [];
    for await (const c of csvChunks(['n', 'text'], rows)) chunks.push(c);
    expect(chunks.length).toBeGreaterThan(1);
    const text = chunks.join('');
    expect(text.startsWith('\ufeffn,text\r\n0,')).toBe(true);
    expect(text.split('\r\n')).toHaveLength(5_002);
  });
});

describe('RFM scores', () => {
  it('scores by quintile, ties together', () => {
    const score = quintileScorer([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(score)).toEqual([1, 1, 1, 2, 2, 3, 3, 4, 4, 5]);
    // Most customers bought once: one order scores 1, a second order lifts above the tied cut points.
    const ties = quintileScorer([1, 1, 1, 1, 2]);
    expect([ties(1), ties(2)]).toEqual([1, 4]);
  });

  it('names segments from the scores', () => {
    expect(segmentOf({ r: 5, f: 4, orders: 9 })).toBe('champion');
    expect(segmentOf({ r: 2, f: 5, orders: 9 })).toBe('loyal');
    expect(segmentOf({ r: 4, f: 1, orders: 1 })).toBe('new');
    expect(segmentOf({ r: 2, f: 3, orders: 3 })).toBe('at_risk');
    expect(segmentOf({ r: 1, f: 1, orders: 1 })).toBe('hibernating');
    expect(segmentOf({ r: 3, f: 2, orders: 2 })).toBe('regular');
  });
});

describe('report cache', () => {
  const setup = () => {
    let clock = 1_000_000;
    const warnings: string[] = [];
    const deps = { now: () => clock, log: { warn: (m: string) => warnings.push(m) } } as unknown as Deps;
    let reads = 0;
    const read = async (now: number) => ({ read: ++reads, now });
    return { deps, read, tick: (ms: number) => (clock += ms), reads: () => reads, warnings };
  };

  it('reads once a minute, shows the old report while the next is read, and waits when it is too old', async () => {
    const { deps, read, tick, reads } = setup();
    expect(await cachedReport(deps, 'k', read)).toMatchObject({ read: 1 });
    tick(59_000);
    expect(await cachedReport(deps, 'k', read)).toMatchObject({ read: 1 });
    tick(2_000);
    // A minute old: the old one now, the new one read meanwhile, then shown.
    expect(await cachedReport(deps, 'k', read)).toMatchObject({ read: 1 });
    expect(reads()).toBe(2);
    expect(await cachedReport(deps, 'k', read)).toMatchObject({ read: 2 });
    expect(await cachedReport(deps, 'k', read, { fresh: true })).toMatchObject({ read: 3 });
    tick(600_000);
    expect(await cachedReport(deps, 'k', read)).toMatchObject({ read: 4 });
    expect(await cachedReport(deps, 'other', read)).toMatchObject({ read: 5 });
  });

  it('keeps no failed read', async () => {
    const { deps, read, tick, warnings } = setup();
    await expect(cachedReport(deps, 'k', () => Promise.reject(new Error('locked')))).rejects.toThrow('locked');
    expect(await cachedReport(deps, 'k', read)).toMatchObject({ read: 1 });
    tick(61_000);
    expect(await cachedReport(deps, 'k', () => Promise.reject(new Error('busy')))).toMatchObject({ read: 1 });
    await new Promise((r) => setImmediate(r));
    expect(warnings).toHaveLength(1);
    // The failed refresh does not stop the next one.
    expect(await cachedReport(deps, 'k', read)).toMatchObject({ read: 1 });
    await new Promise((r) => setImmediate(r));
    expect(await cachedReport(deps, 'k', read)).toMatchObject({ read: 2 });
  });
});
