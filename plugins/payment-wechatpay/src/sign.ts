/**
 * The cryptography of WeChat Pay API v3 (签名生成, 签名验证, 回调报文解密), on node:crypto alone.
 *
 * - Requests: SHA256withRSA (RSASSA-PKCS1-v1_5) with the merchant API private key over
 *   `METHOD\nURL_PATH_AND_QUERY\nTIMESTAMP\nNONCE\nBODY\n`, sent as
 *   `Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",timestamp="…",serial_no="…"`.
 * - Responses and callbacks: SHA256withRSA with the WeChat Pay public key over
 *   `TIMESTAMP\nNONCE\nBODY\n`, from the Wechatpay-Timestamp, -Nonce, -Signature and -Serial headers.
 * - Callback resources: AEAD_AES_256_GCM with the APIv3 key; `ciphertext` is base64 of the
 *   encrypted bytes followed by the 16-byte tag; `nonce` and `associated_data` are plain strings.
 */
import { createDecipheriv, randomBytes, sign, verify, type KeyObject } from 'node:crypto';

export const AUTH_SCHEMA = 'WECHATPAY2-SHA256-RSA2048';
/** How far a response's or callback's timestamp may be from our clock. */
export const MAX_CLOCK_SKEW_SECONDS = 5 * 60;
/** WeChat Pay sends wrong signatures on purpose now and then (签名探测流量) to see that they are checked. */
export const SIGNATURE_PROBE_PREFIX = 'WECHATPAY/SIGNTEST/';

const GCM_TAG_BYTES = 16;

/** A request nonce: 32 upper-case hex characters, as in the spec's examples. */
export function newNonce(): string {
  return randomBytes(16).toString('hex').toUpperCase();
}

export function unixSeconds(nowMs: number = Date.now()): number {
  return Math.floor(nowMs / 1000);
}

/** The five-line string a request signature covers. `urlPathAndQuery` has no scheme or host. */
export function requestMessage(method: string, urlPathAndQuery: string, timestamp: number | string, nonce: string, body: string): string {
  return `${method.toUpperCase()}\n${urlPathAndQuery}\n${timestamp}\n${nonce}\n${body}\n`;
}

