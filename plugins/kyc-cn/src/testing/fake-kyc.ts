/**
 * A fake 二要素/三要素 verification API for tests, on 127.0.0.1: it takes GET queries, POST forms
 * and POST JSON, authenticates by AppCode header or by an MD5 / HMAC-SHA256 signature that it
 * checks with its own signer (written apart from the plugin's, so a bug in one is not mirrored in
 * the other), and answers `{ code, message, result: { res } }` with res 1 (match), 2 (mismatch)
 * or 3 (no record) from the people it was given.
 */
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakePerson {
  name: string;
  idNumber: string;
  phone?: string;
}

export interface FakeKycOptions {
  people: FakePerson[];
  auth?: 'appcode' | 'md5' | 'hmac-sha256';
  appCode?: string;
  appSecret?: string;
}

export interface FakeKycRequest {
  method: string;
  params: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
}

export interface FakeKyc {
  /** The API's address, e.g. http://127.0.0.1:41234/idcard. */
  readonly url: string;
  readonly requests: FakeKycRequest[];
  /** Answers every call with this HTTP status instead (a broken or refusing API). */
  failWith: number | null;
  /** Answers `{ code: 1001, message: "余额不足" }`: the subscription ran out. */
  outOfCredit: boolean;
  delayMs: number;
  close(): Promise<void>;
}

function expectedSign(params: Record<string, string>, auth: 'md5' | 'hmac-sha256', secret: string): string {
  const names = Object.keys(params).filter((n) => n !== 'sign' && params[n]);
  names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const text = names.map((n) => n + '=' + params[n]).join('&');
  if (auth === 'md5') return createHash('md5').update(Buffer.from(text + '&key=' + secret, 'utf8')).digest('hex');
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(Buffer.from(text, 'utf8')).digest('hex');
}

async function readParams(req: IncomingMessage, url: URL): Promise<Record<string, string>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks).toString('utf8');
  const type = String(req.headers['content-type'] ?? '');
  if (type.includes('json')) return JSON.parse(raw) as Record<string, string>;
  if (type.includes('form')) return Object.fromEntries(new URLSearchParams(raw));
  return Object.fromEntries(url.searchParams);
}

export async function startFakeKyc(options: FakeKycOptions): Promise<FakeKyc> {
  const auth = options.auth ?? 'appcode';
  const requests: FakeKycRequest[] = [];
  const state = { failWith: null as number | null, outOfCredit: false, delayMs: 0 };
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const answer = (status: number, body: unknown) => {
      setTimeout(() => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify(body));
      }, state.delayMs);
    };
    let params: Record<string, string>;
    try {
      params = await readParams(req, url);
    } catch {
      return answer(400, { code: 400, message: 'bad request' });
    }
    requests.push({ method: req.method ?? 'GET', params, headers: req.headers });
    if (state.failWith) return answer(state.failWith, { code: state.failWith, message: 'failure' });
    if (auth === 'appcode') {
      if (req.headers.authorization !== `APPCODE ${options.appCode}`) return answer(403, { code: 403, message: 'Invalid AppCode' });
    } else if (params.sign !== expectedSign(params, auth, options.appSecret ?? '')) {
      return answer(200, { code: 1002, message: '签名错误' });
    }
    if (state.outOfCredit) return answer(200, { code: 1001, message: '余额不足' });
    const person = options.people.find((p) => p.idNumber === params.idcard);
    const match = person && person.name === params.name && (params.mobile === undefined || params.mobile === person.phone);
    const res3 = !person ? '3' : match ? '1' : '2';
    answer(200, { code: 0, message: '成功', result: { res: res3, description: { '1': '一致', '2': '不一致', '3': '无记录' }[res3] } });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/idcard`,
    requests,
    get failWith() {
      return state.failWith;
    },
    set failWith(v) {
      state.failWith = v;
    },
    get outOfCredit() {
      return state.outOfCredit;
    },
    set outOfCredit(v) {
      state.outOfCredit = v;
    },
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(v) {
      state.delayMs = v;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
