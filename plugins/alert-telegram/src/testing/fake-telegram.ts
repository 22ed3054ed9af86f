/**
 * A fake Telegram Bot API for tests, on 127.0.0.1: POST /bot<token>/sendMessage with a JSON body,
 * answered as the real API answers (`{ ok, result }` or `{ ok: false, error_code, description,
 * parameters }`). It refuses what Telegram refuses: another token (401), an unknown chat (400 chat
 * not found), empty or over-long text, and HTML that does not parse (a stray `<` or `&`, a tag it
 * does not know, tags that do not close). `failNext` and `limitNext` make the next answers fail
 * (HTTP 502) or ask to wait (429, retry_after).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SentMessage {
  chatId: string;
  text: string;
  parseMode: string | undefined;
  body: Record<string, unknown>;
}

export interface FakeTelegram {
  readonly url: string;
  readonly token: string;
  readonly chatId: string;
  /** Messages it accepted, in order. */
  readonly sent: SentMessage[];
  /** Every request it answered, accepted or not. */
  requests: number;
  /** The next `n` requests get HTTP 502 (Telegram's front end failing). */
  failNext(n: number): void;
  /** The next `n` requests get 429 Too Many Requests with `retry_after` seconds. */
  limitNext(n: number, retryAfter: number): void;
  close(): Promise<void>;
}

const TAGS = new Set(['b', 'strong', 'i', 'em', 'u', 'ins', 's', 'strike', 'del', 'code', 'pre', 'a', 'tg-spoiler', 'blockquote', 'span']);

/** Why Telegram would not parse `text` as HTML, or null. */
function htmlProblem(text: string): string | null {
  const open: string[] = [];
  for (const m of text.matchAll(/<(\/?)([a-z-]+)[^>]*>|<|&(?!(?:lt|gt|amp|quot|#\d+|#x[0-9a-f]+);)/gi)) {
    if (m[0] === '<') return `Unsupported start tag at byte offset ${m.index}`;
    if (m[0] === '&') return `Character entity expected at byte offset ${m.index}`;
    const [, closing, tag] = m;
    if (!TAGS.has(tag!.toLowerCase())) return `Unsupported start tag "${tag}" at byte offset ${m.index}`;
    if (!closing) open.push(tag!);
    else if (open.pop() !== tag) return `Unmatched end tag at byte offset ${m.index}`;
  }
  return open.length ? `Can't find end tag corresponding to start tag "${open.at(-1)}"` : null;
}

export async function startFakeTelegram(opts: { token?: string; chatId?: string } = {}): Promise<FakeTelegram> {
  const token = opts.token ?? '123456789:AAFakeTokenForTestsOnly_abcdefghij';
  const chatId = opts.chatId ?? '-1001234567890';
  const sent: SentMessage[] = [];
  let failing = 0;
  let limiting = 0;
  let retryAfter = 1;

  const reply = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const refuse = (res: ServerResponse, code: number, description: string, parameters?: object) =>
    reply(res, code, { ok: false, error_code: code, description, ...(parameters ? { parameters } : {}) });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    fake.requests++;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (failing > 0) {
      failing--;
      res.writeHead(502, { 'content-type': 'text/html' });
      return res.end('<html><body>502 Bad Gateway</body></html>');
    }
    const m = /^\/bot([^/]+)\/(\w+)$/.exec(req.url ?? '');
    if (!m) return refuse(res, 404, 'Not Found');
    if (m[1] !== token) return refuse(res, 401, 'Unauthorized');
    if (m[2]!.toLowerCase() !== 'sendmessage') return refuse(res, 404, 'Not Found: method not found');
    if (limiting > 0) {
      limiting--;
      return refuse(res, 429, `Too Many Requests: retry after ${retryAfter}`, { retry_after: retryAfter });
    }
    if (req.method !== 'POST' || !String(req.headers['content-type']).startsWith('application/json')) return refuse(res, 400, 'Bad Request: expected a JSON body');
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    } catch {
      return refuse(res, 400, 'Bad Request: invalid JSON');
    }
    if (body.chat_id === undefined) return refuse(res, 400, 'Bad Request: chat_id is empty');
    if (String(body.chat_id) !== chatId) return refuse(res, 400, 'Bad Request: chat not found');
    const text = typeof body.text === 'string' ? body.text : '';
    if (!text.trim()) return refuse(res, 400, 'Bad Request: message text is empty');
    if (text.length > 4096) return refuse(res, 400, 'Bad Request: message is too long');
    const parseMode = body.parse_mode as string | undefined;
    if (parseMode !== undefined && !['HTML', 'MarkdownV2', 'Markdown'].includes(parseMode)) return refuse(res, 400, 'Bad Request: unsupported parse_mode');
    const problem = parseMode === 'HTML' ? htmlProblem(text) : null;
    if (problem) return refuse(res, 400, `Bad Request: can't parse entities: ${problem}`);
    sent.push({ chatId: String(body.chat_id), text, parseMode, body });
    reply(res, 200, { ok: true, result: { message_id: sent.length, date: Math.floor(Date.now() / 1000), chat: { id: Number(chatId), type: 'supergroup' }, text } });
  }

  const server = createServer((req, res) => void handle(req, res).catch(() => res.destroy()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const fake: FakeTelegram = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    token,
    chatId,
    sent,
    requests: 0,
    failNext(n) {
      failing = n;
    },
    limitNext(n, seconds) {
      limiting = n;
      retryAfter = seconds;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  return fake;
}
