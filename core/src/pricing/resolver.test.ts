import { describe, expect, it } from 'vitest';
import { levelPrice, markupFor, percentOf, resolveOrder, resolvePrice, type ChainLink, type Markup, type PriceRule, type PricingTables, type SkuPricing } from './resolver.js';

// Levels: 1 member (retail), 2 silver (95 % of retail), 3 gold (cost + 10 %), 4 vip (cost + ¥1).
const tables = (overrides: Record<string, PriceRule> = {}): PricingTables => ({
  rules: new Map<number, PriceRule>([
    [1, { kind: 'retail_percent', value: 10_000 }],
    [2, { kind: 'retail_percent', value: 9_500 }],
    [3, { kind: 'cost_plus_percent', value: 1_000 }],
    [4, { kind: 'cost_plus_fixed', value: 100 }],
  ]),
  overrides: new Map(Object.entries(overrides)),
});

const sku = (patch: Partial<SkuPricing> = {}): SkuPricing => ({ id: 7, categoryId: 3, retail: 10_000, cost: 8_000, floor: null, ceiling: null, tiers: [], flash: null, ...patch });

const link = (userId: number | null, levelId: number, markups: Record<string, Markup> = {}): ChainLink => ({
  userId,
  levelId,
  markups: new Map(Object.entries(markups)),
});

describe('percentOf', () => {
  it.each([
    [10_000, 9_500, 9_500],
    [999, 3_333, 333], // 332.97 → 333
    [1, 5_000, 1], // half up
    [3, 5_000, 2], // 1.5 → 2
    [1e12, 100_000, 1e13], // no float overflow
  ])('%d × %d bp = %d', (amount, bp, expected) => expect(percentOf(amount, bp)).toBe(expected));
});

describe('levelPrice', () => {
  it.each<[string, Partial<SkuPricing>, Record<string, PriceRule>, number, number]>([
    ['member pays retail', {}, {}, 1, 10_000],
    ['silver: 95 % of retail', {}, {}, 2, 9_500],
    ['gold: cost + 10 %', {}, {}, 3, 8_800],
    ['vip: cost + ¥1', {}, {}, 4, 8_100],
    ['cost-plus without a cost sells at retail', { cost: null }, {}, 3, 10_000],
    ['a SKU override wins over the level', {}, { '3:sku:7': { kind: 'fixed', value: 8_500 } }, 3, 8_500],
    ['a category override wins over the level', {}, { '2:category:3': { kind: 'retail_percent', value: 9_000 } }, 2, 9_000],
    ['the SKU override wins over the category', {}, { '2:category:3': { kind: 'fixed', value: 1 }, '2:sku:7': { kind: 'fixed', value: 9_100 } }, 2, 9_100],
    ["another level's override does not apply", {}, { '3:sku:7': { kind: 'fixed', value: 1 } }, 2, 9_500],
    ['the floor holds', { floor: 9_000 }, {}, 3, 9_000],
    ['the floor holds against overrides', { floor: 9_000 }, { '4:sku:7': { kind: 'fixed', value: 5_000 } }, 4, 9_000],
    ['the ceiling holds', { ceiling: 9_900 }, {}, 1, 9_900],
    ['an unknown level pays retail', {}, {}, 99, 10_000],
  ])('%s', (_, patch, overrides, level, expected) => {
    expect(levelPrice(tables(overrides), sku(patch), level)).toBe(expected);
  });
});

describe('markupFor', () => {
  const m = (value: number): Markup => ({ kind: 'fixed', value });
  const table = new Map(
    Object.entries({ 'all:0:*': m(1), 'all:0:2': m(2), 'category:3:*': m(3), 'category:3:2': m(4), 'sku:7:*': m(5), 'sku:7:2': m(6) }),
  );
  it.each([
    ['SKU and level', table, 2, 6],
    ['SKU, any level', table, 1, 5],
    ['category and level', new Map([...table].filter(([k]) => !k.startsWith('sku'))), 2, 4],
    ['category, any level', new Map([...table].filter(([k]) => !k.startsWith('sku'))), 1, 3],
    ['everything, level', new Map([...table].filter(([k]) => k.startsWith('all'))), 2, 2],
    ['everything, any level', new Map([...table].filter(([k]) => k.startsWith('all'))), 1, 1],
  ] as const)('most specific first: %s', (_, t, level, expected) => {
    expect(markupFor(t, sku(), level)?.value).toBe(expected);
  });
  it('none set: none applies', () => expect(markupFor(new Map(), sku(), 1)).toBeUndefined());
  it("another SKU's or category's markup does not apply", () => {
    expect(markupFor(new Map([['sku:8:*', m(1)], ['category:4:*', m(1)]]), sku(), 1)).toBeUndefined();
  });
});

