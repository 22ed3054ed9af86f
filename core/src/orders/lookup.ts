import { randomBytes, randomInt } from 'node:crypto';
import { z } from 'zod';
import type { Deps } from '../context.js';
import { affected } from '../db/dialect.js';
import { fromZod, ShopError } from '../errors.js';
import { hit } from '../security/rate-limit.js';
import { hmacHex, safeEqual } from '../security/keys.js';
import { ORDER_NO } from './numbers.js';
import type { OrderStatus } from './state.js';
import type { Locale } from '../i18n/messages.js';

/**
 * Finding an order without its token link: by order number or by contact, with the order's query
 * password (chosen at checkout) or a one-time code sent to the contact. A wrong answer and an
 * unknown order or contact get the same reply, and every attempt counts against the asking
 * address and against the order or contact asked about, so guessing numbers, contacts or
 * passwords yields nothing. What succeeds is a list of orders the caller may now open; their keys
 * stay on each order's page.
 */

const CONTACT = /^(?:[^\s@]+@[^\s@]+\.[^\s@]+|\+?\d{6,20})$/;
const PER_ADDRESS = { limit: 20, windowMs: 15 * 60_000 };
const PER_TARGET = { limit: 5, windowMs: 60 * 60_000 };
const CODE_TTL_MS = 15 * 60_000;
/** Orders of one contact a look-up reads, newest first. */
const CONTACT_ORDERS = 50;

/** An HMAC of the normalised contact: look-ups by contact hit an index without storing it twice. */
export const contactKey = (deps: Deps, contact: string) => hmacHex(deps.keys.tokens, `contact:${contact.trim().toLowerCase()}`, 16);

export const queryPasswordSchema = z.string().min(4, 'field.query_password').max(64, 'field.too_long');

/**
 * A guest's query password as stored: `hmac$<salt>$<HMAC of salt and password>`, keyed with the
 * shop's secret. Guessing online is rate-limited, and offline it needs the secret as well as the
 * database, so a slow hash (scrypt, ~30 ms a try) would buy nothing but a slow look-up page.
 */
export function hashQueryPassword(deps: Deps, password: string | undefined): string | null {
  if (!password) return null;
  const salt = randomBytes(12).toString('base64url');
  return `hmac$${salt}$${hmacHex(deps.keys.tokens, `query:${salt}:${password.normalize('NFKC')}`, 32)}`;
}

export const lookupSchema = z
  .object({
    /** An order number or the contact given at checkout. */
    q: z.string({ error: 'field.required' }).trim().min(1, 'field.required').max(120, 'field.too_long'),
    password: z.string().max(64, 'field.too_long').optional(),
    code: z.string().trim().max(12, 'field.too_long').optional(),
  })
  .strict();

export interface FoundOrder {
  no: string;
  title: string;
  status: OrderStatus;
  amount: number;
  createdAt: number;
}

const failed = () => new ShopError('lookup_failed', 404, 'error.lookup_failed');
const tooMany = () => new ShopError('too_many_attempts', 429, 'error.too_many_attempts');

/** The same work whether or not there is a hash to check, so timing tells nothing either. */
function passwordMatches(deps: Deps, password: string, stored: string | null): boolean {
  const [, salt, expected] = (stored ?? 'hmac$none$').split('$');
  const actual = hmacHex(deps.keys.tokens, `query:${salt}:${password.normalize('NFKC')}`, 32);
  return safeEqual(actual, expected ?? '') && stored !== null;
}

/** Uses up a one-time code sent to this contact; true once per code. */
async function useCode(deps: Deps, key: string, code: string): Promise<boolean> {
  const codeHash = hmacHex(deps.keys.tokens, `code:${key}:${code}`, 32);
  const n = await deps.db
    .knex('lookup_codes')
    .where({ contact_key: key, code_hash: codeHash, used: false })
    .andWhere('expires_at', '>', deps.now())
    .update({ used: true });
  return affected(n) > 0;
}

