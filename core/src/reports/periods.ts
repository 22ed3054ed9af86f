import type { Database } from '../db/connect.js';

/**
 * Calendar arithmetic for reports. Days are counted in China Standard Time (UTC+8, no daylight
 * saving), the zone the console shows its dates in, so "today" ends at local midnight.
 */
export const UTC_OFFSET_MS = 8 * 3_600_000;
export const DAY_MS = 86_400_000;

export const PERIODS = ['day', 'week', 'month'] as const;
export type Period = (typeof PERIODS)[number];

/** Days since 1970-01-01 in the shop's zone. */
export const dayOf = (ms: number) => Math.floor((ms + UTC_OFFSET_MS) / DAY_MS);
/** The first millisecond of a day. */
export const dayStart = (day: number) => day * DAY_MS - UTC_OFFSET_MS;
/** `2026-12-03` */
export const dayKey = (day: number) => new Date(day * DAY_MS).toISOString().slice(0, 10);

/** A `YYYY-MM-DD` date as its day number, or undefined if it is not a real date. */
export function parseDay(text: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return dayKey(ms / DAY_MS) === text ? ms / DAY_MS : undefined;
}

/** The shop-zone day of a millisecond column, in SQL (integer division on both databases). */
export function daySql(db: Database, column: string): string {
  const expr = `(${column} + ${UTC_OFFSET_MS})`;
  return db.dialect === 'mysql' ? `(${expr} DIV ${DAY_MS})` : `(${expr} / ${DAY_MS})`;
}

/** Monday of a day's week (day 0, 1970-01-01, was a Thursday). */
const mondayOf = (day: number) => day - ((day + 3) % 7);
const monthKey = (day: number) => dayKey(day).slice(0, 7);

export interface Buckets {
  /** Bucket keys, oldest first: days and weeks as their first day (`2026-12-01`), months as `2026-12`. */
  keys: string[];
  /** The first day the report covers. */
  firstDay: number;
  /** The bucket a day falls in. */
  keyOf(day: number): string;
}

/** The report's buckets, the last one holding `now`: 30 days, 12 weeks (from Monday) or 12 months. */
export function bucketsFor(period: Period, now: number): Buckets {
  const today = dayOf(now);
  if (period === 'day') {
    const firstDay = today - 29;
    return { firstDay, keys: Array.from({ length: 30 }, (_, i) => dayKey(firstDay + i)), keyOf: dayKey };
  }
  if (period === 'week') {
    const firstDay = mondayOf(today) - 11 * 7;
    return { firstDay, keys: Array.from({ length: 12 }, (_, i) => dayKey(firstDay + i * 7)), keyOf: (d) => dayKey(mondayOf(d)) };
  }
  const d = new Date(today * DAY_MS);
  const first = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 11, 1) / DAY_MS;
  const keys = Array.from({ length: 12 }, (_, i) => monthKey(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 11 + i, 1) / DAY_MS));
  return { firstDay: first, keys, keyOf: monthKey };
}
