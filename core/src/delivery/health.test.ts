import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../context.js';
import { startTestShop, type TestShop } from '../testing/index.js';
import { SupplierUnavailable, supplierHealth } from './health.js';
import type { SupplierQueryResult } from './supplier.js';

/** The breaker's states and the in-flight cap, on a clock the test moves (its row on MariaDB: test/supplier-faults.test.ts). */
describe('a supplier circuit breaker', () => {
  let clock = 1_000_000;
  let t: TestShop;
  beforeAll(async () => {
    t = await startTestShop({ listen: false });
  });
  /** Opens after 2 failures, cools down for 1 s of the test's clock. */
  const health = (supplierConcurrency: number) => {
    const delivery = { ...t.shop.config.delivery, breakerFailures: 2, breakerCoolDownMs: 1_000, supplierConcurrency };
    const deps: Deps = { db: t.shop.db, keys: t.shop.keys, config: { ...t.shop.config, delivery }, log: t.shop.log, hooks: t.shop.hooks, now: () => clock };
    return supplierHealth(deps);
  };
  afterAll(() => t?.close());

  const ok = async (): Promise<SupplierQueryResult> => ({ status: 'unknown' });
  const notNow = async (): Promise<SupplierQueryResult> => ({ status: 'failed', retryable: true, reason: 'system busy' });
  const down = async (): Promise<SupplierQueryResult> => {
    throw new Error('HTTP 502');
  };
  const refused = (p: Promise<unknown>) => expect(p).rejects.toBeInstanceOf(SupplierUnavailable);

  it('opens after failures in a row, lets one probe through after the cool-down, reopens on its failure and closes on its success', async () => {
    const h = health(10);
    await h.call('s', ok);
    // A refusal for good is a working supplier; "not now" and a throw are failures.
    await h.call('s', async () => ({ status: 'failed', retryable: false, reason: 'sold out' }));
    await h.call('s', notNow);
    expect(h.openUntil('s')).toBeNull();
    await expect(h.call('s', down)).rejects.toThrow('HTTP 502');
    expect(h.openUntil('s')).toBe(clock + 1_000);
    let called = false;
    await refused(
      h.call('s', async () => {
        called = true;
        return ok();
      }),
    );
    expect(called).toBe(false);
    expect((await t.shop.db.knex('supplier_health').where('supplier', 's').first('state', 'last_error'))).toEqual({ state: 'open', last_error: 'HTTP 502' });

    // Cooled down: one call goes through; others are refused while it runs.
    clock += 1_000;
    let fail!: (e: Error) => void;
    const probe = h.call('s', () => new Promise<SupplierQueryResult>((_, reject) => (fail = reject)));
    await refused(h.call('s', ok));
    expect((await h.view([])).find((v) => v.supplier === 's')?.state).toBe('half-open');
    fail(new Error('reset'));
    await expect(probe).rejects.toThrow('reset');
    expect(h.openUntil('s')).toBe(clock + 1_000);

    clock += 1_000;
    await h.call('s', ok);
    expect(h.openUntil('s')).toBeNull();
    const [view] = (await h.view(['s'])).filter((v) => v.supplier === 's');
    expect(view).toMatchObject({ state: 'closed', failures: 0, calls: 6, successRate: 0.5, lastError: 'reset', lastSuccessAt: clock, retryAt: null });
    expect((await t.shop.db.knex('supplier_health').where('supplier', 's').first('state'))).toEqual({ state: 'closed' });
  });

  it('refuses a call beyond the cap of calls in flight, for that supplier only', async () => {
    const h = health(1);
    let finish!: () => void;
    const first = h.call('busy', () => new Promise<SupplierQueryResult>((resolve) => (finish = () => resolve({ status: 'unknown' }))));
    const second = h.call('busy', ok);
    await expect(second).rejects.toMatchObject({ why: 'busy' });
    await h.call('other', ok);
    expect((await h.view([])).find((v) => v.supplier === 'busy')?.inFlight).toBe(1);
    finish();
    await first;
    await h.call('busy', ok);
  });
});
