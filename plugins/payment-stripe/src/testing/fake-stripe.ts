/**
 * A small stand-in for api.stripe.com, for tests only (not part of the build): it answers the
 * endpoints the gateway calls, keeps idempotency keys the way Stripe does (same key and same
 * parameters → the first answer again; same key, other parameters → 400 idempotency_error), and
 * records every request with its headers and form-encoded body.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** The form body, flat: `line_items[0][price_data][currency]` → `cny`. */
  form: Record<string, string>;
  rawBody: string;
  headers: IncomingHttpHeaders;
  idempotencyKey?: string;
}

export interface FakePaymentIntent {
  id: string;
  object: 'payment_intent';
  amount: number;
  amount_received: number;
  currency: string;
  status: 'requires_payment_method' | 'requires_confirmation' | 'requires_action' | 'processing' | 'requires_capture' | 'canceled' | 'succeeded';
  metadata: Record<string, string>;
  created: number;
  livemode: false;
}

type Json = Record<string, unknown>;

export interface FakeStripe {
  readonly port: number;
  readonly requests: RecordedRequest[];
  readonly sessions: Json[];
  readonly refunds: Json[];
  readonly paymentIntents: Map<string, FakePaymentIntent>;
  addPaymentIntent(pi: Partial<FakePaymentIntent> & { id: string; amount: number; metadata: Record<string, string> }): FakePaymentIntent;
  /** The next `count` requests to `path` answer this status and error (then the normal answer). */
  failNext(path: string, status: number, count?: number): void;
  /** The status the next refunds get (default `succeeded`). */
  refundStatus: 'succeeded' | 'pending' | 'failed';
  reset(): void;
  close(): Promise<void>;
}

function flatForm(body: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(body)) out[k] = v;
  return out;
}

