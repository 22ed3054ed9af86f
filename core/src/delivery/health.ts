import type { Deps } from '../context.js';
import type { SupplierQueryResult } from './supplier.js';

/**
 * Each supplier's health as this process sees it: a circuit breaker, a limit of calls in flight,
 * and the figures of the last hour for the console.
 *
 * Breaker: `closed` lets calls through; `breakerFailures` failed calls in a row open it, and for
 * `breakerCoolDownMs` the supplier is not called at all (orders go to their next route or wait);
 * then it is `half-open`: one call goes through, and its outcome closes or opens it again. A
 * failure is a call that threw (no readable answer: a timeout, a reset, HTML) or an answer of
 * "not now"; a refusal for good (sold out) is a supplier that works.
 *
 * The figures are kept in memory, per process: the last hour's calls (at most SAMPLES of them) in
 * a ring, so a call costs no database write and the page sorts a thousand numbers at most. Another
 * process (or this one before a restart) is seen through `supplier_health`, one row per supplier
 * written when its state or last error changes, or its last success is a minute old: a handful of
 * writes per supplier and minute however busy it is.
 */

export type BreakerState = 'closed' | 'open' | 'half-open';

/** A call that was not made: the supplier's breaker is open, or its calls in flight are at their limit. */
export class SupplierUnavailable extends Error {
  override name = 'SupplierUnavailable';
  constructor(
    readonly supplier: string,
    readonly why: 'open' | 'busy',
    /** When asking again may succeed. */
    readonly retryAt: number,
  ) {
    super(`${supplier}: ${why === 'open' ? 'not called while its circuit breaker is open' : 'too many calls in flight'}`);
  }
}

export interface SupplierHealthView {
  supplier: string;
  state: BreakerState;
  /** Failed calls in a row. */
  failures: number;
  /** While open: when it is tried again. */
  retryAt: number | null;
  inFlight: number;
  /** Calls in the last hour (this process), their success rate (0–1) and 95th percentile latency. */
  calls: number;
  successRate: number | null;
  p95Ms: number | null;
  lastError: string | null;
  lastErrorAt: number | null;
  lastSuccessAt: number | null;
}

const HOUR = 3_600_000;
const SAMPLES = 1000;
/** A last success older than this in `supplier_health` is written again. */
const SUCCESS_STALE_MS = 60_000;

interface Entry {
  state: BreakerState;
  failures: number;
  openedAt: number;
  probing: boolean;
  inFlight: number;
  /** Ring of [finished at, ms, ok]. */
  samples: Array<[number, number, boolean]>;
  next: number;
  lastError: string | null;
  lastErrorAt: number | null;
  lastSuccessAt: number | null;
  /** What `supplier_health` holds, to write only what changed. */
  saved: { state: BreakerState; lastError: string | null; lastSuccessAt: number | null } | null;
}

export interface SupplierHealth {
  /** While the supplier's breaker lets no call through: when to look again; null when it does. */
  openUntil(supplier: string): number | null;
  /** Makes one call (placeOrder, queryOrder) through the breaker and the limit, timing it; throws SupplierUnavailable without calling. */
  call<T extends SupplierQueryResult>(supplier: string, fn: () => Promise<T>): Promise<T>;
  /** Every supplier this process knows or `supplier_health` holds, sorted by id. */
  view(known: Iterable<string>): Promise<SupplierHealthView[]>;
}

