import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transaction } from '../db/dialect.js';
import { startTestShop, TEST_DIALECTS, type TestShop } from '../testing/index.js';
import { backoff, claimJobs, enqueueJobs, settleJob } from './jobs.js';

describe('backoff', () => {
  it('doubles per attempt up to the cap, with up to half of each step random', () => {
    expect(backoff(1, 1000, 60_000, () => 0)).toBe(500);
    expect(backoff(1, 1000, 60_000, () => 1)).toBe(1000);
    expect(backoff(4, 1000, 60_000, () => 1)).toBe(8000);
    expect(backoff(30, 1000, 60_000, () => 1)).toBe(60_000);
    expect(backoff(30, 1000, 60_000, () => 0)).toBe(30_000);
  });
});

describe.each(TEST_DIALECTS)('the job table (%s)', (dialect) => {
  let t: TestShop;
  beforeAll(async () => {
    // Not listening: no worker of its own claims the jobs these tests write.
    t = await startTestShop({ dialect, listen: false });
  });
  afterAll(() => t?.close());

  const write = (refs: string[]) => transaction(t.shop.db, (trx) => enqueueJobs(t.shop, trx, refs.map((ref) => ({ kind: 'webhook', ref, payload: { ref } }))));
  const rowOf = (ref: string) => t.shop.db.knex('delivery_jobs').where({ kind: 'webhook', ref }).first();

  it('keeps one job per kind and ref however often it is written', async () => {
    await write(['once']);
    await write(['once', 'once']);
    expect(Number((await t.shop.db.knex('delivery_jobs').where('ref', 'once').count({ n: '*' }).first())?.n)).toBe(1);
    const [job] = await claimJobs(t.shop, { limit: 10, leaseMs: 60_000 });
    expect(job).toMatchObject({ ref: 'once', payload: { ref: 'once' }, attempts: 1 });
    expect(await settleJob(t.shop, job!, { done: true })).toBe(true);
  });

  it('gives each due job to one claim only, even when claims race', async () => {
    const refs = Array.from({ length: 40 }, (_, i) => `race-${i}`);
    await write(refs);
    const jobs = (await Promise.all(Array.from({ length: 8 }, () => claimJobs(t.shop, { limit: 10, leaseMs: 60_000 })))).flat();
    // A claim may come back short while others hold rows (they are skipped, not waited for): the
    // rest stays queued for the next one.
    for (let more = jobs.length; more; ) {
      const next = await claimJobs(t.shop, { limit: 10, leaseMs: 60_000 });
      jobs.push(...next);
      more = next.length;
    }
    expect(jobs.map((j) => j.ref).sort()).toEqual([...refs].sort());
    for (const job of jobs) await settleJob(t.shop, job, { done: true });
  });

  it('claims a job again when the worker holding it died, and refuses the dead claim its outcome', async () => {
    await write(['orphan']);
    const [first] = await claimJobs(t.shop, { limit: 1, leaseMs: 1_000 });
    expect(first!.ref).toBe('orphan');
    // Within the lease nobody else gets it.
    expect(await claimJobs(t.shop, { limit: 10, leaseMs: 1_000 })).toEqual([]);
    // The worker never comes back: after the lease, another claim takes it, counting a second attempt.
    const [second] = await claimJobs(t.shop, { limit: 10, leaseMs: 1_000, at: Date.now() + 2_000 });
    expect(second).toMatchObject({ ref: 'orphan', attempts: 2 });
    expect(await settleJob(t.shop, first!, { done: true })).toBe(false);
    expect((await rowOf('orphan')).status).toBe('running');
    expect(await settleJob(t.shop, second!, { done: true })).toBe(true);
    expect((await rowOf('orphan')).status).toBe('done');
  });

  it('puts a failed job back with a later time, sends a final failure to the dead letter, and does not count a poll as a failure', async () => {
    await write(['flaky']);
    const [a] = await claimJobs(t.shop, { limit: 1, leaseMs: 60_000 });
    const later = Date.now() + 5_000;
    await settleJob(t.shop, a!, { error: 'supplier down', retryAt: later });
    expect(await rowOf('flaky')).toMatchObject({ status: 'queued', last_error: 'supplier down', attempts: 1 });
    expect(Number((await rowOf('flaky')).run_at)).toBe(later);
    expect(await claimJobs(t.shop, { limit: 1, leaseMs: 60_000 })).toEqual([]);

    const [b] = await claimJobs(t.shop, { limit: 1, leaseMs: 60_000, at: later });
    await settleJob(t.shop, b!, { again: later });
    expect(await rowOf('flaky')).toMatchObject({ status: 'queued', attempts: 1 });

    const [c] = await claimJobs(t.shop, { limit: 1, leaseMs: 60_000, at: later });
    await settleJob(t.shop, c!, { error: 'gave up', retryAt: null });
    expect(await rowOf('flaky')).toMatchObject({ status: 'dead', last_error: 'gave up', attempts: 2 });
    expect(await claimJobs(t.shop, { limit: 1, leaseMs: 60_000, at: later + 1e9 })).toEqual([]);
  });
});
