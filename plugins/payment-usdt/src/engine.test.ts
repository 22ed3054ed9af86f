import { describe, expect, it } from 'vitest';
import { judge } from './engine.js';
import { settingsSchema } from './settings.js';
import type { PaymentRow } from './store.js';
import { tronAddress } from './testing/fake-trongrid.js';

const A = tronAddress('a');
const settings = (o: Record<string, unknown> = {}) => settingsSchema.parse({ addresses: [A], rate: '7.2', ...o });
const T0 = 1_800_000_000_000;
const pay = (id: number, amount: bigint, o: Partial<PaymentRow> = {}): PaymentRow => ({
  id, orderNo: `N${id}`, gateway: 'usdt', address: A, amount, fen: 1000, rate: 7_200_000n,
  createdAt: T0, expiresAt: T0 + 20 * 60_000, holdUntil: T0 + 80 * 60_000, status: 'open', txId: null, ...o,
});
const transfer = (amount: bigint, at = T0 + 60_000) => ({ txId: 'f'.repeat(64), from: 'TX', to: A, amount, timestamp: at });

describe('which order a transfer pays', () => {
  it('the exact amount in time pays its order; late follows the late rule', () => {
    const list = [pay(1, 1_388_900n), pay(2, 1_389_000n)];
    expect(judge(transfer(1_389_000n), list, settings(), 4)).toMatchObject({ orderNo: 'N2', outcome: 'paid', action: 'paid' });
    const late = transfer(1_389_000n, T0 + 30 * 60_000);
    expect(judge(late, list, settings(), 4)).toMatchObject({ orderNo: 'N2', outcome: 'late', action: 'review' });
    expect(judge(late, list, settings({ late: 'wallet' }), 4)).toMatchObject({ outcome: 'late', action: 'kept' });
    expect(judge(late, list, settings({ late: 'accept' }), 4)).toMatchObject({ outcome: 'late', action: 'paid' });
  });

  it('another amount goes to an order only when that order alone is within the tolerance', () => {
    const one = [pay(1, 10_000_000n)];
    expect(judge(transfer(9_600_000n), one, settings({ mismatch: 'accept' }), 4)).toMatchObject({ orderNo: 'N1', outcome: 'short', action: 'paid' });
    expect(judge(transfer(10_400_000n), one, settings({ mismatch: 'wallet' }), 4)).toMatchObject({ orderNo: 'N1', outcome: 'over', action: 'kept' });
    expect(judge(transfer(9_000_000n), one, settings({ mismatch: 'accept' }), 4)).toMatchObject({ orderNo: null, outcome: 'unmatched', action: 'review' });
    // two orders within 5 %: nobody can say whose it is
    const two = [pay(1, 10_000_000n), pay(2, 10_000_100n)];
    expect(judge(transfer(9_800_000n), two, settings({ mismatch: 'accept' }), 4)).toMatchObject({ orderNo: null, outcome: 'unmatched', action: 'review' });
    // late and short with rules that disagree: an admin decides
    expect(judge(transfer(9_800_000n, T0 + 30 * 60_000), one, settings({ mismatch: 'accept', late: 'wallet' }), 4)).toMatchObject({ orderNo: 'N1', action: 'review' });
  });

  it('a second transfer of a paid amount is extra, never a second payment', () => {
    const paid = [pay(1, 1_388_900n, { status: 'paid', txId: 'a'.repeat(64) })];
    expect(judge(transfer(1_388_900n), paid, settings(), 4)).toMatchObject({ payment: null, orderNo: 'N1', outcome: 'extra', action: 'review' });
    expect(judge(transfer(1_388_900n), paid, settings({ mismatch: 'wallet' }), 4)).toMatchObject({ payment: null, outcome: 'extra', action: 'kept' });
  });
});

describe('settings', () => {
  it('refuse a mistyped address, a missing rate and a bad step, naming the field', () => {
    const bad = settingsSchema.safeParse({ addresses: [A.slice(0, -1) + (A.endsWith('a') ? 'b' : 'a')], step: '0.0000001' });
    expect(bad.success).toBe(false);
    const paths = bad.error!.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['addresses.0', 'step']));
    expect(settingsSchema.safeParse({ addresses: [A] }).error?.issues.map((i) => i.path.join('.'))).toEqual(['rate']);
    expect(settings().step).toBe('0.0001');
  });
});
