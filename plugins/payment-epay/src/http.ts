/** Why a call to the epay site failed; `timeout` means the request may have been acted on. */
export type EpayErrorKind = 'timeout' | 'network' | 'http' | 'format';

export class EpayError extends Error {
  override readonly name = 'EpayError';
  constructor(
    message: string,
    readonly kind: EpayErrorKind,
  ) {
    super(message);
  }
}

export interface CallOptions {
  /** Gateway id, named in every error. */
  gateway: string;
  /** What is being done, for errors, e.g. "query (api.php?act=order)". Never contains the key. */
  what: string;
  url: URL;
  method: 'GET' | 'POST';
  form?: Record<string, string>;
  timeoutMs: number;
  /** Strings that must never appear in an error (the merchant key). */
  redact: string[];
}

function scrub(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('***');
  return out;
}

/** Calls the epay site and returns its JSON object answer, or throws an EpayError naming the gateway. */
export async function callJson(o: CallOptions): Promise<Record<string, unknown>> {
  const where = `${o.url.protocol}//${o.url.host}${o.url.pathname}`;
  const prefix = `epay gateway "${o.gateway}": ${o.what}`;
  let res: Response;
  try {
    res = await fetch(o.url, {
      method: o.method,
      headers: {
        accept: 'application/json, text/plain, */*',
        ...(o.form ? { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' } : {}),
      },
      body: o.form ? new URLSearchParams(o.form).toString() : undefined,
      redirect: 'manual',
      signal: AbortSignal.timeout(o.timeoutMs),
    });
  } catch (err) {
    const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
    if (e.name === 'TimeoutError' || e.name === 'AbortError') {
      throw new EpayError(`${prefix}: no answer from ${where} within ${o.timeoutMs} ms`, 'timeout');
    }
    const why = e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
    throw new EpayError(scrub(`${prefix}: cannot reach ${where} (${why}); check apiUrl`, o.redact), 'network');
  }
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    const e = err as { name?: string };
    if (e.name === 'TimeoutError' || e.name === 'AbortError') {
      throw new EpayError(`${prefix}: the answer from ${where} did not finish within ${o.timeoutMs} ms`, 'timeout');
    }
    throw new EpayError(`${prefix}: the answer from ${where} broke off`, 'network');
  }
  if (res.status >= 300 && res.status < 400) {
    const location = res.headers.get('location') ?? '';
    const target = location.split(/[?#]/)[0] ?? '';
    throw new EpayError(
      scrub(`${prefix}: ${where} redirects (HTTP ${res.status}) to ${target || 'another address'}; set apiUrl to the address it redirects to (http vs https, www or not)`, o.redact),
      'http',
    );
  }
  if (!res.ok) {
    throw new EpayError(`${prefix}: ${where} answered HTTP ${res.status}`, 'http');
  }
  let data: unknown;
  try {
    data = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch {
    const snippet = scrub(text.replace(/\s+/g, ' ').trim().slice(0, 80), o.redact);
    throw new EpayError(
      `${prefix}: ${where} did not answer JSON (it starts with ${JSON.stringify(snippet)}); is apiUrl the API address of your epay site?`,
      'format',
    );
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new EpayError(`${prefix}: ${where} answered JSON that is not an object`, 'format');
  }
  return data as Record<string, unknown>;
}
