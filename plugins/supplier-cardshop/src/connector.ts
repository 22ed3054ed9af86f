import {
  neverSent,
  signature,
  signRequest,
  SIGNATURE_WINDOW_S,
  type ApiOrder,
  type ApiProduct,
  type Logger,
  type SupplierConnector,
  type SupplierProduct,
  type SupplierResult,
} from '@cardshop/core';
import { timingSafeEqual } from 'node:crypto';
import type { CardshopSupplierSettings } from './settings.js';

/** The upstream could not be asked (down, slow, garbled): the order may have arrived (unless `unsent`), so it is asked about later. */
export class UpstreamError extends Error {
  override name = 'UpstreamError';
  constructor(
    message: string,
    /** No connection was made: the upstream never saw the request. */
    readonly unsent = false,
  ) {
    super(message);
  }
}

/** Upstream refusals worth another try later; any other 4xx is final. */
const RETRYABLE = new Set(['price_changed', 'signature_required', 'bad_signature', 'stale_timestamp', 'nonce_reused', 'invalid_key']);

/** An upstream order as our result: only its final states are final here (a failed one may still be retried and delivered there). */
function resultOf(order: ApiOrder): SupplierResult {
  if (order.status === 'delivered') {
    return { status: 'delivered', keys: order.keys, receipt: order.delivery ?? undefined, cost: order.amount, supplierOrderNo: order.no };
  }
  if (['refunded', 'cancelled', 'expired'].includes(order.status)) {
    return { status: 'failed', retryable: false, reason: `upstream ${order.status}${order.reason ? `: ${order.reason}` : ''}` };
  }
  return { status: 'pending', supplierOrderNo: order.no };
}

function toProduct(p: ApiProduct): SupplierProduct {
  return {
    sku: p.sku,
    name: p.name,
    product: p.product,
    category: p.category,
    description: p.description,
    type: p.type === 'card' ? 'card' : 'direct',
    cost: p.price,
    stock: p.stock,
    minQuantity: p.min_quantity,
    maxQuantity: p.max_quantity,
    fields: p.fields.map((f) => ({ name: f.name, label: f.label, type: f.type, required: f.required, pattern: f.pattern, maxLength: f.max_length, options: f.options })),
  };
}

