import { describe, expect, it } from 'vitest';
import { roundPrice, templatePrice } from './templates.js';

describe('markup template rounding', () => {
  it('rounds to 0.1 yuan up, down and to the nearest', () => {
    expect(roundPrice(1234, { step: 10, ending: 0, mode: 'up' })).toBe(1240);
    expect(roundPrice(1234, { step: 10, ending: 0, mode: 'down' })).toBe(1230);
    expect(roundPrice(1234, { step: 10, ending: 0, mode: 'nearest' })).toBe(1230);
    expect(roundPrice(1235, { step: 10, ending: 0, mode: 'nearest' })).toBe(1240);
    expect(roundPrice(1240, { step: 10, ending: 0, mode: 'up' })).toBe(1240);
  });

  it('ends in .9 (step 1 yuan, ending 0.90) or .99 (step 0.1 yuan, ending 0.09)', () => {
    expect(roundPrice(1210, { step: 100, ending: 90, mode: 'up' })).toBe(1290);
    expect(roundPrice(1210, { step: 100, ending: 90, mode: 'down' })).toBe(1190);
    expect(roundPrice(1230, { step: 100, ending: 90, mode: 'nearest' })).toBe(1190);
    expect(roundPrice(1250, { step: 100, ending: 90, mode: 'nearest' })).toBe(1290);
    expect(roundPrice(1290, { step: 100, ending: 90, mode: 'up' })).toBe(1290);
    expect(roundPrice(1201, { step: 10, ending: 9, mode: 'up' })).toBe(1209);
    expect(roundPrice(50, { step: 100, ending: 90, mode: 'down' })).toBe(90); // never below the first step
  });

  it('prices from cost by percent or amount, never below the cost', () => {
    expect(templatePrice(1000, { kind: 'percent', value: 1500 }, { step: 1, ending: 0, mode: 'up' })).toBe(1150);
    expect(templatePrice(1000, { kind: 'fixed', value: 234 }, { step: 100, ending: 90, mode: 'up' })).toBe(1290);
    // Rounding down would sell at 9.90 below a cost of 10.00: it goes up instead.
    expect(templatePrice(1000, { kind: 'percent', value: 50 }, { step: 100, ending: 90, mode: 'down' })).toBe(1090);
    expect(templatePrice(333, { kind: 'percent', value: 3333 }, { step: 1, ending: 0, mode: 'nearest' })).toBe(444);
  });
});
