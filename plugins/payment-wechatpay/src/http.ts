import type { KeyObject } from 'node:crypto';
import { authorization, verifySigned } from './sign.js';

/**
 * Why a call to WeChat Pay failed.
 * - `timeout`: no (whole) answer in time; the request may have been acted on.
 * - `network`: it could not be sent.
 * - `signature`: an answer came, but its signature did not verify, so it is not believed.
 * - `api`: WeChat Pay answered with a verified error (`code`, `message`, HTTP `status`).
 * - `http`: an error status without a verified body (e.g. 401 when our own signature is refused).
 * - `format`: a verified answer that is not the JSON expected.
 */
export type WechatpayErrorKind = 'timeout' | 'network' | 'signature' | 'api' | 'http' | 'format';

export class WechatpayError extends Error {
  override readonly name = 'WechatpayError';
  constructor(
    message: string,
    readonly kind: WechatpayErrorKind,
    readonly status?: number,
    /** WeChat Pay's error code, e.g. ORDER_NOT_EXIST, NOT_ENOUGH, SYSTEM_ERROR. */
    readonly code?: string,
  ) {
    super(message);
  }
}

export interface ClientConfig {
  /** Gateway id, named in every error. */
  gateway: string;
  baseUrl: string;
  mchid: string;
  merchantSerialNo: string;
  merchantPrivateKey: KeyObject;
  platformPublicKey: KeyObject;
  platformPublicKeyId: string;
  timeoutMs: number;
  userAgent: string;
  now?: () => number;
}

export interface ApiAnswer {
  status: number;
  /** The parsed JSON body; `{}` for 204. */
  data: Record<string, unknown>;
}

export interface ApiClient {
  /** Sends a signed request and returns the verified 2xx answer; anything else throws a WechatpayError. */
  call(method: 'GET' | 'POST', pathAndQuery: string, what: string, body?: unknown): Promise<ApiAnswer>;
}

function errorText(data: Record<string, unknown>): { code?: string; message?: string } {
  return {
    ...(typeof data.code === 'string' ? { code: data.code } : {}),
    ...(typeof data.message === 'string' ? { message: data.message } : {}),
  };
}

function parseJson(bytes: Buffer): Record<string, unknown> | null {
  if (bytes.length === 0) return {};
  try {
    const v: unknown = JSON.parse(bytes.toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export function createApiClient(cfg: ClientConfig): ApiClient {
  const now = cfg.now ?? Date.now;
  const verifyKey = { publicKey: cfg.platformPublicKey, serial: cfg.platformPublicKeyId };

  return {
    async call(method, pathAndQuery, what, body) {
      const url = new URL(cfg.baseUrl + pathAndQuery);
      const prefix = `wechatpay gateway "${cfg.gateway}": ${what}`;
      const where = `${url.protocol}//${url.host}${url.pathname}`;
      const text = body === undefined ? '' : JSON.stringify(body);
      // What is signed is exactly what is sent: the path and query as the URL serialises them.
      const signedPath = url.pathname + url.search;
      const headers: Record<string, string> = {
        authorization: authorization({
          mchid: cfg.mchid,
          serialNo: cfg.merchantSerialNo,
          privateKey: cfg.merchantPrivateKey,
          method,
          urlPathAndQuery: signedPath,
          body: text,
          timestamp: Math.floor(now() / 1000),
        }),
        accept: 'application/json',
        'user-agent': cfg.userAgent,
        // Asks WeChat Pay to sign its answer with the key we hold (the 微信支付公钥 switch-over rule).
        'wechatpay-serial': cfg.platformPublicKeyId,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      };

      let res: Response;
      let bytes: Buffer;
      try {
        res = await fetch(url, { method, headers, body: body === undefined ? undefined : text, redirect: 'manual', signal: AbortSignal.timeout(cfg.timeoutMs) });
        bytes = Buffer.from(await res.arrayBuffer());
      } catch (err) {
        const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
        if (e.name === 'TimeoutError' || e.name === 'AbortError') {
          throw new WechatpayError(`${prefix}: no answer from ${where} within ${cfg.timeoutMs} ms`, 'timeout');
        }
        const why = e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
        throw new WechatpayError(`${prefix}: cannot reach ${where} (${why})`, 'network');
      }

      const data = parseJson(bytes);
      const check = verifySigned(
        {
          timestamp: res.headers.get('wechatpay-timestamp') ?? undefined,
          nonce: res.headers.get('wechatpay-nonce') ?? undefined,
          signature: res.headers.get('wechatpay-signature') ?? undefined,
          serial: res.headers.get('wechatpay-serial') ?? undefined,
        },
        bytes,
        verifyKey,
        now(),
      );
      const requestId = res.headers.get('request-id');
      const ref = requestId ? ` (Request-ID ${requestId})` : '';

      if (res.status >= 200 && res.status < 300) {
        if (!check.ok) throw new WechatpayError(`${prefix}: the answer of ${where} is not believed: ${check.reason}${ref}`, 'signature', res.status);
        if (data === null) throw new WechatpayError(`${prefix}: ${where} answered HTTP ${res.status} with a body that is not a JSON object${ref}`, 'format', res.status);
        return { status: res.status, data };
      }

      const { code, message } = errorText(data ?? {});
      const said = code || message ? `: ${[code, message].filter(Boolean).join(' ')}` : '';
      if (check.ok && data !== null) {
        throw new WechatpayError(`${prefix}: WeChat Pay answered HTTP ${res.status}${said}${ref}`, 'api', res.status, code);
      }
      const hint =
        res.status === 401
          ? '; WeChat Pay did not accept the request signature: check mchid, merchantSerialNo and merchantPrivateKey (the key of that certificate), and this server\'s clock'
          : '';
      const unverified = check.ok ? '' : ` (unsigned or not verified: ${check.reason})`;
      throw new WechatpayError(`${prefix}: ${where} answered HTTP ${res.status}${said}${unverified}${hint}${ref}`, 'http', res.status, code);
    },
  };
}
