import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { Secret } from '@cardshop/core';
import { z } from 'zod';

export const DEFAULT_BASE_URL = 'https://api.mch.weixin.qq.com';

/**
 * A PEM from a file, a config value or an environment variable: keys pasted into env vars often
 * arrive with literal `\n` or with CRLF line ends; both are turned back into plain newlines.
 */
export function normalisePem(text: string): string {
  return text.replace(/\\r\\n|\\n/g, '\n').replace(/\r\n?/g, '\n').trim();
}

/** The merchant API private key (apiclient_key.pem): RSA, PKCS#8 or PKCS#1 PEM. */
export function parseMerchantPrivateKey(pem: string): KeyObject | string {
  const text = normalisePem(pem);
  if (!/-----BEGIN (RSA )?PRIVATE KEY-----/.test(text)) {
    return /CERTIFICATE|PUBLIC KEY/.test(text)
      ? 'this is a certificate or public key; use the private key apiclient_key.pem from the merchant API certificate download'
      : 'must be a PEM private key (-----BEGIN PRIVATE KEY----- …), the apiclient_key.pem of the merchant API certificate';
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: text, format: 'pem' });
  } catch {
    return 'is not a readable PEM private key (check that it was copied whole, with its BEGIN and END lines)';
  }
  if (key.asymmetricKeyType !== 'rsa') return `must be an RSA key, got ${key.asymmetricKeyType ?? 'unknown'}`;
  return key;
}

/**
 * The key that verifies WeChat Pay's signatures: the 微信支付公钥 (pub_key.pem, "-----BEGIN PUBLIC
 * KEY-----"), or, for merchants still on platform certificates, the platform certificate's PEM.
 */
export function parsePlatformPublicKey(pem: string): KeyObject | string {
  const text = normalisePem(pem);
  let key: KeyObject;
  try {
    if (/-----BEGIN CERTIFICATE-----/.test(text)) {
      key = new X509Certificate(text).publicKey;
    } else if (/-----BEGIN (RSA )?PUBLIC KEY-----/.test(text)) {
      key = createPublicKey({ key: text, format: 'pem' });
    } else if (/PRIVATE KEY/.test(text)) {
      return 'this is a private key; use the WeChat Pay public key (pub_key.pem) downloaded from 账户中心 → API安全 → 微信支付公钥';
    } else {
      return 'must be a PEM public key (-----BEGIN PUBLIC KEY----- …), the WeChat Pay public key pub_key.pem';
    }
  } catch {
    return 'is not a readable PEM public key or certificate (check that it was copied whole, with its BEGIN and END lines)';
  }
  if (key.asymmetricKeyType !== 'rsa') return `must be an RSA key, got ${key.asymmetricKeyType ?? 'unknown'}`;
  return key;
}

