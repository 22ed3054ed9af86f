import { UTC_OFFSET_MS } from './periods.js';

/**
 * CSV exports (RFC 4180) that open cleanly in Excel and WPS: a UTF-8 byte-order mark (without it
 * Chinese text comes out garbled), CRLF line ends, and no cell a spreadsheet would run as a formula.
 */

const FORMULA = /^[=+\-@\t\r]/;
const NEGATIVE = /^-\d+(\.\d+)?$/;
const QUOTE = /[",\r\n]/;

/** One cell: quoted when it must be; text starting with = + - @ (a formula, not a negative number) gets a leading apostrophe. */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return String(value);
  let s = String(value);
  if (FORMULA.test(s) && !NEGATIVE.test(s)) s = `'${s}`;
  return QUOTE.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export const csvLine = (cells: unknown[]) => `${cells.map(csvCell).join(',')}\r\n`;

/** `2026-12-03 09:30:00` in the shop's zone, as the console shows times. */
export function csvTime(ms: number | null): string {
  if (ms === null) return '';
  const iso = new Date(ms + UTC_OFFSET_MS).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}

/**
 * The header and rows as text chunks of about 64 KB, for a streamed response: rows are pulled
 * only as fast as the client reads.
 */
export async function* csvChunks(header: string[], rows: AsyncIterable<unknown[]> | Iterable<unknown[]>): AsyncGenerator<string> {
  let chunk = `\ufeff${csvLine(header)}`;
  for await (const row of rows) {
    chunk += csvLine(row);
    if (chunk.length >= 65_536) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}
