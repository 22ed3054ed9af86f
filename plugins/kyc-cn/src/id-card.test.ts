import { describe, expect, it } from 'vitest';
import { checkCharacter, idCardProblem } from './id-card.js';

/** Makes a valid number from region, birth date and sequence, with the right check character. */
const make = (first17: string) => first17 + checkCharacter(first17);

describe('ID card numbers (GB 11643)', () => {
  it('accepts valid numbers, including an X check character and residence permits', () => {
    expect(idCardProblem('11010519491231002X')).toBeUndefined(); // the standard's own example
    expect(idCardProblem(make('44052419800101001'))).toBeUndefined();
    expect(idCardProblem(make('81000019900101123'))).toBeUndefined(); // Hong Kong resident's permit
    expect(idCardProblem(make('65010220000229123'))).toBeUndefined(); // 29 February of a leap year
  });

  it('names what is wrong', () => {
    const today = new Date('2026-06-01T00:00:00Z');
    expect(idCardProblem('110105194912310021')).toBe('checksum');
    expect(idCardProblem('440524188001010014')).toBe('birth_date'); // right check digit, born before 1900
    expect(idCardProblem('11010519491231002x')).toBe('format'); // callers upper-case first
    expect(idCardProblem('110105491231002')).toBe('format'); // the old 15-digit form is no longer valid
    expect(idCardProblem('1101051949123100')).toBe('format');
    expect(idCardProblem(make('99010519491231002'))).toBe('region');
    expect(idCardProblem(make('00010519491231002'))).toBe('region');
    expect(idCardProblem(make('11010519490231002'))).toBe('birth_date'); // 31 February
    expect(idCardProblem(make('65010219000229123'))).toBe('birth_date'); // 1900 was not a leap year
    expect(idCardProblem(make('11010520260602002'), today)).toBe('birth_date'); // tomorrow
    expect(idCardProblem(make('11010520260601002'), today)).toBeUndefined();
    expect(idCardProblem(make('11010519491300002'))).toBe('birth_date'); // month 13
  });

  it('finds every single mistyped digit', () => {
    const id = '11010519491231002X';
    for (let i = 0; i < 17; i++) {
      for (let d = 0; d <= 9; d++) {
        if (String(d) === id[i]) continue;
        const typo = id.slice(0, i) + d + id.slice(i + 1);
        expect(idCardProblem(typo), typo).toBeDefined();
      }
    }
  });
});
