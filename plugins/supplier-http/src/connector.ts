import { neverSent, parseMoney, type CardKey, type Logger, type SupplierConnector, type SupplierQueryResult } from '@cardshop/core';
import type { HttpSupplierSettings } from './settings.js';
import { sign, verify, type SignOptions } from './sign.js';

/** Why a call failed without an answer we can read; the order may have arrived (unless `unsent`), so it is asked about later. */
export class HttpSupplierError extends Error {
  override name = 'HttpSupplierError';
  constructor(
    message: string,
    /** No connection was made: the supplier never saw the request. */
    readonly unsent = false,
  ) {
    super(message);
  }
}

/** `a.b.c` in an answer; in a flat one (a form callback), its last segment. */
function pick(from: Record<string, unknown>, path: string): unknown {
  const nested = path.split('.').reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), from);
  return nested ?? from[path.split('.').at(-1)!];
}

/** Cards as suppliers send them: strings (`card` or `card----password`), objects, or those as a JSON string. */
function toKeys(raw: unknown): CardKey[] {
  let list = raw;
  if (typeof raw === 'string') {
    try {
      list = raw.trim().startsWith('[') ? JSON.parse(raw) : raw.split(/\r?\n/).filter(Boolean);
    } catch {
      throw new HttpSupplierError(`cards are not readable: ${raw.slice(0, 40)}`);
    }
  }
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new HttpSupplierError('cards are not a list');
  return list.map((item) => {
    if (typeof item === 'string') {
      const [card, password] = item.split('----');
      return password ? { card: card!, password } : { card: card! };
    }
    const o = item as Record<string, unknown>;
    const card = String(o.card ?? o.card_no ?? o.no ?? '');
    const password = o.password ?? o.card_pwd ?? o.pwd;
    if (!card) throw new HttpSupplierError('a card without a number');
    return password ? { card, password: String(password) } : { card };
  });
}

export function createHttpSupplier(s: HttpSupplierSettings, log: Logger): SupplierConnector {
  const signing = (): SignOptions => ({ algorithm: s.signature, secret: s.secret.reveal(), md5Suffix: s.md5Suffix, uppercase: s.signUppercase, signField: s.params.sign });
  const r = s.response;

  async function call(path: string, params: Record<string, string>, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const body: Record<string, string> = { [s.params.merchant]: s.merchantId, ...params, [s.params.timestamp]: String(Math.floor(Date.now() / 1000)) };
    body[s.params.sign] = sign(body, signing());
    const url = `${s.baseUrl}${path}`;
    const timeout = AbortSignal.timeout(s.timeoutMs);
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': s.encoding === 'json' ? 'application/json' : 'application/x-www-form-urlencoded; charset=utf-8', accept: 'application/json' },
        body: s.encoding === 'json' ? JSON.stringify(body) : new URLSearchParams(body).toString(),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        redirect: 'manual',
      });
      text = await res.text();
    } catch (err) {
      const e = err as { name?: string; cause?: { code?: string } };
      const why = e.name === 'TimeoutError' || e.name === 'AbortError' ? `no answer within ${s.timeoutMs} ms` : (e.cause?.code ?? String(err));
      throw new HttpSupplierError(`${s.id}: ${path}: ${why}`, neverSent(err));
    }
    if (!res.ok) throw new HttpSupplierError(`${s.id}: ${path} answered HTTP ${res.status}`);
    try {
      const data: unknown = JSON.parse(text.replace(/^\uFEFF/, ''));
      if (data && typeof data === 'object' && !Array.isArray(data)) return data as Record<string, unknown>;
    } catch {
      // not JSON: reported below
    }
    throw new HttpSupplierError(`${s.id}: ${path} did not answer a JSON object (it starts ${JSON.stringify(text.slice(0, 40))})`);
  }

  /** An answer (or a flat callback) as a result; anything unrecognisable throws, so the order is asked about again. */
  function interpret(answer: Record<string, unknown>, opts: { query?: boolean } = {}): SupplierQueryResult {
    const get = (path: string) => pick(answer, path);
    const message = String(get(r.message) ?? '');
    const code = get(r.code);
    if (code !== undefined && code !== null && !r.okCodes.includes(String(code))) {
      if (opts.query && r.notFoundCodes.includes(String(code))) return { status: 'unknown' };
      return { status: 'failed', retryable: r.retryCodes.includes(String(code)), reason: message || `code ${String(code)}` };
    }
    const status = String(get(r.status) ?? '');
    const supplierOrderNo = get(r.orderNo) === undefined ? undefined : String(get(r.orderNo));
    if (r.success.includes(status)) {
      const cost = get(r.cost);
      const receipt = get(r.receipt);
      return {
        status: 'delivered',
        keys: toKeys(get(r.cards)),
        receipt: receipt === undefined || receipt === null || receipt === '' ? undefined : String(receipt),
        cost: cost === undefined || cost === null || cost === '' ? undefined : (parseMoney(String(cost)) ?? undefined),
        supplierOrderNo,
      };
    }
    if (r.pending.includes(status)) return { status: 'pending', supplierOrderNo };
    if (r.failed.includes(status)) return { status: 'failed', retryable: false, reason: message || status };
    throw new HttpSupplierError(`${s.id}: unknown order status ${JSON.stringify(status)}`);
  }

  return {
    id: s.id,
    label: { 'zh-CN': s.label, en: s.label },
    async placeOrder(input) {
      let answer: Record<string, unknown>;
      try {
        answer = await call(
          s.paths.order,
          { ...input.fields, [s.params.reference]: input.reference, [s.params.product]: input.sku, [s.params.quantity]: String(input.quantity), [s.params.notifyUrl]: input.callbackUrl },
          input.signal,
        );
      } catch (err) {
        // Not reached at all: the order is known not to be there, so another try (or supplier) is safe.
        if (err instanceof HttpSupplierError && err.unsent) return { status: 'failed', retryable: true, reason: err.message };
        throw err;
      }
      const result = interpret(answer);
      if (result.status === 'unknown') throw new HttpSupplierError(`${s.id}: placing ${input.reference} answered "not found"`);
      return result;
    },
    async queryOrder(input) {
      return interpret(await call(s.paths.query, { [s.params.reference]: input.reference }, input.signal), { query: true });
    },
    async handleCallback(req) {
      const params: Record<string, string> = {};
      for (const [k, v] of Object.entries({ ...req.query, ...req.body })) params[k] = typeof v === 'string' ? v : JSON.stringify(v);
      const reply = { body: s.callbackReply.ok };
      const fail = { status: 400, body: s.callbackReply.fail };
      if (!verify(params, signing())) return { invalid: 'bad signature', reply: fail };
      const reference = params[s.params.reference];
      if (!reference) return { invalid: `no ${s.params.reference}`, reply: fail };
      try {
        const result = interpret(params);
        if (result.status === 'unknown') return { invalid: 'not a result', reply: fail };
        return { reference, result, reply };
      } catch (err) {
        log.warn(`callback for ${reference} not understood: ${(err as Error).message}`);
        return { invalid: (err as Error).message, reply: fail };
      }
    },
    ...(s.paths.balance
      ? {
          async balance({ signal }: { signal?: AbortSignal }) {
            const answer = await call(s.paths.balance!, {}, signal);
            const balance = parseMoney(String(pick(answer, r.balance) ?? ''));
            if (balance === null) throw new HttpSupplierError(`${s.id}: the balance is not an amount`);
            return { balance, currency: 'CNY', low: balance < s.lowBalance };
          },
        }
      : {}),
  };
}
