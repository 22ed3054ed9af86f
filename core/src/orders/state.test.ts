import { describe, expect, it } from 'vitest';
import { canTransition, ORDER_STATUSES, TRANSITIONS } from './state.js';

describe('order state machine', () => {
  it('follows pending_payment → paid → delivering → delivered → refunded', () => {
    expect(canTransition('pending_payment', 'paid')).toBe(true);
    expect(canTransition('paid', 'delivering')).toBe(true);
    expect(canTransition('delivering', 'delivered')).toBe(true);
    expect(canTransition('delivered', 'refunded')).toBe(true);
  });

  it('never leaves a final state and never skips payment', () => {
    for (const s of ['refunded', 'cancelled'] as const) expect(TRANSITIONS[s]).toEqual([]);
    expect(TRANSITIONS.expired).toEqual(['paid']); // an admin's confirmation only (markPaid manual)
    expect(canTransition('pending_payment', 'delivered')).toBe(false);
    expect(canTransition('delivered', 'paid')).toBe(false);
  });

  it('names only known states', () => {
    for (const to of Object.values(TRANSITIONS).flat()) expect(ORDER_STATUSES).toContain(to);
  });
});
