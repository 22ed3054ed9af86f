import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

// N=2^14, r=8, p=1: the scrypt parameters OWASP lists as a minimum; ~30 ms on this machine.
const PARAMS: ScryptOptions = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const KEYLEN = 32;

function scryptAsync(password: string, salt: Buffer, params: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFKC'), salt, KEYLEN, params, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** Returns `scrypt$N$r$p$salt$hash`, so parameters can be raised later without breaking old hashes. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, PARAMS);
  return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64'), hash.toString('base64')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  if (isLegacyHash(stored)) return verifyLegacy(password, stored);
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64'), {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: PARAMS.maxmem,
  });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/**
 * Password hashes brought over by `cardshop import`, each checked once: on the first good login
 * the user's hash is replaced by an scrypt one (agents/users.ts). Stored as
 * `legacy-bcrypt$<$2y$ hash>` (dujiaoka's Laravel admins) or `legacy-acg$<salt>$<sha1 hex>`
 * (acg-faka: sha1(md5(md5(password) . md5(salt))), app/Util/Str.php). Anything malformed,
 * empty salt or hash included, never matches.
 */
export const LEGACY_PREFIXES = ['legacy-bcrypt$', 'legacy-acg$'] as const;
const BCRYPT = /^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;
const SHA1_HEX = /^[0-9a-f]{40}$/;

export const isLegacyHash = (stored: string) => LEGACY_PREFIXES.some((p) => stored.startsWith(p));

const md5 = (s: string) => createHash('md5').update(s, 'utf8').digest('hex');
const LEGACY_PAD_SALT = Buffer.alloc(16);

async function verifyLegacy(password: string, stored: string): Promise<boolean> {
  if (stored.startsWith('legacy-bcrypt$')) {
    const hash = stored.slice('legacy-bcrypt$'.length);
    if (!BCRYPT.test(hash)) return false;
    // PHP writes $2y$, the same algorithm bcryptjs knows as $2b$.
    const { compare } = await import('bcryptjs');
    return compare(password, `$2b$${hash.slice(4)}`);
  }
  // md5 and sha1 take microseconds: an scrypt beside them makes the check cost what ours does, so
  // a login's time does not tell an imported account from any other (or from none).
  const equalise = scryptAsync(password, LEGACY_PAD_SALT, PARAMS);
  const [, salt, hash] = stored.split('$');
  await equalise;
  if (stored.split('$').length !== 3 || !salt || !hash || !SHA1_HEX.test(hash)) return false;
  const actual = Buffer.from(createHash('sha1').update(md5(md5(password) + md5(salt))).digest('hex'));
  return timingSafeEqual(actual, Buffer.from(hash));
}
