import { describe, expect, it } from 'vitest';
import { GroupCommit } from './group-commit.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('GroupCommit', () => {
  it('batches what arrives while a commit runs', async () => {
    const sizes: number[] = [];
    const gc = new GroupCommit<number, number>(
      async (items) => {
        sizes.push(items.length);
        await tick();
        return items.map((x) => x * 2);
      },
      { maxBatch: 100, concurrency: 1, waitMs: 0 },
    );
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => gc.submit(i)));
    expect(results).toEqual(Array.from({ length: 50 }, (_, i) => i * 2));
    expect(sizes[0]).toBe(1); // the first finds an idle queue and goes at once
    expect(sizes.slice(1).reduce((a, b) => a + b, 0)).toBe(49);
    expect(sizes.length).toBeLessThan(5);
  });

  it('respects maxBatch', async () => {
    const sizes: number[] = [];
    const gc = new GroupCommit<number, number>(
      async (items) => (sizes.push(items.length), await tick(), items),
      { maxBatch: 7, concurrency: 1, waitMs: 1 },
    );
    await Promise.all(Array.from({ length: 30 }, (_, i) => gc.submit(i)));
    expect(Math.max(...sizes)).toBeLessThanOrEqual(7);
  });

  it('drains what was submitted', async () => {
    let committed = 0;
    const gc = new GroupCommit<number, number>(
      async (items) => (await tick(), (committed += items.length), items),
      { maxBatch: 4, concurrency: 1, waitMs: 2 },
    );
    for (let i = 0; i < 10; i++) void gc.submit(i);
    await gc.drain();
    expect(committed).toBe(10);
  });

  it('fails one item alone, by outcome or by a throwing batch', async () => {
    const gc = new GroupCommit<number, number>(
      async (items) => {
        if (items.includes(13) && items.length > 1) throw new Error('batch broke');
        if (items.includes(13)) throw new Error('thirteen');
        return items.map((x) => (x === 7 ? new Error('seven') : x));
      },
      { maxBatch: 100, concurrency: 1, waitMs: 2 },
    );
    const settled = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => gc.submit(i)));
    const failed = settled.flatMap((s, i) => (s.status === 'rejected' ? [[i, (s.reason as Error).message]] : []));
    expect(failed).toEqual([
      [7, 'seven'],
      [13, 'thirteen'],
    ]);
  });

  it('fails the whole batch at once on an error no item carries', async () => {
    const sizes: number[] = [];
    const gc = new GroupCommit<number, number>(
      async (items) => {
        sizes.push(items.length);
        await tick();
        throw new Error('database away');
      },
      { maxBatch: 100, concurrency: 1, waitMs: 2, failsAll: (err) => (err as Error).message === 'database away' },
    );
    const settled = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => gc.submit(i)));
    expect(settled.every((s) => s.status === 'rejected' && (s.reason as Error).message === 'database away')).toBe(true);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(20); // each item tried once, never alone again
  });
});
