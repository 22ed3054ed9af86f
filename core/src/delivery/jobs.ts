import type { Knex } from 'knex';
import type { Deps } from '../context.js';
import { affected, transaction } from '../db/dialect.js';
import { errors } from '../errors.js';
import { transition } from '../orders/state.js';
import { randomToken } from '../security/keys.js';

/**
 * The durable job table. A job is written in the same transaction as the change that calls for
 * it (an order becoming paid, an order reaching a final state), so it exists exactly when that
 * change does. Workers claim due jobs with a lease; a job whose worker died is claimed again when
 * its lease runs out. Only the claim that runs a job may finish it.
 */

export type JobKind = 'deliver' | 'webhook' | 'restock' | 'alert' | 'mail';
/** `held`: a delivery waiting for an admin's review (orders/review.ts); no worker claims it. */
export type JobStatus = 'queued' | 'running' | 'done' | 'dead' | 'held';

export interface NewJob {
  kind: JobKind;
  /** One job per kind and ref: writing the same one twice keeps the first. */
  ref: string;
  orderId?: number | null;
  payload?: unknown;
  /** Written as `held`: it waits until an admin approves the order. */
  held?: boolean;
}

export interface Job {
  id: number;
  kind: JobKind;
  ref: string;
  orderId: number | null;
  payload: unknown;
  attempts: number;
  claim: string;
}

/** Writes jobs inside the caller's transaction; a job already there is left as it is. */
export async function enqueueJobs(deps: Deps, trx: Knex, jobs: NewJob[]): Promise<void> {
  const now = deps.now();
  for (let i = 0; i < jobs.length; i += 200) {
    const rows = jobs.slice(i, i + 200).map((j) => ({
      kind: j.kind,
      ref: j.ref,
      order_id: j.orderId ?? null,
      payload: j.payload === undefined ? null : JSON.stringify(j.payload),
      status: j.held ? 'held' : 'queued',
      attempts: 0,
      run_at: now,
      created_at: now,
      updated_at: now,
    }));
    await trx('delivery_jobs').insert(rows).onConflict(['kind', 'ref']).ignore();
  }
}

/** The delivery job of an order that was just paid and is not delivered inline. */
export const deliveryJob = (order: { id: number; no: string }): NewJob => ({ kind: 'deliver', ref: order.no, orderId: order.id });

/** Final states an Agent API caller hears about at its callback_url (delivery/webhooks.ts). */
export type WebhookEvent = 'order.delivered' | 'order.refunded';

/** The webhook job of an order that just reached `event`, if its caller asked for webhooks. */
export function webhookJobs(order: { id: number; no: string; callback_url?: string | null }, event: WebhookEvent): NewJob[] {
  return order.callback_url ? [{ kind: 'webhook', ref: `${order.no}:${event}`, orderId: order.id, payload: { event } }] : [];
}

// Running jobs here are those whose lease ran out: taken over first, they have waited longest.
const DUE = ['running', 'queued'] as const;

/**
 * Claims up to `limit` due jobs: queued ones whose time has come, and running ones whose lease
 * ran out (their worker died). Each gets a fresh lease of `leaseMs` and counts an attempt.
 * MySQL: the candidates are read `FOR UPDATE SKIP LOCKED`, so parallel workers take different
 * jobs without waiting on each other. SQLite: one UPDATE with a subquery, which the single
 * writer runs atomically.
 */
export async function claimJobs(deps: Deps, opts: { limit: number; leaseMs: number; at?: number; exclude?: number[] }): Promise<Job[]> {
  const now = opts.at ?? deps.now();
  // Most polls find nothing: asking a reader first keeps them off the writer (SQLite has one, and
  // the checkout keeps it busy) and out of MySQL's row locks.
  const due = await deps.db.read('delivery_jobs').whereIn('status', DUE).andWhere('run_at', '<=', now).first('id');
  if (!due) return [];
  const claim = randomToken(18);
  const lease = { status: 'running', claim, run_at: now + opts.leaseMs, updated_at: deps.now() };
  const rows = await transaction(deps.db, async (trx) => {
    // One status at a time, so the rows come in (status, run_at) index order: a sort would make
    // InnoDB lock every candidate row, and the other workers would skip them all.
    const due = (status: (typeof DUE)[number], limit: number) => {
      const q = trx('delivery_jobs').where('status', status).andWhere('run_at', '<=', now).orderBy('run_at').limit(limit).select('id');
      return opts.exclude?.length ? q.whereNotIn('id', opts.exclude) : q;
    };
    if (deps.db.dialect === 'mysql') {
      const ids: number[] = [];
      for (const status of DUE) {
        if (ids.length < opts.limit) ids.push(...(await due(status, opts.limit - ids.length).forUpdate().skipLocked()).map((r: { id: number }) => r.id));
      }
      if (!ids.length) return [];
      await trx('delivery_jobs').whereIn('id', ids).update({ ...lease, attempts: trx.raw('attempts + 1') });
    } else {
      let left = opts.limit;
      for (const status of DUE) {
        if (left > 0) left -= affected(await trx('delivery_jobs').whereIn('id', due(status, left)).update({ ...lease, attempts: trx.raw('attempts + 1') }));
      }
    }
    return trx('delivery_jobs').where('claim', claim).select('id', 'kind', 'ref', 'order_id', 'payload', 'attempts');
  });
  return rows.map((r: Record<string, unknown>) => ({
    id: Number(r.id),
    kind: r.kind as JobKind,
    ref: String(r.ref),
    orderId: r.order_id === null ? null : Number(r.order_id),
    payload: r.payload ? JSON.parse(String(r.payload)) : null,
    attempts: Number(r.attempts),
    claim,
  }));
}

