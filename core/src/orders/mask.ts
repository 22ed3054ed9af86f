/**
 * Masks what a stored gateway callback must not show in the console: secrets (signatures, keys,
 * tokens, cookies) and personal data (e-mail addresses, phone numbers, buyer ids, names). Order
 * numbers, trade numbers, amounts and statuses stay readable: they are what an operator needs.
 */

const SECRET_HEADER = /authorization|cookie|sign|token|secret|key|auth|session|forwarded-for|real-ip/i;
const SECRET_FIELD =
  /sign|secret|key|token|passw|pwd|cvv|card_?no|email|phone|mobile|^tel$|contact|buyer|payer|openid|user_?id|account|address|id_?card|id_?no|^(client_?)?ip$|real_?name|customer|billing|shipping|receipt/i;
const EMAIL = /[^\s@"'&=<>]+@[^\s@"'&=<>]+\.[a-z]{2,}/gi;
const PHONE = /(?<!\d)(?:\+?86)?1[3-9]\d{9}(?!\d)/g;

export const MASK = '***';

/** Keeps a hint of the value's shape (its length), never its content. */
const hide = (v: string) => (v === '' ? '' : `${MASK}(${v.length})`);

/** E-mail addresses and mobile numbers anywhere in free text. */
export function maskText(text: string): string {
  return text.replace(EMAIL, MASK).replace(PHONE, MASK);
}

export function maskHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const v = Array.isArray(value) ? value.join(', ') : value;
    out[name] = SECRET_HEADER.test(name) ? hide(v) : maskText(v);
  }
  return out;
}

function maskValue(key: string, value: unknown): unknown {
  if (SECRET_FIELD.test(key)) return typeof value === 'string' ? hide(value) : MASK;
  if (typeof value === 'string') return maskText(value);
  if (Array.isArray(value)) return value.map((v) => maskValue('', v));
  if (value && typeof value === 'object') return maskFields(value as Record<string, unknown>);
  return value;
}

export function maskFields(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, maskValue(k, v)]));
}

/** A raw body as JSON, a form, or plain text, whichever it is, masked and readable. */
export function maskBody(raw: string, contentType = ''): string {
  const text = raw.replace(/^\uFEFF/, '').trim();
  if (!text) return '';
  if (contentType.includes('json') || text.startsWith('{') || text.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(text);
      return JSON.stringify(maskValue('', parsed), null, 2);
    } catch {
      // not JSON after all: masked as text below
    }
  }
  if (contentType.includes('x-www-form-urlencoded') || /^[^=&\s]+=[^\s]*$/.test(text)) {
    const form = new URLSearchParams(text);
    const out = new URLSearchParams();
    for (const [k, v] of form) out.append(k, String(maskValue(k, v)));
    return decodeURIComponent(out.toString().replace(/\+/g, ' '));
  }
  return maskText(text);
}
