import type { Deps } from '../context.js';
import { isUniqueViolation } from '../db/dialect.js';

/**
 * Claims a one-off notice by key: true for the first caller in any app process, false ever after
 * (the primary key decides, not a read), so a chore every process runs raises each alert once.
 */
export async function markOnce(deps: Deps, key: string): Promise<boolean> {
  try {
    await deps.db.knex('notice_marks').insert({ key: key.slice(0, 120), created_at: deps.now() });
    return true;
  } catch (err) {
    if (isUniqueViolation(err)) return false;
    throw err;
  }
}
