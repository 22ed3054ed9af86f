import { describe, expect, it } from 'vitest';
import { csvParser, deserializeKey, parseTextLine, serializeKey, splitCsv } from './parse.js';

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
