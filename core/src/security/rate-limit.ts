import type { Deps } from '../context.js';
import { affected } from '../db/dialect.js';
import { hmacHex } from './keys.js';

/**
 * Fixed-window attempt counters in the database, so every app process counts the same attempts.
 * `hit` counts one attempt and says whether it is within the limit: the increment is one upsert,
 * so parallel attempts cannot all slip under it. Buckets hold only an HMAC of what they count
 * (an address, an order number), never the value.
 */
const bucketOf = (deps: Deps, scope: string, value: string) => `${scope}:${hmacHex(deps.keys.tokens, `rate:${scope}:${value}`, 16)}`.slice(0, 100);
const windowOf = (deps: Deps, windowMs: number) => {
  const now = deps.now();
  return now - (now % windowMs);
};

/**
 * Counts `added` (0 or 1) in the bucket's current window with one upsert; a new window starts from
 * it. MySQL applies the assignments left to right: `hits` must read the old window first.
 */
async function count(deps: Deps, bucket: string, start: number, added: 0 | 1): Promise<void> {
  const knex = deps.db.knex;
  await knex('rate_limits')
    .insert({ bucket, window_start: start, hits: added })
    .onConflict('bucket')
    .merge({ hits: knex.raw('CASE WHEN window_start = ? THEN hits + ? ELSE ? END', [start, added, added]), window_start: start });
}

export async function hit(deps: Deps, scope: string, value: string, limit: number, windowMs: number): Promise<boolean> {
  const bucket = bucketOf(deps, scope, value);
  const start = windowOf(deps, windowMs);
  await count(deps, bucket, start, 1);
  const row = await deps.db.knex('rate_limits').where('bucket', bucket).first('hits', 'window_start');
  return Number(row.window_start) !== start || Number(row.hits) <= limit;
}

/**
 * Takes one of `limit` slots in the current window, or says none is left (and counts nothing):
 * for pacing sends to an API's limit. Unlike `hit`, parallel callers beyond the limit cannot push
 * the count past it, so those within it always get their slot.
 */
export async function take(deps: Deps, scope: string, value: string, limit: number, windowMs: number): Promise<boolean> {
  const bucket = bucketOf(deps, scope, value);
  const start = windowOf(deps, windowMs);
  await count(deps, bucket, start, 0);
  return affected(await deps.db.knex('rate_limits').where({ bucket, window_start: start }).andWhere('hits', '<', limit).increment('hits', 1)) === 1;
}

/**
 * Takes back one attempt counted by `hit` in the current window (the attempt turned out not to be
 * one: an order refused for its input, say). A window that has moved on since is left alone.
 */
export async function unhit(deps: Deps, scope: string, value: string, windowMs: number): Promise<void> {
  await deps.db.knex('rate_limits').where({ bucket: bucketOf(deps, scope, value), window_start: windowOf(deps, windowMs) }).andWhere('hits', '>', 0).decrement('hits', 1);
}

/** Drops counters whose window ended more than a day ago (the hourly chore). */
export async function pruneRateLimits(deps: Deps): Promise<number> {
  return Number(await deps.db.knex('rate_limits').where('window_start', '<', deps.now() - 86_400_000).delete());
}
