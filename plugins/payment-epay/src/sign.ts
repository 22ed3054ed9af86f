import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * The epay (彩虹易支付 V1) MD5 signature: every parameter except `sign` and `sign_type` whose value
 * is not empty, sorted by key in ASCII order, joined as `k=v&k=v` with the raw (not URL-encoded)
 * values, the merchant key appended directly, then MD5 as lowercase hex.
 */
export function signString(params: Readonly<Record<string, string | undefined>>): string {
  const keys = Object.keys(params)
    .filter((k) => k !== 'sign' && k !== 'sign_type' && params[k] !== undefined && params[k] !== '')
    // ASCII (byte) order, not locale order: compare code units, as PHP's ksort does for these keys.
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return keys.map((k) => `${k}=${params[k]}`).join('&');
}

export function md5Sign(params: Readonly<Record<string, string | undefined>>, key: string): string {
  return createHash('md5').update(signString(params) + key, 'utf8').digest('hex');
}

/** Checks `params.sign` against the expected MD5 in constant time (for equal lengths). */
export function verifySign(params: Readonly<Record<string, string | undefined>>, key: string): boolean {
  const given = params.sign;
  if (typeof given !== 'string' || !/^[0-9a-fA-F]{32}$/.test(given)) return false;
  const expected = Buffer.from(md5Sign(params, key), 'latin1');
  return timingSafeEqual(expected, Buffer.from(given.toLowerCase(), 'latin1'));
}

/** Returns the parameters with `sign` and `sign_type=MD5` added. */
export function signed(params: Record<string, string>, key: string): Record<string, string> {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) if (v !== '') clean[k] = v;
  return { ...clean, sign: md5Sign(clean, key), sign_type: 'MD5' };
}