/** How a run ended: finished, to run again at a time (a poll, not a failure), or failed. */
export type JobOutcome = { done: true } | { again: number } | { error: string; retryAt: number | null };

/**
 * Records a run's outcome, if the job is still this claim's (a worker that overran its lease
 * must not overwrite the run of the worker that took over). Returns whether it was.
 * A failure with `retryAt: null` is final: the job goes to the dead letter (`dead`).
 */
export async function settleJob(deps: Deps, job: Job, outcome: JobOutcome): Promise<boolean> {
  const now = deps.now();
  let patch: Record<string, unknown>;
  if ('done' in outcome) patch = { status: 'done', claim: null, last_error: null };
  else if ('again' in outcome) {
    // A poll that found nothing new is not a failed attempt.
    patch = { status: 'queued', claim: null, run_at: outcome.again, attempts: Math.max(0, job.attempts - 1) };
  } else if (outcome.retryAt === null) patch = { status: 'dead', claim: null, last_error: outcome.error.slice(0, 500) };
  else patch = { status: 'queued', claim: null, run_at: outcome.retryAt, last_error: outcome.error.slice(0, 500) };
  const n = await transaction(deps.db, (trx) =>
    trx('delivery_jobs')
      .where({ id: job.id, claim: job.claim })
      .update({ ...patch, updated_at: now }),
  );
  return affected(n) === 1;
}

/** Makes a queued job due now (a supplier's callback came, an admin asked to retry a dead one). */
export async function wakeJob(deps: Deps, trx: Knex, where: { kind: JobKind; orderId?: number; id?: number }, revive = false): Promise<boolean> {
  const q = trx('delivery_jobs').where('kind', where.kind);
  if (where.orderId !== undefined) q.andWhere('order_id', where.orderId);
  if (where.id !== undefined) q.andWhere('id', where.id);
  q.whereIn('status', revive ? ['queued', 'dead'] : ['queued']);
  const n = await q.update({ status: 'queued', run_at: deps.now(), ...(revive ? { attempts: 0 } : {}), updated_at: deps.now() });
  return affected(n) > 0;
}

/**
 * An admin's retry of a job, dead or waiting: it runs at once with its attempts reset. A delivery
 * that had stopped reopens its order (failed → delivering), so the job delivers instead of refunding.
 */
export async function retryJob(deps: Deps, id: number): Promise<void> {
  await transaction(deps.db, async (trx) => {
    const job = await trx('delivery_jobs').where('id', id).first('kind', 'order_id', 'status');
    if (!job) throw errors.notFound();
    // A held delivery is approved or rejected in review, never retried around it.
    if (job.status === 'running' || job.status === 'done' || job.status === 'held') throw errors.invalidState(job.status);
    if (job.kind === 'deliver' && job.order_id) await transition(trx, job.order_id, 'failed', 'delivering', { reason: null, updated_at: deps.now() });
    await wakeJob(deps, trx, { kind: job.kind, id }, true);
  });
}

/** Exponential backoff with jitter: half the step fixed, half random, so retries spread out. */
export function backoff(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const step = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(step / 2 + (random() * step) / 2);
}

export interface JobView {
  id: number;
  kind: JobKind;
  ref: string;
  status: JobStatus;
  attempts: number;
  runAt: number;
  lastError: string | null;
  updatedAt: number;
}

/** Jobs by status, newest first: the admin's view of the queue and its dead letter. */
export async function listJobs(deps: Deps, opts: { status?: JobStatus; limit?: number } = {}): Promise<JobView[]> {
  const q = deps.db.read('delivery_jobs').orderBy('id', 'desc').limit(Math.min(opts.limit ?? 50, 200));
  if (opts.status) q.where('status', opts.status);
  const rows = await q.select('id', 'kind', 'ref', 'status', 'attempts', 'run_at', 'last_error', 'updated_at');
  return rows.map((r: Record<string, unknown>) => ({
    id: Number(r.id),
    kind: r.kind as JobKind,
    ref: String(r.ref),
    status: r.status as JobStatus,
    attempts: Number(r.attempts),
    runAt: Number(r.run_at),
    lastError: (r.last_error as string | null) ?? null,
    updatedAt: Number(r.updated_at),
  }));
}
