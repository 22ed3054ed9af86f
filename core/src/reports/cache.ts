import type { Deps } from '../context.js';

/** A report is read again once it is a minute old… */
const FRESH_MS = 60_000;
/** …but until it is ten minutes old the old one is shown meanwhile, so a reader never waits for it. */
const STALE_MS = 600_000;

interface Entry<T> {
  at: number;
  value: Promise<T>;
  refreshing?: boolean;
}

const reports = new WeakMap<Deps, Map<string, Entry<unknown>>>();

/**
 * A report kept per shop process: read at most once a minute however many people look. A report
 * one to ten minutes old is returned as it is while a new one is read in the background; an older
 * one, a failed one, or a `fresh` request waits for a new read. Reports say when they were read.
 */
export function cachedReport<T>(deps: Deps, key: string, read: (now: number) => Promise<T>, opts: { fresh?: boolean } = {}): Promise<T> {
  let entries = reports.get(deps);
  if (!entries) reports.set(deps, (entries = new Map()));
  const map = entries as Map<string, Entry<T>>;
  const now = deps.now();
  const entry = map.get(key);
  if (!entry || opts.fresh || now - entry.at >= STALE_MS) {
    const value = read(now);
    map.set(key, { at: now, value });
    // A failed read is not kept: the next request tries again.
    value.catch(() => map.get(key)?.value === value && map.delete(key));
    return value;
  }
  if (now - entry.at >= FRESH_MS && !entry.refreshing) {
    entry.refreshing = true;
    read(now).then(
      (report) => map.set(key, { at: now, value: Promise.resolve(report) }),
      (err) => {
        entry.refreshing = false;
        deps.log.warn(`report ${key} could not be read again; showing the one from ${new Date(entry.at).toISOString()}`, err);
      },
    );
  }
  return entry.value;
}
