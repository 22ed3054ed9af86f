/**
 * Card-key file formats. A text file holds one key per line, or `card,password` (a comma, a tab
 * or `----` between them); a CSV file has `card` and optionally `password` columns, quoted as
 * RFC 4180 allows, with a header row when its first cell is a column name.
 */

export interface CardKey {
  card: string;
  password?: string;
}

export type KeyFormat = 'text' | 'csv';

/** `error` is a reason code (key.empty, key.too_long, key.control, key.fields, key.quote). */
export type ParsedLine = { key: CardKey } | { skip: true } | { error: string };

const MAX_PART = 500;
// Control characters would corrupt the CSV export and the buyer's copy; refuse them. A tab too:
// the stored form puts one between card and password, so a CSV cell holding one came back split.
const CONTROL = /[\u0000-\u001f\u007f]/;

function checkKey(card: string, password?: string): ParsedLine {
  if (!card) return { error: 'key.empty' };
  if (card.length > MAX_PART || (password?.length ?? 0) > MAX_PART) return { error: 'key.too_long' };
  if (CONTROL.test(card) || (password && CONTROL.test(password))) return { error: 'key.control' };
  return { key: password ? { card, password } : { card } };
}

export function parseTextLine(line: string): ParsedLine {
  const text = line.trim();
  if (!text || text.startsWith('#')) return { skip: true };
  const m = /^(.*?)(?:\s*(?:,|\t|----)\s*)(.*)$/.exec(text);
  if (!m) return checkKey(text);
  if (/[,\t]|----/.test(m[2]!)) return { error: 'key.fields' };
  return checkKey(m[1]!.trim(), m[2]!.trim() || undefined);
}

/** Splits one CSV record; returns null for an unterminated quote. */
export function splitCsv(line: string): string[] | null {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') (cell += '"'), i++;
      else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"' && cell === '') quoted = true;
    else if (ch === ',') cells.push(cell), (cell = '');
    else cell += ch;
  }
  if (quoted) return null;
  cells.push(cell);
  return cells;
}

const HEADER_WORDS = new Set(['card', 'key', 'code', 'cardno', 'card_no', '卡号', '卡密']);
const PASSWORD_WORDS = new Set(['password', 'pass', 'pin', 'secret', '密码']);

/** A stateful CSV reader: it learns the columns from a header row if the file has one. */
export function csvParser(): (line: string) => ParsedLine {
  let cardCol = 0;
  let passwordCol = 1;
  let first = true;
  return (line) => {
    if (!line.trim()) return { skip: true };
    const cells = splitCsv(line.replace(/\r$/, ''));
    if (!cells) return { error: 'key.quote' };
    const names = cells.map((c) => c.trim().toLowerCase());
    if (first) {
      first = false;
      const c = names.findIndex((n) => HEADER_WORDS.has(n));
      if (c >= 0) {
        cardCol = c;
        passwordCol = names.findIndex((n) => PASSWORD_WORDS.has(n));
        return { skip: true };
      }
    }
    return checkKey((cells[cardCol] ?? '').trim(), passwordCol >= 0 ? cells[passwordCol]?.trim() || undefined : undefined);
  };
}

export function lineParser(format: KeyFormat): (line: string) => ParsedLine {
  return format === 'csv' ? csvParser() : parseTextLine;
}

/** The stored (and fingerprinted) form of a key. */
export const serializeKey = (k: CardKey) => (k.password ? `${k.card}\t${k.password}` : k.card);

export function deserializeKey(text: string): CardKey {
  const tab = text.indexOf('\t');
  return tab < 0 ? { card: text } : { card: text.slice(0, tab), password: text.slice(tab + 1) };
}
