import { tokenValueToMicro } from './amounts.js';

/** A confirmed incoming token transfer, in micro-units of the token. */
export interface IncomingTransfer {
  txId: string;
  from: string;
  to: string;
  amount: bigint;
  /** The block's time, epoch ms. */
  timestamp: number;
}

/**
 * Where confirmed transfers come from: TronGrid here; another chain or indexer (TronScan, a node
 * of one's own, another network's token) is another implementation of this.
 */
export interface ChainWatcher {
  /** Shown beside the address on the payment page, e.g. "TRC20". */
  readonly network: string;
  /** Confirmed transfers of the token to `address` with a block time at or after `since`, oldest first. */
  incoming(input: { address: string; since: number }): Promise<IncomingTransfer[]>;
}

export class ChainError extends Error {
  override name = 'ChainError';
}

const PAGE = 200;
const MAX_PAGES = 25;

/**
 * TronGrid's v1 API: GET /v1/accounts/{address}/transactions/trc20 with only_confirmed, only_to,
 * contract_address and min_timestamp, oldest first, 200 a page, following meta.fingerprint. Rows
 * of another token, another recipient or another kind than Transfer are dropped.
 */
export function tronGridWatcher(o: { apiUrl: string; apiKey?: () => string; contract: string; timeoutMs: number }): ChainWatcher {
  async function page(address: string, since: number, fingerprint?: string) {
    const url = new URL(`${o.apiUrl}/v1/accounts/${encodeURIComponent(address)}/transactions/trc20`);
    url.searchParams.set('only_confirmed', 'true');
    url.searchParams.set('only_to', 'true');
    url.searchParams.set('contract_address', o.contract);
    url.searchParams.set('min_timestamp', String(Math.max(0, Math.floor(since))));
    url.searchParams.set('order_by', 'block_timestamp,asc');
    url.searchParams.set('limit', String(PAGE));
    if (fingerprint) url.searchParams.set('fingerprint', fingerprint);
    const key = o.apiKey?.();
    let res: Response;
    try {
      res = await fetch(url, { headers: { accept: 'application/json', ...(key ? { 'TRON-PRO-API-KEY': key } : {}) }, signal: AbortSignal.timeout(o.timeoutMs) });
    } catch (err) {
      throw new ChainError(`TronGrid ${url.host}: ${(err as Error).name === 'TimeoutError' ? `no answer within ${o.timeoutMs} ms` : `cannot reach it (${(err as Error).message})`}`);
    }
    if (!res.ok) throw new ChainError(`TronGrid ${url.host}: HTTP ${res.status}${res.status === 429 || res.status === 403 ? ' (rate limited: set apiKey)' : ''}`);
    const body = (await res.json().catch(() => null)) as { success?: boolean; data?: unknown; meta?: { fingerprint?: string } } | null;
    if (!body || body.success === false || !Array.isArray(body.data)) throw new ChainError(`TronGrid ${url.host}: the answer is not {"success":true,"data":[…]}`);
    return { data: body.data as Array<Record<string, unknown>>, next: body.meta?.fingerprint };
  }

  return {
    network: 'TRC20',
    async incoming({ address, since }) {
      const out: IncomingTransfer[] = [];
      let fingerprint: string | undefined;
      for (let n = 0; n < MAX_PAGES; n++) {
        const { data, next } = await page(address, since, fingerprint);
        for (const row of data) {
          const info = (row.token_info ?? {}) as { address?: unknown; decimals?: unknown };
          if (row.to !== address || info.address !== o.contract || (row.type !== undefined && row.type !== 'Transfer')) continue;
          const amount = tokenValueToMicro(row.value, Number(info.decimals));
          const timestamp = Number(row.block_timestamp);
          if (typeof row.transaction_id !== 'string' || !/^[0-9a-fA-F]{64}$/.test(row.transaction_id) || amount === null || !Number.isSafeInteger(timestamp)) continue;
          out.push({ txId: row.transaction_id.toLowerCase(), from: String(row.from ?? ''), to: address, amount, timestamp });
        }
        if (!next || data.length < PAGE) break;
        fingerprint = next;
      }
      return out;
    },
  };
}
