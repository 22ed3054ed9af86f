import type { Deps } from '../context.js';
import { crashPoint } from '../crash.js';
import { backoff, claimJobs, settleJob, type Job, type JobKind, type JobOutcome } from './jobs.js';

/** What runs one kind of job. A run may happen more than once (a lease that ran out): it must be idempotent. */
export interface JobHandler {
  /** Returns nothing when done, `{ again: at }` to run again then (a poll); throws to retry with backoff. */
  run(job: Job, signal: AbortSignal): Promise<{ again: number } | void>;
  /** Called once when the job has failed for good and goes to the dead letter. */
  dead?(job: Job, error: string): Promise<void>;
}

export interface WorkerOptions {
  /** Jobs one process runs at once. */
  concurrency: number;
  /** How often an idle worker looks for due jobs (other processes' jobs, retries coming due). */
  pollMs: number;
  /** A run that takes longer is aborted and counts as a failed attempt. */
  timeoutMs: number;
  /** Attempts before a job goes to the dead letter. */
  maxAttempts: number;
  backoffMs: number;
  backoffMaxMs: number;
}

/** A failure no retry can fix: the job goes to the dead letter at once. */
export class PermanentJobError extends Error {
  override name = 'PermanentJobError';
}

export interface Worker {
  /** Starts looking for jobs in the background (every app process, and `cardshop worker`). */
  start(): void;
  /** Looks for jobs now: this process just wrote one. */
  nudge(): void;
  /** Stops claiming and waits for the runs in progress (a job not finished in time is claimed again when its lease ends). */
  stop(): Promise<void>;
  /**
   * Runs every job due at `at` (default now), then whatever that made due, until nothing is due,
   * and waits for the runs in progress: for tests and one-off runs.
   */
  runDue(at?: number): Promise<number>;
}

const timedOut = (signal: AbortSignal, ms: number) =>
  new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(new Error(`timed out after ${ms} ms`)), { once: true }));

export function createWorker(deps: Deps, handlers: Partial<Record<JobKind, JobHandler>>, opts: WorkerOptions): Worker {
  // A lease outlasts the run's timeout, so a live worker's job is never claimed twice.
  const leaseMs = opts.timeoutMs * 2 + 5_000;
  /** Runs in progress in this process: a slot that frees wakes the background loop to claim more. */
  const runs = new Set<Promise<void>>();
  /** The background loop's claim in progress, so `runDue` can wait for the runs it is about to start. */
  let claiming: Promise<unknown> = Promise.resolve();
  let started = false;
  let stopped = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;

  async function run(job: Job): Promise<void> {
    const handler: JobHandler = handlers[job.kind] ?? {
      run: () => Promise.reject(new PermanentJobError(`no handler for ${job.kind} jobs`)),
    };
    const abort = new AbortController();
    const clock = setTimeout(() => abort.abort(), opts.timeoutMs);
    let outcome: JobOutcome;
    try {
      const result = await Promise.race([handler.run(job, abort.signal), timedOut(abort.signal, opts.timeoutMs)]);
      outcome = result ?? { done: true };
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      const final = err instanceof PermanentJobError || job.attempts >= opts.maxAttempts;
      outcome = { error, retryAt: final ? null : deps.now() + backoff(job.attempts, opts.backoffMs, opts.backoffMaxMs) };
      deps.log.warn(`${job.kind} job ${job.ref} failed (attempt ${job.attempts}${final ? ', giving up' : ''}): ${error}`);
      if (final) {
        await handler.dead?.(job, error).catch((e: unknown) => deps.log.error(`${job.kind} job ${job.ref}: recording its failure failed`, e));
      }
    } finally {
      clearTimeout(clock);
    }
    // If this fails (the database is away), the lease runs out and the job runs again: runs are idempotent.
    await settleJob(deps, job, outcome).catch((err: unknown) => deps.log.error(`${job.kind} job ${job.ref}: could not record its outcome`, err));
  }

  async function claimAndRun(limit: number, opts: { at?: number; exclude?: Set<number> } = {}): Promise<number> {
    const jobs = await claimJobs(deps, { limit, leaseMs, at: opts.at, exclude: opts.exclude && [...opts.exclude] });
    if (jobs.length) crashPoint('delivery.claimed');
    for (const job of jobs) {
      opts.exclude?.add(job.id);
      const p = run(job);
      runs.add(p);
      void p.finally(() => {
        runs.delete(p);
        wake?.();
      });
    }
    return jobs.length;
  }

  async function background(): Promise<void> {
    while (!stopped) {
      const free = opts.concurrency - runs.size;
      let claimed = 0;
      if (free > 0) {
        claiming = claimAndRun(free).catch((err: unknown) => {
          deps.log.warn('claiming delivery jobs failed; will retry', err);
          return 0;
        });
        claimed = (await claiming) as number;
      }
      // A full claim means more may be waiting: claim again as soon as a run ends.
      if (stopped) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, claimed > 0 && claimed === free ? 0 : opts.pollMs);
      });
      clearTimeout(timer);
      wake = undefined;
    }
  }

  return {
    start() {
      if (started || stopped || opts.concurrency < 1) return;
      started = true;
      loop = background();
    },
    nudge() {
      wake?.();
    },
    async stop() {
      stopped = true;
      wake?.();
      await loop;
      while (runs.size) await Promise.allSettled([...runs]);
    },
    async runDue(at) {
      // Jobs due by `at` but not yet run once in this call, so a poll that reschedules itself
      // before `at` ends instead of running again and again.
      const early = new Set<number>();
      const width = Math.max(1, opts.concurrency);
      let total = 0;
      for (;;) {
        const free = width - runs.size;
        let claimed = 0;
        if (free > 0) {
          claimed = await claimAndRun(free);
          if (!claimed && at !== undefined) claimed = await claimAndRun(free, { at, exclude: early });
        }
        total += claimed;
        if (!claimed) {
          await claiming;
          if (!runs.size) return total;
          await Promise.race([...runs]);
        }
      }
    },
  };
}
