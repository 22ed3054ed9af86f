/**
 * A fake bark-server for tests, on 127.0.0.1: POST /push with a JSON body, answered
 * `{ code, message, timestamp }` with the same HTTP status, as bark-server answers. It refuses a
 * device key it does not know (400 failed to get device token), a push without body (400), a
 * level Bark does not have (400), and, when started with `auth`, requests without that basic
 * auth (401). `failNext` makes the next answers 500 (APNs failing).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface BarkPushed {
  title?: string;
  body: string;
  group?: string;
  level?: string;
  raw: Record<string, unknown>;
}

export interface FakeBark {
  readonly url: string;
  readonly deviceKey: string;
  readonly pushed: BarkPushed[];
  failNext(n: number): void;
  close(): Promise<void>;
}

const LEVELS = new Set(['active', 'timeSensitive', 'passive', 'critical']);

export async function startFakeBark(opts: { deviceKey?: string; auth?: { user: string; password: string } } = {}): Promise<FakeBark> {
  const deviceKey = opts.deviceKey ?? 'ynJ5Ft4atkMkWeo2PAvFhF';
  const pushed: BarkPushed[] = [];
  let failing = 0;
  const answer = (res: ServerResponse, code: number, message: string) => {
    res.writeHead(code, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify({ code, message, timestamp: Math.floor(Date.now() / 1000) }));
  };

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (opts.auth) {
      const expected = `Basic ${Buffer.from(`${opts.auth.user}:${opts.auth.password}`).toString('base64')}`;
      if (req.headers.authorization !== expected) return answer(res, 401, 'Unauthorized');
    }
    if (req.method !== 'POST' || req.url !== '/push') return answer(res, 404, 'Not Found');
    if (failing > 0) {
      failing--;
      return answer(res, 500, 'push failed: APNs unavailable');
    }
    let raw: Record<string, unknown>;
    try {
      raw = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    } catch {
      return answer(res, 400, 'request bind failed: invalid JSON');
    }
    if (raw.device_key !== deviceKey) return answer(res, 400, `failed to get device token: failed to get [${String(raw.device_key)}] device token from database`);
    if (typeof raw.body !== 'string' || !raw.body) return answer(res, 400, 'push body is empty');
    if (raw.level !== undefined && !LEVELS.has(String(raw.level))) return answer(res, 400, 'invalid level');
    pushed.push({ title: raw.title as string | undefined, body: raw.body, group: raw.group as string | undefined, level: raw.level as string | undefined, raw });
    answer(res, 200, 'success');
  }

  const server = createServer((req, res) => void handle(req, res).catch(() => res.destroy()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    deviceKey,
    pushed,
    failNext(n) {
      failing = n;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
