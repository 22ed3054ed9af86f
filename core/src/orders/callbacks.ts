import { audit } from '../audit/audit.js';
import type { Deps } from '../context.js';
import { transaction } from '../db/dialect.js';
import { errors, ShopError } from '../errors.js';
import type { NotifyReply, NotifyRequest, PaymentGateway } from '../plugins/payment.js';
import { decrypt, encrypt } from '../security/keys.js';
import { maskBody, maskFields, maskHeaders } from './mask.js';
import { probeIn, probeReply } from './notify-check.js';
import { confirmByQuery, markPaid, PaymentRefused, PaymentUnconfirmed, type PaidOutcome } from './payments.js';
import { announceStuckPayment } from './stuck.js';

/**
 * Every request to /pay/<gateway>/notify and /pay/<gateway>/return, and what the shop made of it,
 * is kept for `payments.callbackLogDays`: masked for the console, and sealed as received so an
 * operator can replay it once the cause (a wrong key, a missing order) is fixed. Replaying runs the
 * same verification and the same markPaid as the original, so it is as idempotent as a retried
 * notify.
 */

/** A callback as it arrived, before anything parsed it. */
export interface IncomingCallback {
  method: string;
  /** Lower-cased header names. */
  headers: Record<string, string | undefined>;
  query: Record<string, string>;
  rawBody: string;
  ip?: string;
}

export type CallbackKind = 'notify' | 'return' | 'replay' | 'probe';

export interface CallbackView {
  id: number;
  gateway: string;
  kind: CallbackKind;
  method: string;
  ip: string | null;
  headers: Record<string, string>;
  query: Record<string, unknown>;
  body: string;
  signatureValid: boolean | null;
  orderNo: string | null;
  amount: number | null;
  amountMatch: boolean | null;
  statusBefore: string | null;
  statusAfter: string | null;
  outcome: string;
  ok: boolean;
  reason: string | null;
  replyStatus: number | null;
  replyBody: string | null;
  replayOf: number | null;
  actorId: number | null;
  createdAt: number;
  /** A notify (or a replay of one) can be replayed. */
  replayable: boolean;
}

/** Form or JSON, whichever the gateway sent (some send JSON where their docs say form). */
export function parseNotifyBody(raw: string, type: string): Record<string, unknown> {
  const text = raw.trim();
  if (!text) return {};
  if (type.includes('json') || text.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(text);
      return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
    } catch {
      return {}; // not JSON: the gateway's verification reads rawBody and says why
    }
  }
  if (type.includes('x-www-form-urlencoded') || /^[^=&\s]+=/.test(text)) return Object.fromEntries(new URLSearchParams(text));
  return {};
}

/**
 * A verified "paid" notify. A payment the order no longer waits for (expired, cancelled, paid
 * under another trade number) and every wallet top-up is first confirmed by asking the gateway:
 * a valid signature alone never credits money the gateway does not confirm.
 */
export async function recordVerifiedPayment(
  deps: Deps,
  gateway: PaymentGateway,
  paid: { orderNo: string; amount: number; tradeNo: string },
): Promise<PaidOutcome> {
  const input = { gatewayId: gateway.id, ...paid };
  try {
    return await markPaid(deps, input);
  } catch (err) {
    if (!(err instanceof PaymentUnconfirmed)) throw err;
  }
  // A query that fails throws: the notify is answered with a failure and the gateway sends it again.
  const answer = await gateway.query({ orderNo: paid.orderNo });
  if (answer.status !== 'paid' || answer.amount !== paid.amount) {
    throw new PaymentUnconfirmed(`the gateway's query does not confirm it: ${answer.status}${answer.amount === undefined ? '' : `, ${answer.amount}`}`);
  }
  return markPaid(deps, { ...input, confirmed: true });
}

async function orderState(deps: Deps, no: string | undefined): Promise<{ status: string; amount: number } | null> {
  if (!no) return null;
  const row = await deps.db.knex('orders').where('no', no).first('status', 'amount');
  return row ? { status: row.status, amount: Number(row.amount) } : null;
}

interface Outcome {
  reply: NotifyReply;
  /** The order as it stood before this callback acted on it. */
  before?: { status: string; amount: number } | null;
  outcome: string;
  ok: boolean;
  signatureValid?: boolean | null;
  orderNo?: string;
  amount?: number;
  reason?: string;
}

/**
 * The order a notify that did not verify says it is about, so the order's page can list it: one of
 * our order numbers anywhere in the query or body (Alipay's form spells the dash as `_`).
 */