export function createCardshopSupplier(s: CardshopSupplierSettings, log: Logger): SupplierConnector {
  const credentials = () => ({ key: s.key, secret: s.secret.reveal() });
  const base = new URL(s.url);

  /** A signed call to the upstream's /api/v1; answers its status and JSON body, throws when there is none to read. */
  async function api(method: 'GET' | 'POST', path: string, opts: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {}) {
    const url = new URL(`${base.pathname.replace(/\/+$/, '')}/api/v1${path}`, base);
    const raw = opts.body === undefined ? '' : JSON.stringify(opts.body);
    const timeout = AbortSignal.timeout(s.timeoutMs);
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method,
        headers: { ...signRequest(credentials(), { method, path: url.pathname + url.search, body: raw }), ...(raw ? { 'content-type': 'application/json' } : {}), ...opts.headers },
        body: raw || undefined,
        signal: opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout,
        redirect: 'manual',
      });
      text = await res.text();
    } catch (err) {
      const e = err as { name?: string; cause?: { code?: string } };
      throw new UpstreamError(`${s.id}: ${method} ${path}: ${e.name === 'TimeoutError' || e.name === 'AbortError' ? `no answer within ${s.timeoutMs} ms` : (e.cause?.code ?? String(err))}`, neverSent(err));
    }
    let body: Record<string, any>;
    try {
      body = JSON.parse(text);
    } catch {
      throw new UpstreamError(`${s.id}: ${method} ${path} answered HTTP ${res.status} without JSON`);
    }
    if (res.status >= 500) throw new UpstreamError(`${s.id}: ${method} ${path} answered HTTP ${res.status} (${body.error?.code ?? '?'})`);
    return { status: res.status, body };
  }

  const refusal = (body: Record<string, any>): SupplierResult => {
    const code = String(body.error?.code ?? 'unknown');
    const reason = `upstream: ${body.error?.message ?? code}`;
    if (code === 'insufficient_balance') log.warn(`the balance at ${s.url} is too low to forward orders`);
    return { status: 'failed', retryable: RETRYABLE.has(code), reason };
  };

  const connector: SupplierConnector = {
    id: s.id,
    label: { 'zh-CN': s.label, en: s.label },
    async placeOrder(input) {
      let answer: Awaited<ReturnType<typeof api>>;
      try {
        answer = await api('POST', '/orders', {
          body: { sku: input.sku, quantity: input.quantity, ...(Object.keys(input.fields).length ? { fields: input.fields } : {}), callback_url: input.callbackUrl },
          // Our order number: a repeat at the upstream returns the same order, never a second one.
          headers: { 'idempotency-key': input.reference },
          signal: input.signal,
        });
      } catch (err) {
        // Not reached at all: the order is known not to be there, so another try (or supplier) is safe.
        if (err instanceof UpstreamError && err.unsent) return { status: 'failed', retryable: true, reason: err.message };
        throw err;
      }
      return answer.status < 300 ? resultOf(answer.body.order) : refusal(answer.body);
    },
    async queryOrder(input) {
      const { status, body } = await api('GET', `/orders?idempotency_key=${encodeURIComponent(input.reference)}`, { signal: input.signal });
      if (status === 404) return { status: 'unknown' };
      if (status >= 300) throw new UpstreamError(`${s.id}: query of ${input.reference} refused (${body.error?.code})`);
      return resultOf(body.order);
    },
    /** The upstream's webhook, signed like an API request with our key: checked the same way its API checks ours. */
    async handleCallback(req) {
      const h = (name: string) => req.headers[name] ?? '';
      const fail = (why: string) => ({ invalid: why, reply: { status: 401, type: 'application/json', body: JSON.stringify({ error: why }) } });
      if (h('x-cardshop-key') !== s.key) return fail('not signed with our key');
      const timestamp = h('x-cardshop-timestamp');
      if (!/^\d{1,12}$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > SIGNATURE_WINDOW_S) return fail('stale timestamp');
      const expected = signature(s.secret.reveal(), { method: req.method, path: req.path ?? '', timestamp, nonce: h('x-cardshop-nonce'), body: req.rawBody });
      const given = h('x-cardshop-signature').toLowerCase();
      if (given.length !== expected.length || !timingSafeEqual(Buffer.from(given), Buffer.from(expected))) return fail('bad signature');
      const order = (req.body as { order?: ApiOrder }).order;
      if (!order?.idempotency_key) return fail('no order in the body');
      return { reference: order.idempotency_key, result: resultOf(order), reply: { type: 'application/json', body: '{"ok":true}' } };
    },
    async listProducts({ signal }) {
      const { status, body } = await api('GET', '/products', { signal });
      if (status >= 300) throw new UpstreamError(`${s.id}: the catalog was refused (${body.error?.code})`);
      return { products: (body.products as ApiProduct[]).map(toProduct) };
    },
    async balance({ signal }) {
      const { status, body } = await api('GET', '/wallet', { signal });
      if (status >= 300) throw new UpstreamError(`${s.id}: the wallet was refused (${body.error?.code})`);
      return { balance: body.wallet.balance, currency: body.wallet.currency, low: body.wallet.balance < s.lowBalance };
    },
  };
  if (s.import) {
    connector.catalog = {
      categories: s.import.categories.length ? s.import.categories : undefined,
      markupPercent: s.import.markupPercent,
      markupFixed: s.import.markupFixed,
      skuPrefix: s.import.skuPrefix,
      syncMinutes: s.import.syncMinutes,
    };
  }
  return connector;
}
