import { createHash, createHmac, randomBytes } from 'node:crypto';

/** The upstream shop a sub-agent shop buys from: its address, an API key made there, and our markup in percent. */
export interface Upstream {
  url: string;
  key: string;
  secret: string;
  markup: number;
}

/** Which answer an upstream's refusal points at, by its error code. */
const BLAME: Record<string, 'key' | 'secret'> = { invalid_key: 'key', bad_signature: 'secret' };

/**
 * Asks the upstream's Agent API for our wallet there, so a wrong address, key or secret is caught
 * before anything is installed. The request is signed as DESIGN.md's "Request signing" says, with
 * node:crypto: the core that would sign it is not installed yet. Returns the balance (minor units),
 * or which answer is wrong and why.
 */
export async function checkUpstream(u: Pick<Upstream, 'url' | 'key' | 'secret'>, locale: string): Promise<{ balance: number; currency: string } | { blame: 'url' | 'key' | 'secret'; reason: string }> {
  const url = new URL(`${u.url}/api/v1/wallet`);
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = randomBytes(16).toString('hex');
  const payload = ['GET', url.pathname, timestamp, nonce, createHash('sha256').update('').digest('hex')].join('\n');
  const headers = {
    'accept-language': locale,
    'x-cardshop-key': u.key,
    'x-cardshop-timestamp': timestamp,
    'x-cardshop-nonce': nonce,
    'x-cardshop-signature': createHmac('sha256', u.secret).update(payload).digest('hex'),
  };
  let status: number;
  let body: { wallet?: { balance: number; currency: string }; error?: { code?: string; message?: string } };
  try {
    const res = await fetch(url, { headers, redirect: 'manual', signal: AbortSignal.timeout(10_000) });
    status = res.status;
    body = (await res.json()) as typeof body;
  } catch (err) {
    const e = err as { name?: string; cause?: { code?: string; message?: string }; message?: string };
    return { blame: 'url', reason: e.name === 'SyntaxError' ? 'not a cardshop (no JSON from /api/v1/wallet)' : (e.cause?.code ?? e.cause?.message ?? e.message ?? String(err)) };
  }
  if (status === 200 && body.wallet) return body.wallet;
  const code = body.error?.code ?? `HTTP ${status}`;
  return { blame: BLAME[code] ?? 'url', reason: body.error?.message ? `${body.error.message} (${code})` : code };
}
