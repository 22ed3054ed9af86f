import { createHash } from 'node:crypto';
import { randomPooled } from '../security/keys.js';

// Crockford's base32: no I, L, O or U, so a number read out over the phone survives.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * Order numbers read like `261202-7KQ4M9XD2P`: the date for people, then 50 random bits, so a
 * number can be shared without letting anyone guess the next one. They identify an order; they
 * never grant access to it (that takes the owner's session or the order's token).
 */
export function newOrderNo(now: number): string {
  const d = new Date(now);
  const date = [d.getUTCFullYear() % 100, d.getUTCMonth() + 1, d.getUTCDate()].map((n) => String(n).padStart(2, '0')).join('');
  const bytes = randomPooled(10);
  let tail = '';
  for (const b of bytes) tail += ALPHABET[b & 31];
  return `${date}-${tail}`;
}

export const ORDER_NO = /^\d{6}-[0-9A-HJKMNP-TV-Z]{10}$/;

/** Guests open their order with a random token; only its hash is stored. */
export const hashOrderToken = (token: string) => createHash('sha256').update(token).digest('hex');