/** "https://api.mch.weixin.qq.com/" → "https://api.mch.weixin.qq.com"; null when not an http(s) URL. */
export function normaliseBaseUrl(input: string): string | null {
  let url: URL;
  try {
    url = new URL(input.trim());
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.username || url.password || url.search || url.hash) return null;
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

const labelSchema = z
  .union([z.string().trim().min(1), z.object({ 'zh-CN': z.string().trim().min(1), en: z.string().trim().min(1) })])
  .transform((l) => (typeof l === 'string' ? { 'zh-CN': l, en: l } : l));

export const settingsSchema = z.object({
  /** 商户号. */
  mchid: z
    .union([z.string(), z.number().int().nonnegative()], { error: 'required: your merchant id (商户号), e.g. 1900000109' })
    .transform((v) => String(v).trim())
    .pipe(z.string().regex(/^\d{6,32}$/, 'must be the merchant id (商户号): digits, e.g. 1900000109'))
    .describe('merchant id / 商户号'),
  /** The AppID bound to the merchant id (公众号, 小程序 or 移动应用). */
  appid: z
    .string({ error: 'required: the AppID bound to your merchant id, e.g. wx8888888888888888' })
    .trim()
    .regex(/^wx[0-9A-Za-z]{6,30}$/, 'must be an AppID bound to the merchant id, e.g. wx8888888888888888')
    .describe('AppID'),
  /** 商户API证书序列号: the serial of the merchant API certificate whose private key signs requests. */
  merchantSerialNo: z
    .string({ error: 'required: the merchant API certificate serial number (商户API证书序列号)' })
    .trim()
    .regex(/^[0-9A-Fa-f]{8,64}$/, 'must be the merchant API certificate serial number (商户API证书序列号), 40 hex digits')
    .transform((v) => v.toUpperCase())
    .describe('merchant API certificate serial number / 商户API证书序列号'),
  /** 商户API私钥 (apiclient_key.pem), PEM. */
  merchantPrivateKey: z
    .string({ error: 'required: the merchant API private key (apiclient_key.pem)' })
    .transform((v, ctx) => {
      const key = parseMerchantPrivateKey(v);
      if (typeof key === 'string') {
        ctx.addIssue({ code: 'custom', message: key });
        return z.NEVER;
      }
      return new Secret(key);
    })
    .describe('merchant API private key / 商户API私钥 (apiclient_key.pem)')
    .meta({ secret: true }),
  /** APIv3密钥: 32 characters, set in 账户中心 → API安全; decrypts callbacks. */
  apiV3Key: z
    .string({ error: 'required: the APIv3 key (APIv3密钥), 32 characters' })
    .refine((v) => Buffer.byteLength(v, 'utf8') === 32, 'must be the APIv3 key (APIv3密钥): exactly 32 characters (not the APIv2 key)')
    .transform((v) => new Secret(v))
    .describe('APIv3 key / APIv3密钥')
    .meta({ secret: true }),
  /** 微信支付公钥 (pub_key.pem), or the platform certificate's PEM for merchants on platform certificates. */
  platformPublicKey: z
    .string({ error: 'required: the WeChat Pay public key (微信支付公钥, pub_key.pem)' })
    .transform((v, ctx) => {
      const key = parsePlatformPublicKey(v);
      if (typeof key === 'string') {
        ctx.addIssue({ code: 'custom', message: key });
        return z.NEVER;
      }
      return key;
    })
    .describe('WeChat Pay public key / 微信支付公钥 (pub_key.pem)'),
  /** 微信支付公钥ID (PUB_KEY_ID_…), or the platform certificate's serial number. */
  platformPublicKeyId: z
    .string({ error: 'required: the WeChat Pay public key id (微信支付公钥ID), PUB_KEY_ID_…' })
    .trim()
    .regex(/^[A-Za-z0-9_]{8,64}$/, 'must be the WeChat Pay public key id (PUB_KEY_ID_…) or a platform certificate serial number')
    .describe('WeChat Pay public key id / 微信支付公钥ID'),
  /** Where the API is; only tests (a local fake) and the backup domain api2.mch.weixin.qq.com change it. */
  baseUrl: z
    .string()
    .transform((v, ctx) => {
      const url = normaliseBaseUrl(v);
      if (url === null) {
        ctx.addIssue({ code: 'custom', message: `"${v}" is not an http(s) URL such as ${DEFAULT_BASE_URL}` });
        return z.NEVER;
      }
      return url;
    })
    .default(DEFAULT_BASE_URL),
  /** The gateway id, the URL segment of /pay/<id>/notify. */
  id: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'lowercase letters, digits and dashes, at most 32')
    .refine((id) => id !== 'wallet', 'the id "wallet" is reserved')
    .default('wechatpay'),
  /** What the buyer sees when choosing how to pay. */
  label: labelSchema.default({ 'zh-CN': '微信支付', en: 'WeChat Pay' }),
  /** Timeout of each call to the WeChat Pay API. */
  timeoutMs: z.number().int().min(100).max(60_000).default(10_000),
  /** Minutes a QR code stays payable (time_expire); unset: WeChat Pay's default. */
  payExpireMinutes: z.number().int().min(1).max(7 * 24 * 60).optional(),
  /**
   * Where WeChat Pay sends refund results. Unset: the shop's notify URL of the last payment this
   * gateway created, or, before any, the refund notify URL configured in the merchant platform.
   */
  refundNotifyUrl: z.url({ protocol: /^https?$/ }).max(256).optional(),
});

export type WechatpaySettingsInput = z.input<typeof settingsSchema>;
export type WechatpaySettings = z.output<typeof settingsSchema>;