export function supplierHealth(deps: Deps): SupplierHealth {
  const o = deps.config.delivery;
  const entries = new Map<string, Entry>();
  const entry = (id: string): Entry => {
    let e = entries.get(id);
    if (!e) {
      e = { state: 'closed', failures: 0, openedAt: 0, probing: false, inFlight: 0, samples: [], next: 0, lastError: null, lastErrorAt: null, lastSuccessAt: null, saved: null };
      entries.set(id, e);
    }
    return e;
  };
  // Calls deferred for a busy supplier spread over the next poll or two instead of coming back together.
  const soon = () => deps.now() + Math.round(o.pollMs * (1 + Math.random()));

  /** Writes the supplier's row if the console would read something new; a failure here never fails the call. */
  async function save(id: string, e: Entry): Promise<void> {
    const s = e.saved;
    const stale = e.lastSuccessAt !== null && (s?.lastSuccessAt ?? 0) + SUCCESS_STALE_MS <= e.lastSuccessAt;
    if (s && s.state === e.state && s.lastError === e.lastError && !stale) return;
    const next = { state: e.state, lastError: e.lastError, lastSuccessAt: e.lastSuccessAt };
    e.saved = next;
    const row = { state: e.state, last_error: e.lastError, last_error_at: e.lastErrorAt, last_success_at: e.lastSuccessAt, updated_at: deps.now() };
    await deps.db
      .knex('supplier_health')
      .insert({ supplier: id, ...row })
      .onConflict('supplier')
      .merge()
      .catch((err: unknown) => {
        e.saved = s; // written next time
        deps.log.warn(`supplier ${id}: could not record its health`, err);
      });
  }

  /** While the breaker lets no call through: when to look again. */
  function openUntil(id: string): number | null {
    const e = entries.get(id);
    if (!e) return null;
    const cooled = e.openedAt + o.breakerCoolDownMs;
    if (e.state === 'open' && deps.now() < cooled) return cooled;
    return e.state === 'half-open' && e.probing ? soon() : null;
  }

  return {
    openUntil,
    async call(id, fn) {
      const e = entry(id);
      const until = openUntil(id);
      if (until !== null) throw new SupplierUnavailable(id, 'open', until);
      if (e.inFlight >= o.supplierConcurrency) throw new SupplierUnavailable(id, 'busy', soon());
      if (e.state === 'open') e.state = 'half-open';
      const probe = e.state === 'half-open';
      e.probing ||= probe;
      e.inFlight++;
      const started = performance.now();
      let problem: string | undefined;
      try {
        const result = await fn();
        if (result.status === 'failed' && result.retryable) problem = result.reason;
        return result;
      } catch (err) {
        problem = err instanceof Error ? err.message : String(err);
        throw err;
      } finally {
        e.inFlight--;
        if (probe) e.probing = false;
        const now = deps.now();
        e.samples[e.next] = [now, performance.now() - started, problem === undefined];
        e.next = (e.next + 1) % SAMPLES;
        if (problem === undefined) {
          e.failures = 0;
          e.state = 'closed';
          e.lastSuccessAt = now;
        } else {
          e.failures++;
          e.lastError = problem.slice(0, 255);
          e.lastErrorAt = now;
          // A failed probe reopens it: the count only restarts on a success.
          if (e.failures >= o.breakerFailures) {
            if ((e.state as BreakerState) !== 'open') deps.log.warn(`supplier ${id}: ${e.failures} failed calls in a row; not calling it for ${o.breakerCoolDownMs} ms`);
            e.state = 'open';
            e.openedAt = now;
          }
        }
        await save(id, e);
      }
    },
    async view(known) {
      const rows: Array<Record<string, unknown>> = await deps.db.read('supplier_health').select();
      const saved = new Map(rows.map((r) => [String(r.supplier), r]));
      const ids = [...new Set([...known, ...entries.keys(), ...saved.keys()])].sort();
      const since = deps.now() - HOUR;
      const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
      return ids.map((id): SupplierHealthView => {
        const e = entries.get(id);
        const row = saved.get(id);
        const recent = (e?.samples ?? []).filter(([at]) => at >= since);
        const ms = recent.map(([, m]) => m).sort((a, b) => a - b);
        // This process's own breaker when it has called the supplier; else the last state written.
        const state = e ? (e.state === 'open' && openUntil(id) === null ? 'half-open' : e.state) : ((row?.state as BreakerState | undefined) ?? 'closed');
        return {
          supplier: id,
          state,
          failures: e?.failures ?? 0,
          retryAt: e?.state === 'open' ? e.openedAt + o.breakerCoolDownMs : null,
          inFlight: e?.inFlight ?? 0,
          calls: recent.length,
          successRate: recent.length ? recent.filter(([, , ok]) => ok).length / recent.length : null,
          p95Ms: ms.length ? Math.round(ms[Math.min(ms.length - 1, Math.ceil(ms.length * 0.95) - 1)]!) : null,
          lastError: e?.lastError ?? ((row?.last_error as string | null) || null),
          lastErrorAt: e?.lastErrorAt ?? num(row?.last_error_at),
          lastSuccessAt: e?.lastSuccessAt ?? num(row?.last_success_at),
        };
      });
    },
  };
}
