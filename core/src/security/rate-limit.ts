import type { Deps } from '../context.js';
import { hmacHex } from './keys.js';

/**
 * Fixed-window attempt counters in the database, so every app process counts the same attempts.
 * `hit` counts one attempt and says whether it is within the limit: the increment is one upsert,
 * so parallel attempts cannot all slip under it. Buckets hold only an HMAC of what they count
 * (an address, an order number), never the value.
 */
export async function hit(deps: Deps, scope: string, value: string, limit: number, windowMs: number): Promise<boolean> {
  const bucket = `${scope}:${hmacHex(deps.keys.tokens, `rate:${scope}:${value}`, 16)}`.slice(0, 100);
  const now = deps.now();
  const start = now - (now % windowMs);
  const knex = deps.db.knex;
  // MySQL applies the assignments left to right: `hits` must read the old window first.
  await knex('rate_limits')
    .insert({ bucket, window_start: start, hits: 1 })
    .onConflict('bucket')
    .merge({ hits: knex.raw('CASE WHEN window_start = ? THEN hits + 1 ELSE 1 END', [start]), window_start: start });
  const row = await knex('rate_limits').where('bucket', bucket).first('hits', 'window_start');
  return Number(row.window_start) !== start || Number(row.hits) <= limit;
}

/** Drops counters whose window ended more than a day ago (the hourly chore). */
export async function pruneRateLimits(deps: Deps): Promise<number> {
  return Number(await deps.db.knex('rate_limits').where('window_start', '<', deps.now() - 86_400_000).delete());
}
