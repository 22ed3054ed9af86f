import { z } from 'zod';
import type { Deps } from '../context.js';
import { fromZod } from '../errors.js';
import type { ProductView } from './catalog.js';
import { searchIndex, searchText, withLiveStock } from './snapshot.js';

/**
 * Product search over the catalog snapshot in memory: names, SKU names and codes, descriptions.
 * Each word of the query must occur somewhere in a product's text, as a substring. Chinese has no
 * spaces between words, so a word index (MySQL FULLTEXT, SQLite FTS5 without an n-gram tokenizer)
 * would not find 点卡 in 腾讯Q币点卡; a substring over a few thousand products in memory does,
 * costs no query, and the query never reaches SQL, so nothing in it can be injected. Only listed
 * products and their listed SKUs are searched: link-only and hidden ones never appear.
 */

export const searchQuery = z.object({
  q: z.string({ error: 'field.required' }).trim().min(1, 'field.required').max(64, 'field.too_long'),
});

const MAX_WORDS = 8;
const MAX_RESULTS = 60;

/** Products matching every word of `q`: name matches first, then SKU, then description; catalog order within. */
export async function searchProducts(deps: Deps, input: unknown, opts: { categoryId?: number } = {}): Promise<ProductView[]> {
  const parsed = searchQuery.safeParse(input);
  if (!parsed.success) throw fromZod(parsed.error);
  const words = searchText(parsed.data.q).split(/\s+/).filter(Boolean).slice(0, MAX_WORDS);
  const hits: Array<{ product: ProductView; score: number; at: number }> = [];
  for (const [at, entry] of (await searchIndex(deps)).entries()) {
    if (opts.categoryId && entry.product.categoryId !== opts.categoryId) continue;
    let score = 0;
    for (const w of words) {
      const s = entry.name.includes(w) ? 4 : entry.skus.includes(w) ? 2 : entry.description.includes(w) ? 1 : 0;
      if (!s) {
        score = 0;
        break;
      }
      score += s;
    }
    if (score) hits.push({ product: entry.product, score, at });
  }
  hits.sort((a, b) => b.score - a.score || a.at - b.at);
  return withLiveStock(deps, hits.slice(0, MAX_RESULTS).map((h) => h.product));
}