function claimedOrderNo(req: NotifyRequest): string | undefined {
  const m = /\b(\d{6})[-_]([0-9A-HJKMNP-TV-Z]{10})\b/.exec(`${Object.values(req.query).join(' ')} ${req.rawBody}`);
  return m ? `${m[1]}-${m[2]}` : undefined;
}

/** Verifies a notify and acts on it; never throws (a plugin's bug is logged and answered 500). */
async function actOnNotify(deps: Deps, gateway: PaymentGateway, req: NotifyRequest): Promise<Outcome> {
  let result;
  try {
    result = await gateway.verifyNotify(req);
  } catch (err) {
    deps.log.error(`pay ${gateway.id}: verifying a notify failed`, err);
    const orderNo = claimedOrderNo(req);
    return { reply: { status: 500, body: 'error' }, outcome: 'error', ok: false, orderNo, before: await orderState(deps, orderNo), reason: `verification failed: ${(err as Error).message}` };
  }
  if (result.action === 'invalid') {
    deps.log.warn(`pay ${gateway.id}: refused a notify: ${result.reason}`);
    const orderNo = claimedOrderNo(req);
    return { reply: result.reply, outcome: 'invalid', ok: false, signatureValid: false, orderNo, before: await orderState(deps, orderNo), reason: result.reason };
  }
  if (result.action !== 'paid') {
    deps.log.info(`pay ${gateway.id}: ${result.action} for ${result.orderNo ?? '(no order)'}`);
    return { reply: result.reply, outcome: result.action, ok: true, signatureValid: true, orderNo: result.orderNo, before: await orderState(deps, result.orderNo) };
  }
  const seen = { signatureValid: true, orderNo: result.orderNo, amount: result.amount, before: await orderState(deps, result.orderNo) };
  try {
    const outcome = await recordVerifiedPayment(deps, gateway, result);
    deps.log.info(`pay ${gateway.id}: order ${result.orderNo} ${outcome} (trade ${result.tradeNo})`);
    return { ...seen, reply: result.reply, outcome, ok: true };
  } catch (err) {
    if (err instanceof PaymentRefused || err instanceof PaymentUnconfirmed) {
      deps.log.warn(`pay ${gateway.id}: refused a verified notify: ${err.message}`);
      // The gateway says it was paid and the order cannot take it: the buyer will ask, the operator should know first.
      if (seen.before) await announceStuckPayment(deps, result.orderNo, seen.before.amount === result.amount ? 'reported_paid' : 'reported_other_amount');
      return { ...seen, reply: result.failReply, outcome: err instanceof PaymentRefused ? 'refused' : 'unconfirmed', ok: false, reason: err.message };
    }
    deps.log.error(`pay ${gateway.id}: could not record the payment of ${result.orderNo}; the gateway will retry`, err);
    return { ...seen, reply: { ...result.failReply, status: 503 }, outcome: 'error', ok: false, reason: `not recorded: ${(err as Error).message}` };
  }
}

const seal = (deps: Deps, c: IncomingCallback) =>
  encrypt(deps.keys.encryption, JSON.stringify({ method: c.method, headers: c.headers, query: c.query, rawBody: c.rawBody }));

async function writeLog(
  deps: Deps,
  entry: { gateway: string; kind: CallbackKind; incoming: IncomingCallback; result: Outcome },
  replay?: { of: number; actorId: number; ip?: string },
): Promise<number> {
  const { incoming: c, result: r } = entry;
  const after = await orderState(deps, r.orderNo);
  const row = {
    gateway: entry.gateway,
    kind: entry.kind,
    method: c.method.slice(0, 8),
    ip: c.ip?.slice(0, 64) ?? null,
    headers: JSON.stringify(maskHeaders(c.headers)),
    query: JSON.stringify(maskFields(c.query)),
    body: maskBody(c.rawBody, c.headers['content-type']),
    sealed: entry.kind === 'notify' || entry.kind === 'replay' ? seal(deps, c) : null,
    signature_valid: r.signatureValid ?? null,
    order_no: r.orderNo?.slice(0, 32) ?? null,
    amount: r.amount ?? null,
    amount_match: r.before && r.amount !== undefined ? r.before.amount === r.amount : null,
    status_before: r.before?.status ?? null,
    status_after: after?.status ?? null,
    outcome: r.outcome.slice(0, 16),
    ok: r.ok,
    reason: r.reason?.slice(0, 255) ?? null,
    reply_status: r.reply.status ?? 200,
    reply_body: r.reply.body.slice(0, 255),
    replay_of: replay?.of ?? null,
    actor_id: replay?.actorId ?? null,
    created_at: deps.now(),
  };
  return transaction(deps.db, async (trx) => {
    const [id] = await trx('payment_callbacks').insert(row);
    if (replay) {
      await audit(deps, trx, {
        actorId: replay.actorId,
        action: 'payment.replay',
        targetType: 'callback',
        targetId: replay.of,
        before: { order: row.order_no, status: row.status_before },
        after: { callback: Number(id), outcome: row.outcome, status: row.status_after, reason: row.reason },
        ip: replay.ip,
      });
    }
    return Number(id);
  });
}

