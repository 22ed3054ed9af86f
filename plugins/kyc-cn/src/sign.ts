import { createHash, createHmac } from 'node:crypto';

/**
 * The signature most verification vendors use: every parameter except the signature itself whose
 * value is not empty, sorted by name in byte order, joined as `k=v&k=v` with raw values; then
 * MD5 of that string with `&key=<secret>` appended, or HMAC-SHA256 of it keyed with the secret.
 */
export function signString(params: Readonly<Record<string, string>>, signField: string): string {
  return Object.keys(params)
    .filter((k) => k !== signField && params[k] !== '')
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((k) => `${k}=${params[k]}`)
    .join('&');
}

export function sign(
  params: Readonly<Record<string, string>>,
  o: { algorithm: 'md5' | 'hmac-sha256'; secret: string; signField: string; upper: boolean },
): string {
  const text = signString(params, o.signField);
  const hex =
    o.algorithm === 'md5'
      ? createHash('md5').update(`${text}&key=${o.secret}`, 'utf8').digest('hex')
      : createHmac('sha256', o.secret).update(text, 'utf8').digest('hex');
  return o.upper ? hex.toUpperCase() : hex;
}
