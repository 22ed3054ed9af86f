import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export interface SignOptions {
  algorithm: 'md5' | 'hmac-sha256';
  secret: string;
  /** MD5: what follows the sorted parameters, with `{secret}` in it (`&key={secret}` or `{secret}`). */
  md5Suffix: string;
  uppercase: boolean;
  /** The signature's own parameter, left out of what is signed. */
  signField: string;
}

/** Every parameter but the signature whose value is not empty, sorted by name (byte order), as `k=v&k=v` with raw values. */
export function signString(params: Readonly<Record<string, string>>, signField: string): string {
  return Object.keys(params)
    .filter((k) => k !== signField && params[k] !== '' && params[k] !== undefined)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((k) => `${k}=${params[k]}`)
    .join('&');
}

export function sign(params: Readonly<Record<string, string>>, o: SignOptions): string {
  const text = signString(params, o.signField);
  const hex =
    o.algorithm === 'md5'
      ? createHash('md5').update(text + o.md5Suffix.split('{secret}').join(o.secret), 'utf8').digest('hex')
      : createHmac('sha256', o.secret).update(text, 'utf8').digest('hex');
  return o.uppercase ? hex.toUpperCase() : hex;
}

/** Checks the signature a supplier sent (case-insensitively), in constant time for equal lengths. */
export function verify(params: Readonly<Record<string, string>>, o: SignOptions): boolean {
  const given = (params[o.signField] ?? '').toLowerCase();
  const expected = sign(params, o).toLowerCase();
  return given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}