/**
 * Handles a request to /pay/<gateway>/notify: a probe of "check my notify URL" is answered as
 * such; anything else is verified by the gateway and, when paid, recorded through markPaid. The
 * request and its outcome are logged either way; the reply is what the gateway must be sent.
 */
export async function handleNotify(
  deps: Deps,
  gateway: PaymentGateway,
  incoming: IncomingCallback,
  replay?: { of: number; actorId: number; ip?: string },
): Promise<{ reply: NotifyReply; logId: number | null }> {
  const probe = replay ? undefined : probeIn(deps, gateway.id, incoming.query);
  const result: Outcome = probe
    ? { reply: probeReply(deps, probe), outcome: 'probe', ok: true }
    : await actOnNotify(deps, gateway, { ...incoming, body: parseNotifyBody(incoming.rawBody, incoming.headers['content-type'] ?? '') });
  const kind: CallbackKind = probe ? 'probe' : replay ? 'replay' : 'notify';
  return { reply: result.reply, logId: await logSafely(deps, { gateway: gateway.id, kind, incoming, result }, replay) };
}

/** The log must not turn a recorded payment into a failure reply: if writing it fails, say so and go on. */
async function logSafely(deps: Deps, entry: Parameters<typeof writeLog>[1], replay?: Parameters<typeof writeLog>[2]): Promise<number | null> {
  try {
    return await writeLog(deps, entry, replay);
  } catch (err) {
    if (replay) throw err; // an operator's replay is audited or it fails
    deps.log.error(`pay ${entry.gateway}: could not write the callback log`, err);
    return null;
  }
}

/**
 * The buyer's browser back from the gateway: if the order still waits for its payment, ask the
 * gateway (the notify may be late or lost). Logged like a notify. Returns where to send the buyer.
 */
export async function handleReturn(deps: Deps, gateway: PaymentGateway, incoming: IncomingCallback): Promise<string> {
  const no = incoming.query.no ?? '';
  const before = await orderState(deps, no);
  let result: Outcome = { reply: { status: 302, body: '' }, outcome: 'returned', ok: true, orderNo: before ? no : undefined, before };
  const row = before?.status === 'pending_payment' ? await deps.db.read('orders').where({ no, payment: gateway.id }).first('no', 'amount') : undefined;
  if (row) {
    try {
      if (await confirmByQuery(deps, gateway, { no: row.no, amount: Number(row.amount) })) result = { ...result, outcome: 'confirmed' };
    } catch (err) {
      deps.log.warn(`pay ${gateway.id}: could not confirm ${no} on return`, err);
      result = { ...result, outcome: 'error', ok: false, reason: (err as Error).message };
    }
  }
  const location = no ? `/order/${encodeURIComponent(no)}` : '/';
  result.reply = { status: 302, body: location };
  await logSafely(deps, { gateway: gateway.id, kind: 'return', incoming, result });
  return location;
}

interface CallbackRow {
  id: number | string;
  gateway: string;
  kind: CallbackKind;
  method: string;
  ip: string | null;
  headers: string | null;
  query: string | null;
  body: string | null;
  sealed: string | null;
  signature_valid: number | boolean | null;
  order_no: string | null;
  amount: number | string | null;
  amount_match: number | boolean | null;
  status_before: string | null;
  status_after: string | null;
  outcome: string;
  ok: number | boolean;
  reason: string | null;
  reply_status: number | null;
  reply_body: string | null;
  replay_of: number | string | null;
  actor_id: number | null;
  created_at: number | string;
}

const bool = (v: number | boolean | null) => (v === null ? null : Boolean(v));

