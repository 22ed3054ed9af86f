import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

/** Keys derived from the one master secret, each for one purpose, so none is reused across uses. */
export interface ShopKeys {
  /** AES-256-GCM key for card keys and other secrets at rest. */
  readonly encryption: Buffer;
  /** HMAC key for card-key fingerprints (dedupe without decrypting). */
  readonly fingerprint: Buffer;
  /** Keys koa signs cookies with. */
  readonly cookies: string[];
  /** HMAC key for CSRF tokens and guest order tokens. */
  readonly tokens: Buffer;
}

function derive(secret: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'cardshop/v1', purpose, 32));
}

export function deriveKeys(secret: string): ShopKeys {
  return {
    encryption: derive(secret, 'encryption'),
    fingerprint: derive(secret, 'fingerprint'),
    cookies: [derive(secret, 'cookies').toString('base64url')],
    tokens: derive(secret, 'tokens'),
  };
}

/** A plugin's own keys (plugins/define.ts `crypto`): no plugin can open the core's secrets or another plugin's. */
export function derivePluginKeys(secret: string, plugin: string): { encryption: Buffer; fingerprint: Buffer } {
  return { encryption: derive(secret, `plugin:${plugin}:encryption`), fingerprint: derive(secret, `plugin:${plugin}:fingerprint`) };
}

export const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Encrypts text as base64(iv | tag | ciphertext). The IV must never repeat under one key: it is
 * fresh random bytes, drawn here or by a caller that draws many at once.
 */
export function encrypt(key: Buffer, plaintext: string, iv: Buffer = randomBytes(IV_BYTES)): string {
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
}

export function decrypt(key: Buffer, sealed: string): string {
  const raw = Buffer.from(sealed, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
  decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
}

export function hmacHex(key: Buffer, data: string, bytes = 32): string {
  return createHmac('sha256', key).update(data).digest().subarray(0, bytes).toString('hex');
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

// Drawn 4 KiB at a time (a fresh buffer each time, never refilled in place): one call into the
// CSPRNG per hundred tokens instead of one per token, which shows on the checkout's hot path.
let pool = Buffer.alloc(0);
let poolAt = 0;

/** `n` bytes from the CSPRNG, never handed out twice. */
export function randomPooled(n: number): Buffer {
  if (n > 256) return randomBytes(n);
  if (poolAt + n > pool.length) {
    pool = randomBytes(4096);
    poolAt = 0;
  }
  return pool.subarray(poolAt, (poolAt += n));
}

export function randomToken(bytes = 24): string {
  return randomPooled(bytes).toString('base64url');
}
