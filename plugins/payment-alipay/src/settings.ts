import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { Secret } from '@cardshop/core';
import { z } from 'zod';

/** Alipay's production OpenAPI gateway (the v2 `gateway.do` endpoint every trade API goes through). */
export const ALIPAY_GATEWAY = 'https://openapi.alipay.com/gateway.do';
/** The sandbox gateway of the Alipay open platform (沙箱环境), for a sandbox app id and its keys. */
export const ALIPAY_SANDBOX_GATEWAY = 'https://openapi-sandbox.dl.alipaydev.com/gateway.do';

/** Env files and JSON configs often carry a PEM with literal `\n`: make them real line breaks. */
function unescapeNewlines(text: string): string {
  return text.replace(/\\r\\n|\\n/g, '\n').replace(/\r\n/g, '\n').trim();
}

const BARE_BASE64 = /^[A-Za-z0-9+/\r\n]+={0,2}$/;

type KeyRead = { ok: true; key: KeyObject } | { ok: false; message: string };

function checkRsa(key: KeyObject, what: string): KeyRead {
  if (key.asymmetricKeyType !== 'rsa') return { ok: false, message: `${what} is a ${key.asymmetricKeyType ?? 'non-RSA'} key; Alipay RSA2 needs an RSA key` };
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < 2048) return { ok: false, message: `${what} is a ${bits}-bit RSA key; RSA2 needs 2048 bits (the old 1024-bit "RSA" keys are not supported)` };
  return { ok: true, key };
}

/**
 * The app private key (应用私钥) as Alipay's key tool writes it: a PKCS#1 (`RSA PRIVATE KEY`) or
 * PKCS#8 (`PRIVATE KEY`) PEM, or the bare base64 of either without the PEM lines.
 */
export function readPrivateKey(input: string): KeyRead {
  const text = unescapeNewlines(input);
  if (!text) return { ok: false, message: 'required: the app private key (应用私钥)' };
  if (/-----BEGIN (?:RSA )?PUBLIC KEY-----|-----BEGIN CERTIFICATE-----/.test(text)) {
    return { ok: false, message: 'this is a public key or certificate; privateKey must be the app private key (应用私钥)' };
  }
  if (/ENCRYPTED/.test(text)) return { ok: false, message: 'the private key is encrypted with a passphrase; export it without one' };
  try {
    if (text.includes('-----BEGIN')) return checkRsa(createPrivateKey(text), 'privateKey');
    if (!BARE_BASE64.test(text)) return { ok: false, message: 'not a PEM private key nor the base64 of one' };
    const der = Buffer.from(text.replace(/\s+/g, ''), 'base64');
    for (const type of ['pkcs8', 'pkcs1'] as const) {
      try {
        return checkRsa(createPrivateKey({ key: der, format: 'der', type }), 'privateKey');
      } catch {
        // try the other encoding
      }
    }
    return { ok: false, message: 'the base64 is neither a PKCS#8 nor a PKCS#1 RSA private key' };
  } catch (err) {
    return { ok: false, message: `cannot read the private key: ${(err as Error).message}` };
  }
}

/**
 * The Alipay public key (支付宝公钥, not the app public key): an SPKI (`PUBLIC KEY`) or PKCS#1
 * (`RSA PUBLIC KEY`) PEM, or the bare base64 that the open platform shows.
 */