function toView(r: CallbackRow): CallbackView {
  return {
    id: Number(r.id),
    gateway: r.gateway,
    kind: r.kind,
    method: r.method,
    ip: r.ip,
    headers: r.headers ? JSON.parse(r.headers) : {},
    query: r.query ? JSON.parse(r.query) : {},
    body: r.body ?? '',
    signatureValid: bool(r.signature_valid),
    orderNo: r.order_no,
    amount: r.amount === null ? null : Number(r.amount),
    amountMatch: bool(r.amount_match),
    statusBefore: r.status_before,
    statusAfter: r.status_after,
    outcome: r.outcome,
    ok: Boolean(r.ok),
    reason: r.reason,
    replyStatus: r.reply_status,
    replyBody: r.reply_body,
    replayOf: r.replay_of === null ? null : Number(r.replay_of),
    actorId: r.actor_id,
    createdAt: Number(r.created_at),
    replayable: r.sealed !== null,
  };
}

const LIST_COLUMNS = [
  'id', 'gateway', 'kind', 'method', 'ip', 'signature_valid', 'order_no', 'amount', 'amount_match', 'status_before', 'status_after',
  'outcome', 'ok', 'reason', 'reply_status', 'reply_body', 'replay_of', 'actor_id', 'created_at',
];

/** Newest first, without headers and bodies (those are on each callback's page). */
export async function listCallbacks(
  deps: Deps,
  filter: { gateway?: string; orderNo?: string; failedOnly?: boolean; beforeId?: number; limit?: number },
): Promise<CallbackView[]> {
  const q = deps.db.read('payment_callbacks').orderBy('id', 'desc').limit(Math.min(filter.limit ?? 50, 200));
  if (filter.gateway) q.where('gateway', filter.gateway);
  if (filter.orderNo) q.where('order_no', filter.orderNo);
  if (filter.failedOnly) q.where('ok', false);
  if (filter.beforeId) q.where('id', '<', filter.beforeId);
  const rows: CallbackRow[] = await q.select(LIST_COLUMNS);
  return rows.map((r) => toView({ ...r, headers: null, query: null, body: null, sealed: r.kind === 'notify' || r.kind === 'replay' ? '' : null }));
}

export async function getCallback(deps: Deps, id: number): Promise<CallbackView> {
  const row: CallbackRow | undefined = await deps.db.read('payment_callbacks').where('id', id).first();
  if (!row) throw errors.notFound();
  return toView(row);
}

/**
 * Runs a stored notify through its gateway's verification and the same action again, as the
 * operator `actorId`: the new outcome is logged as a `replay` of it and audited. Paying an order
 * twice is impossible for the same reasons a retried notify cannot.
 */
export async function replayCallback(
  deps: Deps,
  gateways: ReadonlyMap<string, PaymentGateway>,
  input: { id: number; actorId: number; ip?: string },
): Promise<CallbackView> {
  const row: CallbackRow | undefined = await deps.db.knex('payment_callbacks').where('id', input.id).first();
  if (!row?.sealed) throw errors.notFound();
  const gateway = gateways.get(row.gateway);
  if (!gateway) throw new ShopError('gateway_missing', 409, 'error.gateway_missing', undefined, { gateway: row.gateway });
  const original = JSON.parse(decrypt(deps.keys.encryption, row.sealed)) as Omit<IncomingCallback, 'ip'>;
  const { logId } = await handleNotify(deps, gateway, { ...original, ip: row.ip ?? undefined }, { of: Number(row.id), actorId: input.actorId, ip: input.ip });
  return getCallback(deps, logId!);
}

/** Drops callbacks older than `payments.callbackLogDays` (the hourly chore). */
export async function pruneCallbacks(deps: Deps): Promise<number> {
  const cutoff = deps.now() - deps.config.payments.callbackLogDays * 86_400_000;
  return Number(await deps.db.knex('payment_callbacks').where('created_at', '<', cutoff).delete());
}

/** Callbacks and failures per gateway since `since`, for the console's overview. */
export async function callbackCounts(deps: Deps, since: number): Promise<Map<string, { total: number; failed: number }>> {
  const rows: Array<{ gateway: string; ok: number | boolean; n: number | string }> = await deps.db
    .read('payment_callbacks')
    .where('created_at', '>=', since)
    .whereNot('kind', 'probe')
    .groupBy('gateway', 'ok')
    .select('gateway', 'ok')
    .count({ n: '*' });
  const counts = new Map<string, { total: number; failed: number }>();
  for (const r of rows) {
    const c = counts.get(r.gateway) ?? { total: 0, failed: 0 };
    c.total += Number(r.n);
    if (!r.ok) c.failed += Number(r.n);
    counts.set(r.gateway, c);
  }
  return counts;
}
