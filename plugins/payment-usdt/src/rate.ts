import type { Logger } from '@cardshop/core';
import { parseMicro } from './amounts.js';
import type { UsdtSettings } from './settings.js';

/**
 * CNY per USDT, in micro-CNY: the rate source's last reading while it is fresh, else the fixed
 * `rate`, else null (the shop then refuses to take a USDT payment rather than guess a price).
 */
export function rateKeeper(s: UsdtSettings, log: Logger, now: () => number) {
  const fixed = s.rate ? parseMicro(s.rate) : null;
  let reading: { rate: bigint; at: number } | null = null;
  let inflight: Promise<void> | null = null;
  // Parallel checkouts wait for one reading, not one each.
  const refresh = () => (inflight ??= read().finally(() => (inflight = null)));

  async function read(): Promise<void> {
    const src = s.rateSource;
    if (!src) return;
    try {
      const res = await fetch(src.url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(s.timeoutMs) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      let value: unknown = await res.json();
      for (const key of src.path.split('.')) value = value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
      const rate = typeof value === 'number' || typeof value === 'string' ? parseMicro(typeof value === 'number' ? value.toFixed(6) : value) : null;
      if (rate === null) throw new Error(`no positive number at "${src.path}"`);
      reading = { rate, at: now() };
    } catch (err) {
      log.warn(`rate source ${new URL(src.url).host}: ${(err as Error).message}; ${fixed ? `using the fixed rate ${s.rate} once the last reading is too old` : 'USDT payments stop once the last reading is too old'}`);
    }
  }

  return {
    refresh,
    /** The rate to price a payment at now. */
    async current(): Promise<bigint | null> {
      const src = s.rateSource;
      if (src && (!reading || now() - reading.at > src.refreshMinutes * 60_000)) await refresh();
      if (src && reading && now() - reading.at <= src.maxAgeMinutes * 60_000) return reading.rate;
      return fixed;
    },
  };
}