/** The three-line string a response or callback signature covers (an empty body leaves its `\n`). */
export function responseMessage(timestamp: string, nonce: string, body: string | Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${timestamp}\n${nonce}\n`, 'utf8'), typeof body === 'string' ? Buffer.from(body, 'utf8') : body, Buffer.from('\n')]);
}

/** Base64 SHA256withRSA of a message. */
export function rsaSign(message: string | Buffer, privateKey: KeyObject): string {
  return sign('sha256', typeof message === 'string' ? Buffer.from(message, 'utf8') : message, privateKey).toString('base64');
}

/** Checks a base64 SHA256withRSA signature; false for anything malformed, never throws. */
export function rsaVerify(message: string | Buffer, signatureBase64: string, publicKey: KeyObject): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signatureBase64)) return false;
  try {
    return verify('sha256', typeof message === 'string' ? Buffer.from(message, 'utf8') : message, publicKey, Buffer.from(signatureBase64, 'base64'));
  } catch {
    return false;
  }
}

export interface AuthorizationInput {
  mchid: string;
  serialNo: string;
  privateKey: KeyObject;
  method: string;
  urlPathAndQuery: string;
  body: string;
  timestamp?: number;
  nonce?: string;
}

/** The Authorization header value of one request. */
export function authorization(input: AuthorizationInput): string {
  const timestamp = input.timestamp ?? unixSeconds();
  const nonce = input.nonce ?? newNonce();
  const signature = rsaSign(requestMessage(input.method, input.urlPathAndQuery, timestamp, nonce, input.body), input.privateKey);
  return `${AUTH_SCHEMA} mchid="${input.mchid}",nonce_str="${nonce}",signature="${signature}",timestamp="${timestamp}",serial_no="${input.serialNo}"`;
}

export interface SignedHeaders {
  timestamp?: string | undefined;
  nonce?: string | undefined;
  signature?: string | undefined;
  serial?: string | undefined;
}

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

/**
 * Verifies a response or callback: all four headers present, the serial the configured one, the
 * timestamp within five minutes of now, and the signature valid over `TIMESTAMP\nNONCE\nBODY\n`.
 */
export function verifySigned(
  headers: SignedHeaders,
  body: string | Buffer,
  key: { publicKey: KeyObject; serial: string },
  nowMs: number = Date.now(),
): SignatureCheck {
  const { timestamp, nonce, signature, serial } = headers;
  if (!timestamp || !nonce || !signature || !serial) {
    const missing = (['timestamp', 'nonce', 'signature', 'serial'] as const).filter((h) => !headers[h]).map((h) => `Wechatpay-${h[0]!.toUpperCase()}${h.slice(1)}`);
    return { ok: false, reason: `missing ${missing.join(', ')} header${missing.length > 1 ? 's' : ''}` };
  }
  if (serial !== key.serial) {
    return {
      ok: false,
      reason: `signed with key ${serial}, but this gateway is set up with ${key.serial}; if the merchant account moved between platform certificates and the WeChat Pay public key, set platformPublicKey and platformPublicKeyId to the key WeChat Pay signs with`,
    };
  }
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: `malformed Wechatpay-Timestamp ${JSON.stringify(timestamp.slice(0, 20))}` };
  const skew = unixSeconds(nowMs) - Number(timestamp);
  if (skew > MAX_CLOCK_SKEW_SECONDS) return { ok: false, reason: `Wechatpay-Timestamp is ${skew} s old (more than ${MAX_CLOCK_SKEW_SECONDS} s): a replay, or this server's clock is wrong` };
  if (-skew > MAX_CLOCK_SKEW_SECONDS) return { ok: false, reason: `Wechatpay-Timestamp is ${-skew} s in the future: this server's clock is wrong` };
  if (signature.startsWith(SIGNATURE_PROBE_PREFIX)) return { ok: false, reason: 'a signature probe (WECHATPAY/SIGNTEST/), refused as it should be' };
  if (!rsaVerify(responseMessage(timestamp, nonce, body), signature, key.publicKey)) {
    return { ok: false, reason: 'bad signature: the body or headers were changed, or platformPublicKey is not the key of platformPublicKeyId' };
  }
  return { ok: true };
}

export interface EncryptedResource {
  algorithm: string;
  ciphertext: string;
  nonce: string;
  associated_data?: string | undefined;
  original_type?: string | undefined;
}

/** Raw AES-256-GCM open: `data` is the encrypted bytes followed by the 16-byte tag. Throws if it does not authenticate. */
export function aeadOpen(key: Buffer, nonce: Buffer, associatedData: Buffer, data: Buffer): Buffer {
  if (key.length !== 32) throw new Error(`AEAD_AES_256_GCM needs a 32-byte key, got ${key.length}`);
  if (data.length < GCM_TAG_BYTES) throw new Error('ciphertext is shorter than the GCM tag');
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_BYTES });
  decipher.setAAD(associatedData);
  decipher.setAuthTag(data.subarray(data.length - GCM_TAG_BYTES));
  return Buffer.concat([decipher.update(data.subarray(0, data.length - GCM_TAG_BYTES)), decipher.final()]);
}

/** Decrypts a callback's `resource` with the APIv3 key; throws with a reason when it cannot. */
export function decryptResource(resource: EncryptedResource, apiV3Key: string): string {
  if (resource.algorithm !== 'AEAD_AES_256_GCM') throw new Error(`unsupported resource algorithm ${JSON.stringify(resource.algorithm)}`);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(resource.ciphertext)) throw new Error('resource.ciphertext is not base64');
  let plain: Buffer;
  try {
    plain = aeadOpen(
      Buffer.from(apiV3Key, 'utf8'),
      Buffer.from(resource.nonce, 'utf8'),
      Buffer.from(resource.associated_data ?? '', 'utf8'),
      Buffer.from(resource.ciphertext, 'base64'),
    );
  } catch {
    throw new Error('resource did not decrypt: the ciphertext, nonce or associated_data was changed, or apiV3Key is not the APIv3 key of this merchant');
  }
  return plain.toString('utf8');
}
