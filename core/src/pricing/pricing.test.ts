import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCategory, createProduct, createSku } from '../catalog/catalog.js';
import { invalidateCatalog, listProducts } from '../catalog/snapshot.js';
import { startTestShop, TEST_DIALECTS, type TestShop } from '../testing/index.js';
import { priceList, priceProducts } from './pricing.js';

/** Counts the statements the shop's connections send while `work` runs. */
async function countQueries(t: TestShop, work: () => Promise<unknown>): Promise<number> {
  let n = 0;
  const count = () => n++;
  const { knex, read } = t.shop.db;
  knex.on('query', count);
  if (read !== knex) read.on('query', count);
  try {
    await work();
  } finally {
    knex.removeListener('query', count);
    if (read !== knex) read.removeListener('query', count);
  }
  return n;
}

describe.each(TEST_DIALECTS)('pricing a listing (%s)', (dialect) => {
  let t: TestShop;
  let categories: number[];
  let buyer: number;

  beforeAll(async () => {
    t = await startTestShop({ dialect, listen: false });
    categories = [await createCategory(t.shop, { slug: 'few', name: 'Few' }), await createCategory(t.shop, { slug: 'many', name: 'Many' })];
    for (const [c, n] of [
      [categories[0]!, 5],
      [categories[1]!, 100],
    ] as const) {
      for (let i = 0; i < n; i++) {
        const product = await createProduct(t.shop, { categoryId: c, slug: `p-${c}-${i}`, name: `P ${i}`, type: 'card' });
        await createSku(t.shop, { productId: product, code: `S-${c}-${i}`, name: 'S', price: 1_000 + i });
      }
    }
    // a buyer five levels down a chain of agents, each with a markup
    let upline: number | undefined;
    for (let depth = 0; depth < 6; depth++) {
      const u = await t.createUser({ uplineId: upline, role: depth < 5 ? 'agent' : 'customer' });
      if (depth < 5) await t.shop.db.knex('agent_markups').insert({ agent_id: u.id, scope: 'all', scope_id: 0, level_key: 0, kind: 'fixed', value: 100, updated_at: 0 });
      upline = u.id;
    }
    buyer = upline!;
  });
  afterAll(() => t?.close());

  it('costs the same few queries for 5 products as for 100, and prices every product', async () => {
    const listFor = async (categoryId: number) => priceProducts(await priceList(t.shop, { userId: buyer }), await listProducts(t.shop, { categoryId }));
    // Everything cold: the catalog snapshot (3), live stock (1), the pricing tables (3), the chain (2).
    const cold = async (categoryId: number) => {
      invalidateCatalog(t.shop);
      return countQueries(t, () => listFor(categoryId));
    };
    const [few, many] = [await cold(categories[0]!), await cold(categories[1]!)];
    expect(many).toBe(few);
    expect(many).toBeLessThanOrEqual(9);
    const priced = await listFor(categories[1]!);
    expect(priced).toHaveLength(100);
    // five agents above, each adding 1.00
    expect(priced.every((p) => p.skus[0]!.price === Number(p.skus[0]!.code.split('-')[2]) + 1_000 + 500)).toBe(true);
  });
});
