import type { NotifyRequest } from '@cardshop/core';

export type ParamsResult = { ok: true; params: Record<string, string>; source: 'form' | 'json' } | { ok: false; reason: string };

function put(out: Record<string, string>, key: string, value: unknown): string | null {
  if (Object.hasOwn(out, key)) return `the field ${key} appears twice`;
  if (typeof value === 'string') out[key] = value;
  else if (typeof value === 'number' || typeof value === 'boolean') out[key] = String(value);
  else if (value === null || value === undefined) out[key] = '';
  else return `the field ${key} is not a plain value`;
  return null;
}

function fromEntries(entries: Iterable<[string, unknown]>): Record<string, string> | string {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of entries) {
    const problem = put(out, k, v);
    if (problem) return problem;
  }
  return out;
}

/**
 * The parameters of an Alipay asynchronous notify: a POST form (`application/x-www-form-urlencoded`,
 * as Alipay sends it), or a flat JSON object of the same fields (a proxy that re-encodes it). A
 * repeated or nested field makes the whole notify unreadable rather than guessing which one counts.
 */
export function notifyParams(req: NotifyRequest): ParamsResult {
  const raw = (req.rawBody ?? '').replace(/^\uFEFF/, '').trim();
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  let read: Record<string, string> | string;
  let source: 'form' | 'json';
  if (raw) {
    source = type.includes('json') || raw.startsWith('{') ? 'json' : 'form';
    if (source === 'json') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        return { ok: false, reason: 'the JSON body is malformed' };
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ok: false, reason: 'the JSON body is not an object' };
      read = fromEntries(Object.entries(parsed));
    } else {
      read = fromEntries(new URLSearchParams(raw));
    }
  } else {
    source = type.includes('json') ? 'json' : 'form';
    read = fromEntries(Object.entries(req.body ?? {}));
  }
  if (typeof read === 'string') return { ok: false, reason: `the ${source} body cannot be read: ${read}` };
  if (Object.keys(read).length === 0) return { ok: false, reason: 'empty notify (Alipay posts its parameters as a form)' };
  return { ok: true, params: read, source };
}

/**
 * The parameters to hand to the SDK's notify checker. Alipay signs every parameter except `sign` and
 * `sign_type`, sorted by name, `k=v` joined with `&`, and leaves empty values out; the SDK would
 * put them in as `k=`, so they are dropped here (unsigned, they carry nothing to trust anyway).
 */
export function signedParams(params: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) if (v !== '') out[k] = v;
  return out;
}
