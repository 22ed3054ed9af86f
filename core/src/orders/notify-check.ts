import type { Deps } from '../context.js';
import type { MessageKey } from '../i18n/messages.js';
import type { NotifyReply } from '../plugins/payment.js';
import { hmacHex, safeEqual } from '../security/keys.js';

/**
 * "Check my notify URL": the shop requests its own notify URL through its public address, the way
 * a gateway would, carrying a signed probe. The notify route answers a valid probe with a reply only
 * this shop can compute, so a wrong public URL, a proxy or a CDN that blocks or caches the callback
 * shows up before the first real payment is lost.
 */

export const PROBE_PARAM = 'cardshop_probe';
const PROBE_MAX_AGE_MS = 5 * 60_000;

/** The shop's address for links that leave it: the configured public URL, else how the request reached it. */
export function shopBaseUrl(deps: Deps, origin?: string): string {
  return (deps.config.publicUrl ?? origin ?? `http://${deps.config.host}:${deps.config.port}`).replace(/\/+$/, '');
}

export const notifyUrlOf = (deps: Deps, gatewayId: string, origin?: string) => `${shopBaseUrl(deps, origin)}/pay/${gatewayId}/notify`;

const probeSignature = (deps: Deps, gatewayId: string, at: string) => hmacHex(deps.keys.tokens, `probe:${gatewayId}:${at}`, 16);
const probeAnswer = (deps: Deps, token: string) => `cardshop-probe ${hmacHex(deps.keys.tokens, `probe-reply:${token}`, 16)}`;

/** The probe a notify request carries when the shop sent it itself (a fresh, signed token), or undefined. */
export function probeIn(deps: Deps, gatewayId: string, query: Record<string, string>): string | undefined {
  const token = query[PROBE_PARAM];
  const [at, sig] = (token ?? '').split('.');
  if (!at || !sig || !/^\d+$/.test(at) || !safeEqual(sig, probeSignature(deps, gatewayId, at))) return undefined;
  return Math.abs(deps.now() - Number(at)) <= PROBE_MAX_AGE_MS ? token : undefined;
}

export const probeReply = (deps: Deps, token: string): NotifyReply => ({ status: 200, type: 'text/plain', body: probeAnswer(deps, token) });

export interface NotifyCheck {
  /** The URL the shop gives the gateway with every payment. */
  url: string;
  publicUrl: string | null;
  /** The probe came back with this shop's answer. */
  ok: boolean;
  status?: number;
  location?: string;
  contentType?: string;
  /** The first characters of what came back, to recognise a CDN's or a proxy's page. */
  bodyStart?: string;
  error?: string;
  ms: number;
  /** What looks wrong, as console message keys. */
  problems: MessageKey[];
}

export async function checkNotifyUrl(deps: Deps, gatewayId: string, origin?: string): Promise<NotifyCheck> {
  const url = notifyUrlOf(deps, gatewayId, origin);
  const at = String(deps.now());
  const token = `${at}.${probeSignature(deps, gatewayId, at)}`;
  const problems: MessageKey[] = [];
  if (!deps.config.publicUrl) problems.push('admin.check.no_public_url');
  const started = Date.now();
  const check: NotifyCheck = { url, publicUrl: deps.config.publicUrl ?? null, ok: false, ms: 0, problems };
  try {
    // Sent the way gateways send: a form POST, no redirects followed.
    const res = await fetch(`${url}?${PROBE_PARAM}=${encodeURIComponent(token)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'cardshop-notify-check' },
      body: `${PROBE_PARAM}=1`,
      redirect: 'manual',
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    Object.assign(check, { status: res.status, contentType: res.headers.get('content-type') ?? undefined, bodyStart: text.slice(0, 300) });
    check.ok = res.status === 200 && text.trim() === probeAnswer(deps, token);
    if (res.status >= 300 && res.status < 400) {
      check.location = res.headers.get('location') ?? undefined;
      problems.push('admin.check.redirected');
    } else if (!check.ok) {
      problems.push(res.status >= 400 ? 'admin.check.blocked' : 'admin.check.not_this_shop');
    }
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    check.error = e.cause?.code ?? e.cause?.message ?? e.message;
    problems.push('admin.check.unreachable');
  }
  check.ms = Date.now() - started;
  return check;
}
