import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { csvParser, deserializeKey, parseTextLine, serializeKey, splitCsv, type ParsedLine } from './parse.js';

describe('text lines', () => {
  it('reads keys and card/password pairs', () => {
    expect(parseTextLine('  ABCD-1234  ')).toEqual({ key: { card: 'ABCD-1234' } });
    expect(parseTextLine('C1,P1')).toEqual({ key: { card: 'C1', password: 'P1' } });
    expect(parseTextLine('C1\tP1')).toEqual({ key: { card: 'C1', password: 'P1' } });
    expect(parseTextLine('C1----P1')).toEqual({ key: { card: 'C1', password: 'P1' } });
  });

  it('skips blanks and comments, rejects junk with a reason', () => {
    expect(parseTextLine('   ')).toEqual({ skip: true });
    expect(parseTextLine('# batch 7')).toEqual({ skip: true });
    expect(parseTextLine(',P1')).toEqual({ error: 'key.empty' });
    expect(parseTextLine('a,b,c')).toEqual({ error: 'key.fields' });
    expect(parseTextLine('x'.repeat(501))).toEqual({ error: 'key.too_long' });
    expect(parseTextLine('AB\u0001CD')).toEqual({ error: 'key.control' });
  });
});

describe('csv', () => {
  it('splits quoted cells', () => {
    expect(splitCsv('"a,b","c""d",e')).toEqual(['a,b', 'c"d', 'e']);
    expect(splitCsv('"open')).toBeNull();
  });

  it('uses the header to find columns', () => {
    const parse = csvParser();
    expect(parse('password,卡号')).toEqual({ skip: true });
    expect(parse('PW1,CARD1')).toEqual({ key: { card: 'CARD1', password: 'PW1' } });
  });

  it('treats the first row as data when it is not a header', () => {
    const parse = csvParser();
    expect(parse('CARD1,PW1')).toEqual({ key: { card: 'CARD1', password: 'PW1' } });
    expect(parse('CARD2')).toEqual({ key: { card: 'CARD2' } });
  });
});

it('round-trips the stored form', () => {
  expect(deserializeKey(serializeKey({ card: 'A', password: 'B' }))).toEqual({ card: 'A', password: 'B' });
  expect(deserializeKey(serializeKey({ card: 'A' }))).toEqual({ card: 'A' });
});

describe('any line at all (property tests)', () => {
  const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/;
  const anyLine = fc.oneof(fc.string({ unit: 'binary', maxLength: 80 }), fc.string({ unit: fc.constantFrom('a', ',', '\t', '-', '"', ' ', '#', '\u0000', '\r', '卡'), maxLength: 30 }), fc.constant('x'.repeat(600)));
  /** What a parsed key may be: not empty, trimmed, short, no control characters, nothing the stored form would split. */
  const wellFormed = (r: ParsedLine) => {
    if (!('key' in r)) return;
    for (const part of [r.key.card, r.key.password ?? 'x']) {
      expect(part.length).toBeGreaterThan(0);
      expect(part.length).toBeLessThanOrEqual(500);
      expect(part).toBe(part.trim());
      expect(part).not.toMatch(CONTROL);
    }
    expect(deserializeKey(serializeKey(r.key))).toEqual(r.key);
  };

  it('gives a key, a skip or a reason for every text line, never throwing', () => {
    fc.assert(fc.property(anyLine, (line) => wellFormed(parseTextLine(line))));
  });

  it('gives a key, a skip or a reason for every CSV row, never throwing', () => {
    fc.assert(fc.property(fc.array(anyLine, { maxLength: 5 }), (lines) => {
      const parse = csvParser();
      for (const line of lines) wellFormed(parse(line));
    }));
  });

  const part = fc.string({ unit: fc.constantFrom('A', 'z', '9', '卡', '密', '_', '.', '😀'), minLength: 1, maxLength: 40 });

  it('reads back every card and password written with any separator', () => {
    fc.assert(fc.property(part, fc.option(part, { nil: undefined }), fc.constantFrom(',', '\t', '----', ' , '), (card, password, sep) => {
      expect(parseTextLine(password ? `${card}${sep}${password}` : card)).toEqual({ key: password ? { card, password } : { card } });
    }));
  });

  it('reads back every CSV cell, quoted as RFC 4180 says (commas and quotes inside)', () => {
    const cell = fc.string({ unit: fc.constantFrom('A', '9', ',', '"', '卡', '-'), minLength: 1, maxLength: 20 }).filter((s) => s === s.trim());
    const quote = (s: string) => `"${s.replaceAll('"', '""')}"`;
    fc.assert(fc.property(cell, cell, (card, password) => {
      const parse = csvParser();
      expect(parse('card,password')).toEqual({ skip: true });
      expect(parse(`${quote(card)},${quote(password)}`)).toEqual({ key: { card, password } });
    }));
  });
});
