import { createHash } from 'node:crypto';
import { z } from 'zod';
import { audit } from '../audit/audit.js';
import type { Deps } from '../context.js';
import { affected, isUniqueViolation, transaction } from '../db/dialect.js';
import { errors, ShopError } from '../errors.js';
import { randomToken } from '../security/keys.js';
import { hashPassword, isLegacyHash, verifyPassword } from '../security/password.js';
import { hit, unhit } from '../security/rate-limit.js';
import { walletAccountId } from '../wallet/ledger.js';

/** `staff` may use the console's orders and inventory pages only (http/admin-layout.ts). */
export const ROLES = ['customer', 'agent', 'staff', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface User {
  id: number;
  email: string;
  role: Role;
  displayName: string | null;
}

export const credentialsSchema = z.object({
  email: z
    .string({ error: 'field.required' })
    .trim()
    .toLowerCase()
    .max(254, 'field.too_long')
    .regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'field.email'),
  password: z.string({ error: 'field.required' }).min(8, 'field.password_short').max(200, 'field.too_long'),
});

export const loginSchema = z.object({
  email: z.string({ error: 'field.required' }).trim().min(1, 'field.required').max(254, 'field.too_long'),
  password: z.string({ error: 'field.required' }).min(1, 'field.required').max(200, 'field.too_long'),
});

const SESSION_DAYS = 30;

const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

function toUser(row: { id: number; email: string; role: Role; display_name: string | null }): User {
  return { id: row.id, email: row.email, role: row.role, displayName: row.display_name };
}

