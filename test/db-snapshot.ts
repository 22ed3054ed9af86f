import type { TestShop } from '@cardshop/core/testing';

/** Tables a refused request may write: attempts counted by rate limits, signature nonces, sessions touched. */
const VOLATILE = new Set(['sessions', 'rate_limits', 'api_nonces', 'challenge_uses', 'lookup_codes', 'notice_marks']);

/**
 * A function that reads, in one query, the row count of every table and the figures a write would
 * move without adding a row (stock, prices, states, who sits where, texts, switches); every money
 * movement writes journal rows, which the counts see. Two equal readings: nothing was written.
 */
export async function dbSnapshot(t: TestShop): Promise<() => Promise<Record<string, number>>> {
  const knex = t.shop.db.knex;
  const all: string[] =
    t.dialect === 'mysql'
      ? ((await knex.raw('show tables'))[0] as Array<Record<string, string>>).map((r) => Object.values(r)[0]!)
      : await knex('sqlite_master').where('type', 'table').pluck('name');
  const tables = all.filter((name) => !VOLATILE.has(name) && !/^(sqlite_|cardshop_migrations)/.test(name));
  const has = (name: string) => tables.includes(name);
  const query = [
    ...tables.map((name) => `select '${name}' as t, '' as k, count(*) as n from ${name}`),
    ...['orders', 'card_keys', 'withdrawals'].filter(has).map((name) => `select '${name}', status, count(*) from ${name} group by status`),
    `select 'users', role, count(*) + coalesce(sum(disabled), 0) * 1000 + coalesce(sum(level_id), 0) * 1000000 + coalesce(sum(upline_id), 0) * 1000000000 from users group by role`,
    `select 'skus', '', coalesce(sum(stock), 0) + coalesce(sum(price), 0) * 1000 + coalesce(sum(enabled), 0) from skus`,
    `select 'accounts', '', coalesce(sum(abs(balance)), 0) from accounts`,
    `select 'products', '', coalesce(sum(length(name) + coalesce(length(description), 0)), 0) from products`,
    ...(has('articles') ? [`select 'articles', '', coalesce(sum(length(title) + length(body) + published * 7), 0) from articles`] : []),
    ...(has('coupons') ? [`select 'coupons', '', coalesce(sum(active), 0) from coupons`] : []),
  ].join(' union all ');
  return async () => {
    const result = await knex.raw(query);
    const rows = (t.dialect === 'mysql' ? result[0] : result) as Array<{ t: string; k: string; n: number }>;
    return Object.fromEntries(rows.map((r) => [`${r.t}:${r.k}`, Number(r.n)]));
  };
}
