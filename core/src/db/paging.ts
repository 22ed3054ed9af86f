/** The last page anyone may ask for: far past any real list, and `(page - 1) * size` stays a whole number SQL accepts. */
const MAX_PAGE = 1_000_000;

/**
 * A page number as a client sent it (`?page=`, anything at all) made one the database can take:
 * a whole number from 1 to MAX_PAGE. MySQL refuses an OFFSET written as `1e+21` or `15.000000000000002`
 * with a syntax error, which would otherwise be a 500.
 */
export function pageNumber(page: unknown): number {
  const n = typeof page === 'string' ? Number(page) : page;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 1 ? Math.min(n, MAX_PAGE) : 1;
}
