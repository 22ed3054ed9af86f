/**
 * A fake TronGrid for tests: GET /v1/accounts/{address}/transactions/trc20 on 127.0.0.1 with the
 * documented query (only_confirmed, only_to, contract_address, min_timestamp, order_by, limit,
 * fingerprint) and answer ({ success, data: [{ transaction_id, from, to, value, type,
 * block_timestamp, token_info }], meta: { at, page_size, fingerprint? } }). A test "sends" a
 * transfer; it is listed once confirmed. The API key, if set, must come as TRON-PRO-API-KEY.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export const FAKE_USDT_CONTRACT = 'TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t';

export interface FakeTransfer {
  transaction_id: string;
  from: string;
  to: string;
  /** In the token's smallest unit (6 decimals for USDT), as TronGrid sends it: a string. */
  value: string;
  type: string;
  block_timestamp: number;
  token_info: { symbol: string; address: string; decimals: number; name: string };
  confirmed: boolean;
}

export interface FakeTronGrid {
  readonly url: string;
  readonly transfers: FakeTransfer[];
  /** Every request's path and query. */
  readonly requests: Array<{ path: string; query: Record<string, string>; apiKey?: string }>;
  /** Sends `amount` (a decimal such as "10.0003") of USDT (or another contract) to `to`; confirmed unless said. */
  send(o: { to: string; amount: string; from?: string; at?: number; confirmed?: boolean; contract?: string; decimals?: number }): FakeTransfer;
  /** Answers every request with this HTTP status (a rate limit, an outage), or 0 for normal. */
  failWith: number;
  close(): Promise<void>;
}

const PAGE_MAX = 200;

function toUnits(amount: string, decimals: number): string {
  const [whole, frac = ''] = amount.split('.');
  return (BigInt(whole!) * 10n ** BigInt(decimals) + BigInt(frac.padEnd(decimals, '0').slice(0, decimals) || '0')).toString();
}

export async function startFakeTronGrid(o: { apiKey?: string; pageSize?: number } = {}): Promise<FakeTronGrid> {
  const transfers: FakeTransfer[] = [];
  const requests: FakeTronGrid['requests'] = [];
  const pageSize = o.pageSize ?? PAGE_MAX;
  const state = { failWith: 0 };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const query = Object.fromEntries(url.searchParams);
    const apiKey = req.headers['tron-pro-api-key'] as string | undefined;
    requests.push({ path: url.pathname, query, apiKey });
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (state.failWith) return send(state.failWith, { success: false, error: 'fake outage' });
    if (o.apiKey && apiKey !== o.apiKey) return send(401, { success: false, error: 'ApiKey not exists' });
    const m = /^\/v1\/accounts\/([^/]+)\/transactions\/trc20$/.exec(url.pathname);
    if (req.method !== 'GET' || !m) return send(404, { success: false, error: 'not found' });
    const address = decodeURIComponent(m[1]!);
    const limit = Math.min(Number(query.limit ?? 20), pageSize);
    const min = Number(query.min_timestamp ?? 0);
    let list = transfers.filter(
      (t) =>
        (t.to === address || (query.only_to !== 'true' && t.from === address)) &&
        (query.only_confirmed !== 'true' || t.confirmed) &&
        (!query.contract_address || t.token_info.address === query.contract_address) &&
        t.block_timestamp >= min,
    );
    list = list.sort((a, b) => (query.order_by === 'block_timestamp,asc' ? a.block_timestamp - b.block_timestamp : b.block_timestamp - a.block_timestamp));
    const start = query.fingerprint ? Number(Buffer.from(query.fingerprint, 'base64url').toString()) : 0;
    const data = list.slice(start, start + limit);
    const more = start + limit < list.length;
    send(200, {
      success: true,
      data: data.map(({ confirmed: _confirmed, ...t }) => t),
      meta: { at: Date.now(), page_size: data.length, ...(more ? { fingerprint: Buffer.from(String(start + limit)).toString('base64url') } : {}) },
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    transfers,
    requests,
    get failWith() {
      return state.failWith;
    },
    set failWith(v: number) {
      state.failWith = v;
    },
    send(t) {
      const decimals = t.decimals ?? 6;
      const transfer: FakeTransfer = {
        transaction_id: createHash('sha256').update(randomBytes(16)).digest('hex'),
        from: t.from ?? 'TXkdXbzjoLpxGAD2strP1zwjJzR6osNfD7',
        to: t.to,
        value: toUnits(t.amount, decimals),
        type: 'Transfer',
        block_timestamp: t.at ?? Date.now(),
        token_info: { symbol: 'USDT', address: t.contract ?? FAKE_USDT_CONTRACT, decimals, name: 'Tether USD' },
        confirmed: t.confirmed ?? true,
      };
      transfers.push(transfer);
      return transfer;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** A valid TRON address (Base58Check, version 0x41) derived from `seed`: test wallets that pass the plugin's checksum check. */
export function tronAddress(seed: string): string {
  const sha = (b: Buffer) => createHash('sha256').update(b).digest();
  const payload = Buffer.concat([Buffer.from([0x41]), sha(Buffer.from(seed)).subarray(0, 20)]);
  const raw = Buffer.concat([payload, sha(sha(payload)).subarray(0, 4)]);
  let n = BigInt(`0x${raw.toString('hex')}`);
  let out = '';
  while (n > 0n) {
    out = B58[Number(n % 58n)]! + out;
    n /= 58n;
  }
  return out;
}
