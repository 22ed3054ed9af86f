import { createHash, createHmac, randomBytes } from 'node:crypto';
import { audit } from '../audit/audit.js';
import type { Deps } from '../context.js';
import { isUniqueViolation, transaction } from '../db/dialect.js';
import { errors, ShopError } from '../errors.js';
import type { MessageKey } from '../i18n/messages.js';
import { decrypt, encrypt, randomToken, safeEqual } from '../security/keys.js';
import type { User } from './users.js';

/**
 * API keys for the Agent API (/api/v1) and the request signing of DESIGN.md: headers
 * `X-Cardshop-Key` (key id), `X-Cardshop-Timestamp` (unix seconds), `X-Cardshop-Nonce` and
 * `X-Cardshop-Signature` = hex HMAC-SHA256(secret, METHOD \n PATH_AND_QUERY \n TIMESTAMP \n NONCE \n
 * hex SHA-256 of the raw body). Outgoing webhooks are signed the same way with the key that placed
 * the order. The shop must compute the HMAC itself, so the secret is stored sealed (AES-256-GCM),
 * not hashed; it is shown once, when the key is made.
 */

/** A timestamp further than this from the shop's clock is refused (seconds). */
export const SIGNATURE_WINDOW_S = 300;
const MAX_KEYS_PER_USER = 20;

export interface ApiCredentials {
  key: string;
  secret: string;
}

// A type, not an interface, so it passes where a headers record is expected.
export type SignedHeaders = {
  'x-cardshop-key': string;
  'x-cardshop-timestamp': string;
  'x-cardshop-nonce': string;
  'x-cardshop-signature': string;
};

/** The signature of one request; `body` is the raw body exactly as sent ('' for none). */
export function signature(secret: string, parts: { method: string; path: string; timestamp: string; nonce: string; body: string }): string {
  const bodyHash = createHash('sha256').update(parts.body, 'utf8').digest('hex');
  return createHmac('sha256', secret).update([parts.method.toUpperCase(), parts.path, parts.timestamp, parts.nonce, bodyHash].join('\n')).digest('hex');
}

/** Headers that sign a request (an API call or a webhook); `path` is the path with its query string. */
export function signRequest(credentials: ApiCredentials, req: { method: string; path: string; body?: string }, now = Date.now()): SignedHeaders {
  const timestamp = String(Math.floor(now / 1000));
  const nonce = randomBytes(16).toString('hex');
  return {
    'x-cardshop-key': credentials.key,
    'x-cardshop-timestamp': timestamp,
    'x-cardshop-nonce': nonce,
    'x-cardshop-signature': signature(credentials.secret, { method: req.method, path: req.path, timestamp, nonce, body: req.body ?? '' }),
  };
}