/** Parses `metadata['order_no']:'A\'B'` (the only search the gateway makes). */
function parseMetadataQuery(q: string): { key: string; value: string } | null {
  const m = /^metadata\['([^']+)'\]:'((?:[^'\\]|\\.)*)'$/.exec(q.trim());
  if (!m) return null;
  return { key: m[1]!, value: m[2]!.replace(/\\(.)/g, '$1') };
}

export async function startFakeStripe(options: { apiKey: string }): Promise<FakeStripe> {
  const requests: RecordedRequest[] = [];
  const sessions: Json[] = [];
  const refunds: Json[] = [];
  const paymentIntents = new Map<string, FakePaymentIntent>();
  const idempotent = new Map<string, { path: string; body: string; status: number; response: Json }>();
  const failures = new Map<string, { status: number; count: number }>();
  let seq = 0;

  const error = (status: number, type: string, message: string, code?: string) => ({ status, response: { error: { type, message, ...(code ? { code } : {}) } } });

  function handle(req: RecordedRequest): { status: number; response: Json } {
    if (req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return error(401, 'invalid_request_error', 'Invalid API Key provided');
    }
    const fail = failures.get(req.path);
    if (fail && fail.count > 0) {
      fail.count -= 1;
      return error(fail.status, 'api_error', 'the fake Stripe was told to fail');
    }

    if (req.method === 'POST' && req.path === '/v1/checkout/sessions') {
      const f = req.form;
      const amount = Number(f['line_items[0][price_data][unit_amount]']);
      const currency = f['line_items[0][price_data][currency]'];
      if (f['mode'] !== 'payment' || !Number.isInteger(amount) || !currency || !f['success_url']) {
        return error(400, 'invalid_request_error', 'missing or bad parameters');
      }
      const id = `cs_test_${++seq}`;
      const session: Json = {
        id,
        object: 'checkout.session',
        mode: 'payment',
        status: 'open',
        payment_status: 'unpaid',
        amount_total: amount * Number(f['line_items[0][quantity]'] ?? 1),
        currency,
        client_reference_id: f['client_reference_id'] ?? null,
        metadata: { order_no: f['metadata[order_no]'] },
        payment_intent: null,
        success_url: f['success_url'],
        cancel_url: f['cancel_url'] ?? null,
        url: `https://checkout.stripe.com/c/pay/${id}`,
        livemode: false,
      };
      sessions.push(session);
      return { status: 200, response: session };
    }

    if (req.method === 'GET' && req.path === '/v1/payment_intents/search') {
      const parsed = parseMetadataQuery(req.query['query'] ?? '');
      if (!parsed) return error(400, 'invalid_request_error', `cannot parse query ${req.query['query']}`);
      const limit = Number(req.query['limit'] ?? 10);
      const data = [...paymentIntents.values()].filter((pi) => pi.metadata[parsed.key] === parsed.value).slice(0, limit);
      return { status: 200, response: { object: 'search_result', data, has_more: false, next_page: null, url: '/v1/payment_intents/search' } };
    }

    const piMatch = /^\/v1\/payment_intents\/([A-Za-z0-9_]+)$/.exec(req.path);
    if (req.method === 'GET' && piMatch) {
      const pi = paymentIntents.get(piMatch[1]!);
      return pi ? { status: 200, response: pi as unknown as Json } : error(404, 'invalid_request_error', `No such payment_intent: '${piMatch[1]}'`, 'resource_missing');
    }

    if (req.method === 'POST' && req.path === '/v1/refunds') {
      const pi = paymentIntents.get(req.form['payment_intent'] ?? '');
      if (!pi) return error(404, 'invalid_request_error', `No such payment_intent: '${req.form['payment_intent']}'`, 'resource_missing');
      const already = refunds.filter((r) => r['payment_intent'] === pi.id && r['status'] !== 'failed').reduce((s, r) => s + (r['amount'] as number), 0);
      if (pi.status !== 'succeeded') return error(400, 'invalid_request_error', 'This PaymentIntent has no successful charge', 'charge_not_refundable');
      if (already >= pi.amount_received) return error(400, 'invalid_request_error', 'Charge has already been refunded.', 'charge_already_refunded');
      const amount = req.form['amount'] ? Number(req.form['amount']) : pi.amount_received - already;
      if (!Number.isInteger(amount) || amount <= 0 || amount > pi.amount_received - already) {
        return error(400, 'invalid_request_error', `Refund amount (${amount}) is greater than unrefunded amount on charge`, 'amount_too_large');
      }
      const metadata: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.form)) {
        const m = /^metadata\[(.+)\]$/.exec(k);
        if (m) metadata[m[1]!] = v;
      }
      const refund: Json = {
        id: `re_test_${++seq}`,
        object: 'refund',
        amount,
        currency: pi.currency,
        payment_intent: pi.id,
        status: fake.refundStatus,
        failure_reason: fake.refundStatus === 'failed' ? 'expired_or_canceled_card' : null,
        metadata,
      };
      refunds.push(refund);
      return { status: 200, response: refund };
    }

    return error(404, 'invalid_request_error', `Unrecognized request URL (${req.method}: ${req.path})`);
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const key = req.headers['idempotency-key'];
      const recorded: RecordedRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        form: flatForm(rawBody),
        rawBody,
        headers: req.headers,
        ...(typeof key === 'string' ? { idempotencyKey: key } : {}),
      };
      requests.push(recorded);

      let answer: { status: number; response: Json };
      const seen = typeof key === 'string' && recorded.method === 'POST' ? idempotent.get(key) : undefined;
      if (seen && (seen.path !== recorded.path || seen.body !== rawBody)) {
        answer = error(400, 'idempotency_error', `Keys for idempotent requests can only be used with the same parameters they were first used with.`);
      } else if (seen) {
        answer = seen;
      } else {
        answer = handle(recorded);
        // Stripe keeps the answer of a key unless it was a 5xx (or 409), which may be retried.
        if (typeof key === 'string' && recorded.method === 'POST' && answer.status < 500) {
          idempotent.set(key, { path: recorded.path, body: rawBody, ...answer });
        }
      }
      const headers: Record<string, string> = { 'content-type': 'application/json', 'request-id': `req_${requests.length}` };
      if (seen) headers['idempotent-replayed'] = 'true';
      res.writeHead(answer.status, headers);
      res.end(JSON.stringify(answer.response));
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  const fake: FakeStripe = {
    port,
    requests,
    sessions,
    refunds,
    paymentIntents,
    refundStatus: 'succeeded',
    addPaymentIntent(pi) {
      const full: FakePaymentIntent = {
        object: 'payment_intent',
        currency: 'cny',
        status: 'succeeded',
        amount_received: pi.status && pi.status !== 'succeeded' ? 0 : pi.amount,
        created: Math.floor(Date.now() / 1000),
        livemode: false,
        ...pi,
      };
      paymentIntents.set(full.id, full);
      return full;
    },
    failNext(path, status, count = 1) {
      failures.set(path, { status, count });
    },
    reset() {
      requests.length = 0;
      sessions.length = 0;
      refunds.length = 0;
      paymentIntents.clear();
      idempotent.clear();
      failures.clear();
      fake.refundStatus = 'succeeded';
      seq = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
  return fake;
}