export function readPublicKey(input: string): KeyRead {
  const text = unescapeNewlines(input);
  if (!text) return { ok: false, message: 'required: the Alipay public key (支付宝公钥)' };
  if (text.includes('CERTIFICATE')) {
    return { ok: false, message: 'this is a certificate: the public-key certificate mode (公钥证书模式) is not supported; set the app to the public key mode (公钥模式) and use its Alipay public key' };
  }
  if (/PRIVATE KEY/.test(text)) return { ok: false, message: 'this is a private key; alipayPublicKey must be the Alipay public key (支付宝公钥)' };
  try {
    if (text.includes('-----BEGIN')) return checkRsa(createPublicKey(text), 'alipayPublicKey');
    if (!BARE_BASE64.test(text)) return { ok: false, message: 'not a PEM public key nor the base64 of one' };
    const der = Buffer.from(text.replace(/\s+/g, ''), 'base64');
    for (const type of ['spki', 'pkcs1'] as const) {
      try {
        return checkRsa(createPublicKey({ key: der, format: 'der', type }), 'alipayPublicKey');
      } catch {
        // try the other encoding
      }
    }
    return { ok: false, message: 'the base64 is neither an SPKI nor a PKCS#1 RSA public key' };
  } catch (err) {
    return { ok: false, message: `cannot read the public key: ${(err as Error).message}` };
  }
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * The gateway URL: https (plain http only on the loopback, for a local fake), no credentials, query
 * or fragment. A bare origin gets `/gateway.do`.
 */
export function normaliseGateway(input: string): string | { error: string } {
  let url: URL;
  try {
    url = new URL(input.trim());
  } catch {
    return { error: `"${input}" is not a URL such as ${ALIPAY_GATEWAY}` };
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    return { error: `the gateway must be an https URL (plain http only on 127.0.0.1 for tests), got ${url.protocol}//${url.host}` };
  }
  if (url.username || url.password) return { error: 'the gateway URL must not carry a user name or password' };
  if (url.search || url.hash) return { error: 'the gateway URL must not carry a query string or fragment' };
  const path = url.pathname === '/' || url.pathname === '' ? '/gateway.do' : url.pathname;
  return `${url.protocol}//${url.host}${path}`;
}

const labelSchema = z
  .union([z.string().trim().min(1), z.object({ 'zh-CN': z.string().trim().min(1), en: z.string().trim().min(1) })])
  .transform((l) => (typeof l === 'string' ? { 'zh-CN': l, en: l } : l));

/** How the buyer pays: `page` 电脑网站支付, `wap` 手机网站支付, `qr` 当面付扫码 (precreate), `auto` wap on mobile, page otherwise. */
export const MODES = ['auto', 'page', 'wap', 'qr'] as const;
export type AlipayMode = (typeof MODES)[number];

export const settingsSchema = z
  .object({
    /** The app id (APPID) of the app on the Alipay open platform. */
    appId: z
      .union([z.string(), z.number().int().nonnegative()], { error: 'required: the app id (APPID) from the Alipay open platform' })
      .transform((v) => String(v).trim())
      .pipe(z.string().regex(/^\d{8,32}$/, 'must be the app id (APPID), digits only, e.g. 2021000123456789'))
      .describe('app id / 应用 APPID'),
    /** The app private key (应用私钥): PKCS#1 or PKCS#8, PEM or bare base64. */
    privateKey: z
      .string({ error: 'required: the app private key (应用私钥)' })
      .transform((v, ctx) => {
        const read = readPrivateKey(v);
        if (!read.ok) {
          ctx.addIssue({ code: 'custom', message: read.message });
          return z.NEVER;
        }
        return new Secret(read.key.export({ type: 'pkcs8', format: 'pem' }).toString());
      })
      .describe('app private key / 应用私钥')
      .meta({ secret: true }),
    /** The Alipay public key (支付宝公钥) shown after the app public key was uploaded. */
    alipayPublicKey: z
      .string({ error: 'required: the Alipay public key (支付宝公钥)' })
      .transform((v, ctx) => {
        const read = readPublicKey(v);
        if (!read.ok) {
          ctx.addIssue({ code: 'custom', message: read.message });
          return z.NEVER;
        }
        return read.key.export({ type: 'spki', format: 'pem' }).toString();
      })
      .describe('Alipay public key / 支付宝公钥'),
    /** The OpenAPI gateway; the sandbox's for a sandbox app, a local fake in tests. */
    gateway: z
      .string()
      .default(ALIPAY_GATEWAY)
      .transform((v, ctx) => {
        const url = normaliseGateway(v);
        if (typeof url !== 'string') {
          ctx.addIssue({ code: 'custom', message: url.error });
          return z.NEVER;
        }
        return url;
      })
      .describe('gateway URL / 网关地址'),
    mode: z.enum(MODES).default('auto'),
    /** The gateway id, the URL segment of /pay/<id>/notify. */
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'lowercase letters, digits and dashes, at most 32')
      .refine((id) => id !== 'wallet', 'the id "wallet" is reserved')
      .default('alipay'),
    /** What the buyer sees when choosing how to pay. */
    label: labelSchema.default({ 'zh-CN': '支付宝', en: 'Alipay' }),
    /** Timeout of each call to the gateway, in milliseconds. */
    timeoutMs: z.number().int().min(1000).max(60_000).default(10_000),
    /** The merchant's PID (2088…): when set, notifies for another seller are refused. */
    sellerId: z
      .string()
      .trim()
      .regex(/^2088\d{12}$/, 'must be the merchant PID: 16 digits starting with 2088')
      .optional(),
    /** Minutes the buyer has to pay (timeout_express); Alipay's default when unset (15 days for page pay). */
    expireMinutes: z.number().int().min(1).max(21_600).optional(),
  })
  .superRefine((s, ctx) => {
    // A common mix-up: the app public key pasted where Alipay's public key belongs.
    try {
      const appPublic = createPublicKey(createPrivateKey(s.privateKey.reveal())).export({ type: 'spki', format: 'pem' }).toString();
      if (appPublic === s.alipayPublicKey) {
        ctx.addIssue({
          code: 'custom',
          path: ['alipayPublicKey'],
          message: 'this is the public key of your own app private key (应用公钥); alipayPublicKey must be the Alipay public key (支付宝公钥) shown next to it on the open platform',
        });
      }
    } catch {
      // Reported on the field itself.
    }
  });

export type AlipaySettingsInput = z.input<typeof settingsSchema>;
export type AlipaySettings = z.output<typeof settingsSchema>;
