import { createHash } from 'node:crypto';

const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

function base58Decode(text: string): Buffer | null {
  let n = 0n;
  for (const ch of text) {
    const digit = ALPHABET.indexOf(ch);
    if (digit < 0) return null;
    n = n * 58n + BigInt(digit);
  }
  const hex = n.toString(16);
  const body = n === 0n ? Buffer.alloc(0) : Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  const zeros = text.length - text.replace(/^1+/, '').length;
  return Buffer.concat([Buffer.alloc(zeros), body]);
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();

/**
 * A TRON mainnet address in Base58Check (T…, 34 characters): version byte 0x41, 20 bytes of
 * address, and 4 bytes of double SHA-256 checksum. A typo in the receiving address would send the
 * buyers' money nowhere, so the checksum is checked when the settings are read.
 */
export function isTronAddress(text: string): boolean {
  if (!/^T[1-9A-HJ-NP-Za-km-z]{33}$/.test(text)) return false;
  const raw = base58Decode(text);
  if (!raw || raw.length !== 25 || raw[0] !== 0x41) return false;
  const sum = sha256(sha256(raw.subarray(0, 21))).subarray(0, 4);
  return sum.equals(raw.subarray(21));
}

/** The USDT (Tether) TRC20 contract on TRON mainnet. */
export const USDT_CONTRACT = 'TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t';
