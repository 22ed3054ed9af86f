import { randomInt, scrypt as scryptCb, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

/** Letters and digits that cannot be misread at a counter: no 0/O, 1/I/L, U. */
const ALPHABET = '23456789ABCDEFGHJKMNPQRSTVWXYZ';
const LENGTH = 12; // 30^12 ≈ 2^59: guessing one is hopeless, typing one takes seconds

/** A new voucher code, shown in groups of four: `7KQM-X3PD-H9TA`. */
export function newCode(): string {
  const chars = Array.from({ length: LENGTH }, () => ALPHABET[randomInt(ALPHABET.length)]);
  return [0, 4, 8].map((i) => chars.slice(i, i + 4).join('')).join('-');
}

/** A code as typed or scanned, in the form codes are looked up by: no spaces or dashes, upper case. */
export const normalizeCode = (code: string) => code.replace(/[\s-]+/g, '').toUpperCase();

/** The last characters, for lists that must not show whole codes. */
export const codeTail = (code: string) => normalizeCode(code).slice(-4);

const scrypt = promisify(scryptCb) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

/** A staff PIN as stored: `scrypt$<salt>$<hash>` (node:crypto, salted; guessing online is rate-limited). */
export async function hashPin(pin: string): Promise<string> {
  const salt = randomBytes(16);
  return `scrypt$${salt.toString('base64')}$${(await scrypt(pin, salt, 32)).toString('base64')}`;
}

export async function pinMatches(pin: string, stored: string): Promise<boolean> {
  const [kind, salt, hash] = stored.split('$');
  if (kind !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = await scrypt(pin, Buffer.from(salt, 'base64'), expected.length);
  return timingSafeEqual(actual, expected);
}