export async function lookupOrders(deps: Deps, input: unknown, from: { ip: string }): Promise<FoundOrder[]> {
  const parsed = lookupSchema.safeParse(input);
  if (!parsed.success) throw fromZod(parsed.error);
  const { q, password, code } = parsed.data;
  if (!password && !code) throw new ShopError('validation_failed', 400, 'error.validation_failed', { password: 'field.required' });
  if (!(await hit(deps, 'lookup:ip', from.ip, PER_ADDRESS.limit, PER_ADDRESS.windowMs))) throw tooMany();
  const no = q.toUpperCase();
  const byNumber = ORDER_NO.test(no);
  if (!byNumber && !CONTACT.test(q)) throw failed();
  const target = byNumber ? no : contactKey(deps, q);
  if (!(await hit(deps, byNumber ? 'lookup:order' : 'lookup:contact', target, PER_TARGET.limit, PER_TARGET.windowMs))) throw tooMany();

  const columns = ['no', 'title', 'status', 'amount', 'created_at', 'query_hash', 'contact_key'];
  const rows: Array<{ no: string; title: string; status: OrderStatus; amount: number | string; created_at: number | string; query_hash: string | null; contact_key: string | null }> =
    byNumber
      ? await deps.db.read('orders').where('no', no).select(columns)
      : await deps.db.read('orders').where('contact_key', target).orderBy('id', 'desc').limit(CONTACT_ORDERS).select(columns);
  let found: typeof rows = [];
  if (code) {
    const key = byNumber ? rows[0]?.contact_key : target;
    if (key && (await useCode(deps, key, code))) found = rows;
  } else {
    // Every order's own password: an order without one cannot be opened this way.
    const hashes = rows.length ? rows.map((r) => r.query_hash) : [null];
    const checks = hashes.map((h) => passwordMatches(deps, password!, h));
    found = rows.filter((_, i) => checks[i]);
  }
  if (!found.length) throw failed();
  return found.map((r) => ({ no: r.no, title: r.title, status: r.status, amount: Number(r.amount), createdAt: Number(r.created_at) }));
}

/**
 * Sends a one-time code to a contact through the `lookup.code` hook (a notification plugin
 * delivers it by e-mail or SMS). Answers the same whether or not the contact has orders.
 */
export async function requestLookupCode(deps: Deps, input: unknown, from: { ip: string; locale?: Locale }): Promise<void> {
  const contact = z.object({ q: z.string().trim().min(1, 'field.required').max(120, 'field.too_long') }).safeParse(input);
  if (!contact.success) throw fromZod(contact.error);
  const q = contact.data.q;
  if (!(await hit(deps, 'lookup:ip', from.ip, PER_ADDRESS.limit, PER_ADDRESS.windowMs))) throw tooMany();
  const byNumber = ORDER_NO.test(q.toUpperCase());
  const row = byNumber
    ? await deps.db.read('orders').where('no', q.toUpperCase()).first('contact', 'contact_key')
    : CONTACT.test(q)
      ? await deps.db.read('orders').where('contact_key', contactKey(deps, q)).first('contact', 'contact_key')
      : undefined;
  if (!row?.contact_key || !(await hit(deps, 'lookup:code', row.contact_key, 3, PER_TARGET.windowMs))) return;
  const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
  const expiresAt = deps.now() + CODE_TTL_MS;
  await deps.db.knex('lookup_codes').insert({
    contact_key: row.contact_key,
    code_hash: hmacHex(deps.keys.tokens, `code:${row.contact_key}:${code}`, 32),
    expires_at: expiresAt,
    used: false,
    created_at: deps.now(),
  });
  if (!deps.hooks.has('lookup.code')) deps.log.warn('an order look-up code was asked for, but no plugin listens to lookup.code to send it');
  deps.hooks.emit('lookup.code', { contact: row.contact, code, expiresAt, locale: from.locale });
}

/** Drops used and expired codes (the hourly chore). */
export async function pruneLookupCodes(deps: Deps): Promise<number> {
  return Number(await deps.db.knex('lookup_codes').where('expires_at', '<', deps.now()).orWhere('used', true).delete());
}