describe('resolvePrice', () => {
  it('a user without upline pays its level price and the shop keeps it all', () => {
    expect(resolvePrice(tables(), sku(), [link(1, 2)])).toEqual({ price: 9_500, base: 9_500, margins: [] });
  });

  it('three levels: the buyer pays 100.00 and each upline gets exactly its difference', () => {
    // top (gold, 88.00) → agent (silver) marks up ¥5 → buyer pays agent + ¥7.00
    const chain = [link(30, 1), link(20, 2, { 'all:0:*': { kind: 'fixed', value: 700 } }), link(10, 3, { 'all:0:2': { kind: 'fixed', value: 500 } })];
    const r = resolvePrice(tables(), sku(), chain);
    expect(r).toEqual({
      price: 10_000,
      base: 8_800,
      margins: [
        { agentId: 20, viaUserId: 30, amount: 700 },
        { agentId: 10, viaUserId: 20, amount: 500 },
      ],
    });
    expect(r.base + r.margins.reduce((s, m) => s + m.amount, 0)).toBe(r.price);
  });

  it.each<[string, Record<string, Markup>, number, Partial<SkuPricing>, number]>([
    ['no markup: the member pays its own level price', {}, 1, {}, 10_000],
    ['no markup, member of a better level than its agent: the agent price (never at a loss)', {}, 4, {}, 8_800],
    ['a fixed markup', { 'all:0:*': { kind: 'fixed', value: 300 } }, 1, {}, 9_100],
    ['a percent markup of the agent price', { 'all:0:*': { kind: 'percent', value: 500 } }, 1, {}, 9_240],
    ['a markup above the ceiling stops at the ceiling', { 'all:0:*': { kind: 'fixed', value: 5_000 } }, 1, { ceiling: 9_990 }, 9_990],
    ['a markup may be above the member level price (the agent decides)', { 'all:0:*': { kind: 'fixed', value: 3_000 } }, 1, {}, 11_800],
    ['a level-specific markup applies to that level only', { 'all:0:2': { kind: 'fixed', value: 1 } }, 1, {}, 10_000],
    ['a ceiling below the agent price: the agent price', {}, 1, { ceiling: 8_000, floor: null }, 8_000],
  ])('%s', (_, markups, memberLevel, patch, expected) => {
    const r = resolvePrice(tables(), sku(patch), [link(2, memberLevel), link(1, 3, markups)]);
    expect(r.price).toBe(expected);
    expect(r.margins[0]!.amount).toBe(r.price - r.base);
    expect(r.margins[0]!.amount).toBeGreaterThanOrEqual(0);
  });

  it('a guest on a sub-shop buys below its owner and the owner earns the difference', () => {
    const r = resolvePrice(tables(), sku(), [link(null, 1), link(5, 3, { 'all:0:*': { kind: 'percent', value: 1_000 } })]);
    expect(r).toEqual({ price: 9_680, base: 8_800, margins: [{ agentId: 5, viaUserId: null, amount: 880 }] });
  });

  it('ten levels: every margin is non-negative and they add up to the price', () => {
    const chain = Array.from({ length: 10 }, (_, i) => link(100 - i, 1 + (i % 4), { 'all:0:*': { kind: 'percent', value: 150 + i } }));
    const r = resolvePrice(tables(), sku({ ceiling: 20_000 }), chain);
    expect(r.margins).toHaveLength(9);
    expect(r.margins.every((m) => m.amount >= 0)).toBe(true);
    expect(r.base + r.margins.reduce((s, m) => s + m.amount, 0)).toBe(r.price);
    expect(r.price).toBeLessThanOrEqual(20_000);
  });
});

describe('resolveOrder: wholesale tiers and flash sales', () => {
  const tiers = [
    { minQuantity: 10, percentOff: 500 },
    { minQuantity: 50, percentOff: 1_000 },
  ];
  // Gold top (¥88) ← silver agent (+¥5: ¥93) ← member buyer (+¥7: ¥100).
  const chain = [link(30, 1), link(20, 2, { 'all:0:*': { kind: 'fixed', value: 700 } }), link(10, 3, { 'all:0:2': { kind: 'fixed', value: 500 } })];
  const flash = { price: 9_000, startsAt: 1_000, endsAt: 2_000, cap: 50, sold: 0, perBuyer: null };
  const sum = (r: ReturnType<typeof resolveOrder>) => r.base + r.margins.reduce((s, m) => s + m.amount, 0);

  it.each<[string, number, Partial<SkuPricing>, number, number, number[]]>([
    ['below the first bracket: the chain price', 9, { tiers }, 0, 10_000, [700, 500]],
    ['the first bracket takes 5 % off every link', 10, { tiers }, 0, 9_500, [665, 475]],
    ['the deepest bracket reached wins', 80, { tiers }, 0, 9_000, [630, 450]],
    ['never below the floor: the margins shrink, never negative', 50, { tiers, floor: 8_500 }, 0, 9_000, [500, 0]],
    ['a flash sale on caps every link at its price', 1, { flash }, 1_500, 9_000, [0, 200]],
    ['a flash sale not started yet does not apply', 1, { flash }, 999, 10_000, [700, 500]],
    ['a flash sale over does not apply', 1, { flash }, 2_000, 10_000, [700, 500]],
    ['a flash sale without the units left does not apply', 5, { flash: { ...flash, sold: 46 } }, 1_500, 10_000, [700, 500]],
    ['beyond the per-buyer cap the sale price does not apply', 3, { flash: { ...flash, perBuyer: 2 } }, 1_500, 10_000, [700, 500]],
    ['a tier below the flash price wins', 50, { tiers, flash: { ...flash, price: 9_200 } }, 1_500, 9_000, [630, 450]],
  ])('%s', (_, quantity, patch, now, price, margins) => {
    const r = resolveOrder(tables(), sku(patch), chain, quantity, now);
    expect(r.price).toBe(price);
    expect(r.margins.map((m) => m.amount)).toEqual(margins);
    expect(sum(r)).toBe(r.price);
  });

  it('reports the bracket and whether the sale applied', () => {
    expect(resolveOrder(tables(), sku({ tiers, flash: { ...flash, price: 9_600 } }), chain, 10, 1_500)).toMatchObject({ tier: tiers[0], flash: false, price: 9_500 });
    expect(resolveOrder(tables(), sku({ tiers, flash: { ...flash, price: 8_000 } }), chain, 10, 1_500)).toMatchObject({ tier: tiers[0], flash: true, price: 8_000 });
  });
});