export interface ApiKeyView {
  key: string;
  label: string | null;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

/** Makes a key for a user; the secret is in the answer and nowhere else in clear. */
export async function createApiKey(deps: Deps, userId: number, label?: string): Promise<ApiCredentials & { label: string | null }> {
  const name = label?.trim().slice(0, 80) || null;
  const active = await deps.db.knex('api_keys').where('user_id', userId).whereNull('revoked_at').count({ n: '*' }).first();
  if (Number(active?.n ?? 0) >= MAX_KEYS_PER_USER) throw new ShopError('too_many_keys', 409, 'error.api_key_limit', undefined, { max: MAX_KEYS_PER_USER });
  const secret = `cs_${randomToken(32)}`;
  for (;;) {
    const key = `ck_${randomToken(12)}`;
    try {
      await deps.db.knex('api_keys').insert({ key, user_id: userId, secret: encrypt(deps.keys.encryption, secret), label: name, created_at: deps.now() });
      return { key, secret, label: name };
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
  }
}

export async function listApiKeys(deps: Deps, userId: number): Promise<ApiKeyView[]> {
  const rows = await deps.db.read('api_keys').where('user_id', userId).orderBy('id', 'desc');
  return rows.map((r: Record<string, unknown>) => ({
    key: String(r.key),
    label: (r.label as string | null) ?? null,
    createdAt: Number(r.created_at),
    lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
    revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
  }));
}

/**
 * Revokes one of the user's keys (by the user, or by an admin: `actor`), audited; requests signed
 * with it are refused from now on.
 */
export async function revokeApiKey(deps: Deps, userId: number, key: string, actor: { id: number; ip?: string } = { id: userId }): Promise<void> {
  await transaction(deps.db, async (trx) => {
    const n = await trx('api_keys').where({ user_id: userId, key }).whereNull('revoked_at').update({ revoked_at: deps.now() });
    if (!n) throw errors.notFound();
    await audit(deps, trx, { actorId: actor.id, action: 'apikey.revoke', targetType: 'user', targetId: userId, after: { key }, ip: actor.ip });
  });
  cacheOf(deps).delete(key);
}

interface KeyEntry {
  id: number;
  secret: string;
  user: User;
  until: number;
}

// Keys seen in the last few seconds: an integrator's burst costs one lookup. A revocation in this
// process drops the entry at once; one made by another process (MySQL) counts within KEY_CACHE_MS.
const KEY_CACHE_MS = 5000;
const keyCache = new WeakMap<object, Map<string, KeyEntry>>();

function cacheOf(deps: Deps): Map<string, KeyEntry> {
  let cache = keyCache.get(deps.db);
  if (!cache) keyCache.set(deps.db, (cache = new Map()));
  return cache;
}

async function activeKey(deps: Deps, key: string): Promise<KeyEntry | undefined> {
  const cache = cacheOf(deps);
  const hit = cache.get(key);
  if (hit && hit.until > deps.now()) return hit;
  const row = await deps.db
    .read('api_keys')
    .join('users', 'users.id', 'api_keys.user_id')
    .where('api_keys.key', key)
    .whereNull('api_keys.revoked_at')
    .andWhere('users.disabled', false)
    .first('api_keys.id', 'api_keys.secret', 'users.id as user_id', 'users.email', 'users.role', 'users.display_name');
  if (!row) {
    cache.delete(key);
    return undefined;
  }
  const entry: KeyEntry = {
    id: Number(row.id),
    secret: decrypt(deps.keys.encryption, row.secret),
    user: { id: Number(row.user_id), email: row.email, role: row.role, displayName: row.display_name },
    until: deps.now() + KEY_CACHE_MS,
  };
  if (cache.size >= 10_000) cache.delete(cache.keys().next().value!);
  cache.set(key, entry);
  // Once per cache period, not per request: "last used" to the nearest few seconds is enough.
  await deps.db.knex('api_keys').where('id', entry.id).update({ last_used_at: deps.now() });
  return entry;
}

const unauthorized = (code: string, key: MessageKey) => new ShopError(code, 401, key);

/**
 * Checks a signed request and returns who sent it. Refused with 401 and a code: `signature_required`
 * (headers missing), `invalid_key` (unknown, revoked, or its user disabled), `stale_timestamp` (more
 * than 300 s off), `bad_signature`, `nonce_reused` (the nonce was seen within the window: the
 * nonces table is shared by every app process).
 */
export async function verifyRequest(
  deps: Deps,
  req: { method: string; path: string; headers: Record<string, string | string[] | undefined>; body: string },
): Promise<{ user: User; apiKeyId: number; key: string }> {
  const header = (name: string) => {
    const v = req.headers[name];
    return typeof v === 'string' ? v.trim() : '';
  };
  const key = header('x-cardshop-key');
  const timestamp = header('x-cardshop-timestamp');
  const nonce = header('x-cardshop-nonce');
  const sent = header('x-cardshop-signature').toLowerCase();
  if (!key || !timestamp || !nonce || !sent) throw unauthorized('signature_required', 'error.api_signature_required');
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(deps.now() / 1000 - Number(timestamp)) > SIGNATURE_WINDOW_S) {
    throw unauthorized('stale_timestamp', 'error.api_stale_timestamp');
  }
  if (!/^[A-Za-z0-9_-]{8,64}$/.test(nonce)) throw unauthorized('bad_signature', 'error.api_bad_signature');
  const entry = key.length <= 40 ? await activeKey(deps, key) : undefined;
  if (!entry) throw unauthorized('invalid_key', 'error.api_invalid_key');
  const expected = signature(entry.secret, { method: req.method, path: req.path, timestamp, nonce, body: req.body });
  if (!safeEqual(sent, expected)) throw unauthorized('bad_signature', 'error.api_bad_signature');
  // Checked last, so requests that do not verify cannot fill the table.
  try {
    await deps.db.knex('api_nonces').insert({ key, nonce, expires_at: deps.now() + 2 * SIGNATURE_WINDOW_S * 1000 });
  } catch (err) {
    if (isUniqueViolation(err)) throw unauthorized('nonce_reused', 'error.api_nonce_reused');
    throw err;
  }
  return { user: entry.user, apiKeyId: entry.id, key };
}

/** The credentials of the key that placed an order, to sign its webhooks; undefined once revoked. */
export async function credentialsOf(deps: Deps, apiKeyId: number): Promise<ApiCredentials | undefined> {
  const row = await deps.db.knex('api_keys').where('id', apiKeyId).whereNull('revoked_at').first('key', 'secret');
  return row ? { key: row.key, secret: decrypt(deps.keys.encryption, row.secret) } : undefined;
}

/** Deletes nonces past the window; the shop runs it every minute. */
export async function pruneNonces(deps: Deps): Promise<number> {
  return deps.db.knex('api_nonces').where('expires_at', '<', deps.now()).delete();
}
