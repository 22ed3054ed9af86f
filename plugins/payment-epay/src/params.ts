import type { NotifyRequest } from '@cardshop/core';

/**
 * Reads a flat JSON object into strings, keeping each number exactly as written ("1.00" stays
 * "1.00", `1e3` stays "1e3"), since the signature is computed over the text the sender had. Nested
 * objects and arrays are left out; `null` counts as empty. Null for anything that is not one JSON
 * object or that repeats a key.
 */
export function parseFlatJson(text: string): Record<string, string> | null {
  try {
    const whole: unknown = JSON.parse(text);
    if (typeof whole !== 'object' || whole === null || Array.isArray(whole)) return null;
  } catch {
    return null;
  }
  // The text is valid JSON, so the scanner below only has to find token boundaries.
  let i = 0;
  const s = text;
  const space = () => {
    while (i < s.length && ' \t\r\n\uFEFF'.includes(s[i]!)) i++;
  };
  const string = (): string => {
    const start = i++;
    while (s[i] !== '"') i += s[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(s.slice(start, i)) as string;
  };
  const skipNested = () => {
    let depth = 0;
    do {
      const c = s[i];
      if (c === '"') {
        string();
        continue;
      }
      if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') depth--;
      i++;
    } while (depth > 0);
  };
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  space();
  i++; // {
  space();
  while (s[i] !== '}') {
    const key = string();
    if (Object.hasOwn(out, key)) return null;
    space();
    i++; // :
    space();
    const c = s[i]!;
    let value: string | undefined;
    if (c === '"') value = string();
    else if (c === '{' || c === '[') skipNested();
    else {
      const m = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;
      m.lastIndex = i;
      const tok = m.exec(s)![0];
      i += tok.length;
      value = tok === 'null' ? '' : tok;
    }
    if (value !== undefined) out[key] = value;
    space();
    if (s[i] === ',') {
      i++;
      space();
    }
  }
  return out;
}

/** Parses an x-www-form-urlencoded body; null when a key repeats (PHP would keep the last one, URLSearchParams the first). */
export function parseForm(text: string): Record<string, string> | null {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of new URLSearchParams(text.replace(/^\uFEFF/, '').trim())) {
    if (Object.hasOwn(out, k)) return null;
    out[k] = v;
  }
  return out;
}

function fromParsed(body: Record<string, unknown>): Record<string, string> | null {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(body)) {
    if (typeof v === 'string') out[k] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
    else if (v === null || v === undefined) out[k] = '';
    else return null; // arrays (repeated keys) and objects: not an epay notify
  }
  return out;
}

export type ParamsResult = { ok: true; params: Record<string, string>; source: 'query' | 'form' | 'json' } | { ok: false; reason: string };

/**
 * The notify's parameters from wherever the epay site put them: the query string of a GET
 * (the documented way), or the body of a POST as a form or as JSON. The source that carries
 * `sign` wins; the two are never merged.
 */
export function notifyParams(req: NotifyRequest): ParamsResult {
  const raw = req.rawBody ?? '';
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  let body: Record<string, string> | null = {};
  let bodySource: 'form' | 'json' = 'form';
  if (raw.trim() !== '') {
    const looksJson = type.includes('json') || /^\uFEFF?\s*\{/.test(raw);
    bodySource = looksJson ? 'json' : 'form';
    body = looksJson ? parseFlatJson(raw.replace(/^\uFEFF/, '')) : parseForm(raw);
    if (body === null) return { ok: false, reason: `the ${bodySource} body could not be read (malformed, or a repeated key)` };
  } else if (req.body && Object.keys(req.body).length > 0) {
    body = fromParsed(req.body);
    bodySource = type.includes('json') ? 'json' : 'form';
    if (body === null) return { ok: false, reason: 'the body has nested or repeated fields' };
  }
  if (Object.hasOwn(body, 'sign')) return { ok: true, params: body, source: bodySource };
  const query = fromParsed(req.query ?? {});
  if (query === null) return { ok: false, reason: 'the query string repeats a field' };
  if (Object.hasOwn(query, 'sign')) return { ok: true, params: query, source: 'query' };
  return { ok: false, reason: 'missing sign (neither the query string nor the body has one)' };
}
