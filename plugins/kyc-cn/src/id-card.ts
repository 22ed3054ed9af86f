import type { KycInvalid } from '@cardshop/core';

/**
 * Local checks of a resident ID card number (居民身份证号码, GB 11643-1999) before any paid call:
 * 18 characters (6-digit region code, birth date YYYYMMDD, 3-digit sequence, check character), the
 * ISO 7064 MOD 11-2 check character, a real birth date that is not in the future, and a province
 * that exists in GB/T 2260 (81/82/83 are the residence permits of Hong Kong, Macao and Taiwan
 * residents). The full county list changes every year, so only the province is checked.
 */

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK = '10X98765432';

const PROVINCES = new Set([
  '11', '12', '13', '14', '15', '21', '22', '23', '31', '32', '33', '34', '35', '36', '37', '41', '42', '43', '44',
  '45', '46', '50', '51', '52', '53', '54', '61', '62', '63', '64', '65', '71', '81', '82', '83',
]);

/** The check character of the first 17 digits. */
export function checkCharacter(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * WEIGHTS[i]!;
  return CHECK[sum % 11]!;
}

/** Why `id` (upper-cased, without spaces) is not a valid ID card number, or undefined if it is. */
export function idCardProblem(id: string, today: Date = new Date()): KycInvalid | undefined {
  if (!/^\d{17}[\dX]$/.test(id)) return 'format';
  if (!PROVINCES.has(id.slice(0, 2))) return 'region';
  const [y, m, d] = [Number(id.slice(6, 10)), Number(id.slice(10, 12)), Number(id.slice(12, 14))];
  const born = new Date(Date.UTC(y, m - 1, d));
  const real = born.getUTCFullYear() === y && born.getUTCMonth() === m - 1 && born.getUTCDate() === d;
  if (!real || y < 1900 || born.getTime() > today.getTime()) return 'birth_date';
  if (checkCharacter(id) !== id[17]) return 'checksum';
  return undefined;
}
