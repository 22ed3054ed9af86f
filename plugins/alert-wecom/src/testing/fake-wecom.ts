/**
 * A fake WeCom group robot webhook for tests, on 127.0.0.1: POST /cgi-bin/webhook/send?key=<key>
 * with a JSON body, answered `{ errcode, errmsg }` with HTTP 200 as WeCom answers. It refuses what
 * WeCom refuses: another key (93000), an unknown msgtype (40008), empty content (44004), markdown
 * over 4,096 bytes or text over 2,048 (40058), and more than 20 messages a minute per robot
 * (45009, counted by the fake itself). `failNext` makes the next answers HTTP 502.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WecomPosted {
  msgtype: 'markdown' | 'text';
  content: string;
  body: Record<string, unknown>;
}

export interface FakeWecom {
  readonly url: string;
  readonly key: string;
  readonly sent: WecomPosted[];
  /** Requests refused with 45009. */
  limited: number;
  failNext(n: number): void;
  close(): Promise<void>;
}

const LIMITS = { markdown: 4096, text: 2048 } as const;

export async function startFakeWecom(opts: { key?: string; perMinute?: number } = {}): Promise<FakeWecom> {
  const key = opts.key ?? '693a91f6-7b3c-4bc4-97a0-0ec2fake5aaa';
  const perMinute = opts.perMinute ?? 20;
  const sent: WecomPosted[] = [];
  const minute = new Map<number, number>();
  let failing = 0;

  const answer = (res: ServerResponse, errcode: number, errmsg: string) => {
    res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
    res.end(JSON.stringify({ errcode, errmsg }));
  };

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (failing > 0) {
      failing--;
      res.writeHead(502);
      return res.end('bad gateway');
    }
    const url = new URL(req.url ?? '/', 'http://fake');
    if (url.pathname !== '/cgi-bin/webhook/send' || req.method !== 'POST') {
      res.writeHead(404);
      return res.end();
    }
    if (url.searchParams.get('key') !== key) return answer(res, 93000, 'invalid webhook url, hint: [fake]');
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    } catch {
      return answer(res, 40058, 'invalid parameter: not json');
    }
    const msgtype = body.msgtype;
    if (msgtype !== 'markdown' && msgtype !== 'text') return answer(res, 40008, 'invalid message type');
    const content = (body[msgtype] as { content?: unknown } | undefined)?.content;
    if (typeof content !== 'string' || !content) return answer(res, 44004, 'empty content');
    if (Buffer.byteLength(content, 'utf8') > LIMITS[msgtype]) return answer(res, 40058, `content exceed max length ${LIMITS[msgtype]}`);
    const now = Math.floor(Date.now() / 60_000);
    const count = (minute.get(now) ?? 0) + 1;
    minute.set(now, count);
    if (count > perMinute) {
      fake.limited++;
      return answer(res, 45009, 'api freq out of limit');
    }
    sent.push({ msgtype, content, body });
    answer(res, 0, 'ok');
  }

  const server = createServer((req, res) => void handle(req, res).catch(() => res.destroy()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const fake: FakeWecom = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    key,
    sent,
    limited: 0,
    failNext(n) {
      failing = n;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  return fake;
}