/** Creates a user and its wallet account in one transaction. */
export async function createUser(
  deps: Deps,
  input: { email: string; password: string; role?: Role; displayName?: string; uplineId?: number | null },
): Promise<User> {
  const { email, password } = credentialsSchema.parse(input);
  const role = input.role ?? 'customer';
  const passwordHash = await hashPassword(password);
  try {
    return await transaction(deps.db, async (trx) => {
      const [id] = await trx('users').insert({
        email,
        password_hash: passwordHash,
        role,
        display_name: input.displayName ?? null,
        disabled: false,
        // The agent who invited the user (or whose sub-shop it registered on).
        upline_id: input.uplineId ?? null,
        created_at: deps.now(),
      });
      await walletAccountId(deps, trx, Number(id));
      return { id: Number(id), email, role, displayName: input.displayName ?? null };
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new ShopError('email_taken', 409, 'error.email_taken', { email: 'error.email_taken' });
    throw err;
  }
}


// Compared against when the e-mail is unknown, so a login takes as long either way.
let dummyHash: Promise<string> | undefined;

/**
 * Guessing passwords: every attempt counts against the asking address and the e-mail asked about,
 * and a successful one takes its count back, so only failures add up (an office behind one address
 * signing in all day is not refused). Over a limit, the password is not even checked.
 */
export const LOGIN_LIMITS = { ip: 30, account: 10, windowMs: 15 * 60_000 };

export async function authenticate(deps: Deps, email: string, password: string, from: { ip: string }): Promise<User> {
  const account = email.trim().toLowerCase();
  const counted: Array<[string, string]> = [];
  for (const [scope, value, limit] of [['login:ip', from.ip, LOGIN_LIMITS.ip], ['login:account', account, LOGIN_LIMITS.account]] as const) {
    counted.push([scope, value]);
    if (!(await hit(deps, scope, value, limit, LOGIN_LIMITS.windowMs))) {
      throw new ShopError('too_many_attempts', 429, 'security.too_many_logins', undefined, { minutes: LOGIN_LIMITS.windowMs / 60_000 });
    }
  }
  const row = await deps.db.knex('users').where('email', account).first();
  const ok = await verifyPassword(password, row?.password_hash ?? (await (dummyHash ??= hashPassword('dummy-password'))));
  if (!row || !ok) throw new ShopError('invalid_credentials', 401, 'error.invalid_credentials');
  // An imported shop's hash is used once: the first good login replaces it with ours.
  if (isLegacyHash(row.password_hash)) {
    await deps.db.knex('users').where({ id: row.id, password_hash: row.password_hash }).update({ password_hash: await hashPassword(password) });
  }
  for (const [scope, value] of counted) await unhit(deps, scope, value, LOGIN_LIMITS.windowMs);
  if (row.disabled) throw new ShopError('account_disabled', 403, 'error.account_disabled');
  return toUser(row);
}

export async function findUserByEmail(deps: Deps, email: string): Promise<User | undefined> {
  const row = await deps.db.knex('users').where('email', email.trim().toLowerCase()).first();
  return row ? toUser(row) : undefined;
}

/** Starts a session; the token goes into a signed cookie, only its hash into the database. */
export async function createSession(deps: Deps, userId: number): Promise<string> {
  const token = randomToken(32);
  const now = deps.now();
  await deps.db.knex('sessions').insert({
    id: hashToken(token),
    user_id: userId,
    created_at: now,
    expires_at: now + SESSION_DAYS * 86_400_000,
  });
  return token;
}

/**
 * Sessions seen in the last few seconds, so a buyer clicking through pages (or a script placing
 * orders) costs no session query per request. Logging out here drops the entry at once; a logout
 * or a disabled account elsewhere (another app process on MySQL) takes effect within SESSION_CACHE_MS.
 */
const SESSION_CACHE_MS = 5000;
const SESSION_CACHE_MAX = 10_000;
const sessionCache = new WeakMap<object, Map<string, { user: User; until: number }>>();

function cacheOf(deps: Deps) {
  let cache = sessionCache.get(deps.db);
  if (!cache) sessionCache.set(deps.db, (cache = new Map()));
  return cache;
}

export async function userForSession(deps: Deps, token: string): Promise<User | undefined> {
  const id = hashToken(token);
  const cache = cacheOf(deps);
  const now = deps.now();
  const hit = cache.get(id);
  if (hit && hit.until > now) return hit.user;
  const row = await deps.db
    .read('sessions')
    .join('users', 'users.id', 'sessions.user_id')
    .where('sessions.id', id)
    .andWhere('sessions.expires_at', '>', now)
    .andWhere('users.disabled', false)
    .first('users.id', 'users.email', 'users.role', 'users.display_name', 'sessions.expires_at');
  if (!row) {
    cache.delete(id);
    return undefined;
  }
  if (cache.size >= SESSION_CACHE_MAX) cache.delete(cache.keys().next().value!); // oldest first
  cache.set(id, { user: toUser(row), until: Math.min(now + SESSION_CACHE_MS, Number(row.expires_at)) });
  return toUser(row);
}

/** Drops a user's cached sessions after its role changed, so this process sees the change at once. */
export function forgetUser(deps: Deps, userId: number): void {
  const cache = cacheOf(deps);
  for (const [id, entry] of cache) if (entry.user.id === userId) cache.delete(id);
}

const CONSOLE_TOUCH_MS = 15_000;
const consoleSeen = new WeakMap<object, Map<string, number>>();

/**
 * The console's idle timeout: marks the session as used on the console now, unless it has been idle
 * there (since its last console request, or since login) for `idleMs`. One guarded UPDATE decides,
 * so every app process agrees. A session that timed out is ended; answers whether it may go on.
 */
export async function touchConsole(deps: Deps, token: string, idleMs: number): Promise<boolean> {
  const id = hashToken(token);
  const now = deps.now();
  // A page and the next within a few seconds cost one write, not two.
  const seen = consoleSeen.get(deps.db) ?? new Map<string, number>();
  consoleSeen.set(deps.db, seen);
  if (now - (seen.get(id) ?? -Infinity) < Math.min(CONSOLE_TOUCH_MS, idleMs / 4)) return true;
  const fresh = await deps.db
    .knex('sessions')
    .where('id', id)
    .andWhere((q) => q.where('console_seen_at', '>=', now - idleMs).orWhere((w) => w.whereNull('console_seen_at').andWhere('created_at', '>=', now - idleMs)))
    .update({ console_seen_at: now });
  if (affected(fresh)) {
    if (seen.size >= SESSION_CACHE_MAX) seen.clear();
    seen.set(id, now);
    return true;
  }
  seen.delete(id);
  await destroySession(deps, token);
  return false;
}

/**
 * Disables or enables an account, audited. A disabled user cannot log in, its sessions and API keys
 * stop working (at once in this process, within seconds elsewhere), and its orders stay as they are.
 */
export async function setUserDisabled(deps: Deps, input: { userId: number; disabled: boolean; actorId: number; ip?: string }): Promise<void> {
  if (input.userId === input.actorId) throw errors.validation({ disabled: 'field.not_yourself' });
  await transaction(deps.db, async (trx) => {
    const n = affected(await trx('users').where('id', input.userId).andWhere('disabled', !input.disabled).update({ disabled: input.disabled }));
    if (!n) {
      if (!(await trx('users').where('id', input.userId).first('id'))) throw errors.notFound();
      return; // already so
    }
    await audit(deps, trx, {
      actorId: input.actorId,
      action: input.disabled ? 'user.disable' : 'user.enable',
      targetType: 'user',
      targetId: input.userId,
      before: { disabled: !input.disabled },
      after: { disabled: input.disabled },
      ip: input.ip,
    });
  });
  forgetUser(deps, input.userId);
}

export async function destroySession(deps: Deps, token: string): Promise<void> {
  cacheOf(deps).delete(hashToken(token));
  await deps.db.knex('sessions').where('id', hashToken(token)).delete();
}

/** Deletes expired sessions; the shop runs it at start and every hour. */
export async function pruneSessions(deps: Deps): Promise<number> {
  return deps.db.knex('sessions').where('expires_at', '<=', deps.now()).delete();
}

export async function requireUser(deps: Deps, id: number): Promise<User> {
  const row = await deps.db.knex('users').where('id', id).first();
  if (!row) throw errors.notFound();
  return toUser(row);
}

/** An account as the console shows it. */
export async function userForAdmin(deps: Deps, id: number) {
  const row = await deps.db.read('users').where('id', id).first('id', 'email', 'role', 'display_name', 'disabled', 'upline_id', 'spend_total', 'created_at');
  if (!row) throw errors.notFound();
  return {
    ...toUser(row),
    disabled: Boolean(row.disabled),
    uplineId: row.upline_id === null ? null : Number(row.upline_id),
    spendTotal: Number(row.spend_total),
    createdAt: Number(row.created_at),
  };
}
