// The price resolver on its own: what a buyer ten levels down a chain of agents pays, and how
// the margin splits, for SKUs with every kind of rule. Pure CPU, no database: the shop loads the
// tables and the chain once per request (see core/src/pricing/pricing.ts).
import { performance } from 'node:perf_hooks';
import { resolvePrice } from '../core/dist/index.js';
import { num, table } from './lib.mjs';

const DEPTH = num('BENCH_DEPTH', 10);
const SKUS = num('BENCH_SKUS', 1000);
const ROUNDS = num('BENCH_ROUNDS', 200);

const levels = [
  [1, { kind: 'retail_percent', value: 10_000 }],
  [2, { kind: 'retail_percent', value: 9_500 }],
  [3, { kind: 'cost_plus_percent', value: 800 }],
  [4, { kind: 'cost_plus_fixed', value: 150 }],
];
const skus = Array.from({ length: SKUS }, (_, i) => ({
  id: i + 1,
  categoryId: (i % 20) + 1,
  retail: 1_000 + i * 37,
  cost: 800 + i * 30,
  floor: i % 7 === 0 ? 900 : null,
  ceiling: i % 5 === 0 ? 3_000 + i * 40 : null,
}));
const overrides = new Map();
for (const s of skus.filter((s) => s.id % 10 === 0)) overrides.set(`3:sku:${s.id}`, { kind: 'fixed', value: s.cost + 50 });
for (let c = 1; c <= 20; c += 4) overrides.set(`2:category:${c}`, { kind: 'retail_percent', value: 9_200 });
const tables = { rules: new Map(levels), overrides };

// Buyer first, then its uplines; each agent marks up by SKU, category and everything, per level.
const chain = Array.from({ length: DEPTH }, (_, i) => {
  const markups = new Map([
    ['all:0:*', { kind: 'percent', value: 200 + i }],
    [`category:${(i % 20) + 1}:*`, { kind: 'fixed', value: 30 + i }],
    [`sku:${(i * 13) % SKUS + 1}:2`, { kind: 'fixed', value: 55 }],
  ]);
  return { userId: 1000 - i, levelId: (i % 4) + 1, markups };
});

let checksum = 0;
for (const s of skus) checksum += resolvePrice(tables, s, chain).price; // warm up
const started = performance.now();
for (let r = 0; r < ROUNDS; r++) for (const s of skus) checksum += resolvePrice(tables, s, chain).price;
const ms = performance.now() - started;
const n = ROUNDS * SKUS;

table([
  ['measure', 'value'],
  ['chain depth', String(DEPTH)],
  ['resolutions', n],
  ['per resolution', `${((ms * 1000) / n).toFixed(2)} µs`],
  ['resolutions/s', Math.round(n / (ms / 1000))],
  [`a ${SKUS}-SKU listing`, `${(ms / ROUNDS).toFixed(2)} ms`],
]);
if (!Number.isFinite(checksum)) process.exit(1);
