import { describe, expect, it } from 'vitest';
import { decrypt, deriveKeys, encrypt, hmacHex } from './keys.js';
import { hashPassword, verifyPassword } from './password.js';

describe('keys', () => {
  const keys = deriveKeys('x'.repeat(40));

  it('derives different keys per purpose and per secret', () => {
    expect(keys.encryption.equals(keys.fingerprint)).toBe(false);
    expect(deriveKeys('y'.repeat(40)).encryption.equals(keys.encryption)).toBe(false);
  });

  it('round-trips AES-GCM with a fresh IV each time', () => {
    const a = encrypt(keys.encryption, 'CARD-1234,PW-5678');
    const b = encrypt(keys.encryption, 'CARD-1234,PW-5678');
    expect(a).not.toBe(b);
    expect(a).not.toContain('CARD');
    expect(decrypt(keys.encryption, a)).toBe('CARD-1234,PW-5678');
  });

  it('refuses tampered ciphertext', () => {
    const sealed = Buffer.from(encrypt(keys.encryption, 'secret'), 'base64');
    sealed[sealed.length - 1]! ^= 1;
    expect(() => decrypt(keys.encryption, sealed.toString('base64'))).toThrow();
  });

  it('fingerprints deterministically', () => {
    expect(hmacHex(keys.fingerprint, 'k', 16)).toBe(hmacHex(keys.fingerprint, 'k', 16));
    expect(hmacHex(keys.fingerprint, 'k', 16)).toHaveLength(32);
  });
});

describe('password', () => {
  it('verifies the right password only', async () => {
    const stored = await hashPassword('correct horse');
    expect(stored.startsWith('scrypt$16384$8$1$')).toBe(true);
    expect(await verifyPassword('correct horse', stored)).toBe(true);
    expect(await verifyPassword('wrong horse', stored)).toBe(false);
    expect(await verifyPassword('x', 'garbage')).toBe(false);
  });
});
