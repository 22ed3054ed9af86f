import { z } from 'zod';
import type { User } from '../agents/users.js';
import { audit } from '../audit/audit.js';
import type { Deps } from '../context.js';
import { affected, transaction } from '../db/dialect.js';
import { errors, ShopError } from '../errors.js';
import type { KycProvider, KycRejection } from '../plugins/kyc.js';
import { decrypt, encrypt, hmacHex } from '../security/keys.js';

/**
 * Each user's real-name verification (实名认证). A KYC plugin offers the provider that checks a
 * person; the core keeps the outcome. Pages and logs see the name and ID number masked; the ID
 * number itself is sealed (AES-GCM) and read only through `revealIdNumber`, which writes an audit
 * row first. Its HMAC fingerprint lets rules recognise one person across accounts without it.
 */

export type KycState = 'none' | 'verified' | 'rejected';

export interface KycStatus {
  userId: number;
  status: KycState;
  /** Masked: `*三`, `1*************123X`, `138****5678`. */
  name: string | null;
  idNumber: string | null;
  phone: string | null;
  provider: string | null;
  /** Why the last attempt was rejected. */
  reason: KycRejection | null;
  verifiedAt: number | null;
  /** HMAC of the last ID number submitted (see `kycFingerprint`); never the number itself. */
  fingerprint: string | null;
}

/** Provider calls cost money and could test whether a name fits an ID number: a few a day per user. */
export const KYC_ATTEMPTS_PER_DAY = 5;
const DAY = 86_400_000;

export const kycSubmitSchema = z
  .object({
    name: z.string({ error: 'field.required' }).trim().min(1, 'field.required').max(40, 'field.too_long'),
    idNumber: z
      .string({ error: 'field.required' })
      .transform((v) => v.replace(/\s+/g, '').toUpperCase())
      .pipe(z.string().min(1, 'field.required').max(32, 'field.too_long').regex(/^[0-9A-Z]+$/, 'kyc.invalid.format')),
    phone: z
      .string()
      .transform((v) => v.replace(/[\s-]+/g, ''))
      .pipe(z.string().regex(/^(?:\+?\d{6,20})?$/, 'field.invalid'))
      .optional(),
  })
  .strict();

/** Keeps the last character: `张三` → `*三`. */
export const maskName = (name: string): string => {
  const chars = [...name];
  return chars.length < 2 ? '*' : '*'.repeat(chars.length - 1) + chars[chars.length - 1];
};

/** Keeps the first and the last four characters: `11010519491231002X` → `1*************002X`. */
export const maskId = (id: string): string => (id.length <= 6 ? '*'.repeat(id.length) : id[0] + '*'.repeat(id.length - 5) + id.slice(-4));

export const maskPhone = (phone: string): string => (phone.length <= 7 ? '*'.repeat(phone.length) : phone.slice(0, 3) + '*'.repeat(phone.length - 7) + phone.slice(-4));

/** The fingerprint of an ID number (as `kycSubmitSchema` normalises it), for matching without storing it. */
export function kycFingerprint(deps: Deps, idNumber: string): string {
  return hmacHex(deps.keys.fingerprint, `kyc-id:${idNumber.replace(/\s+/g, '').toUpperCase()}`, 16);
}

interface KycRow {
  user_id: number;
  status: KycState;
  name_masked: string | null;
  id_masked: string | null;
  id_sealed: string | null;
  id_fingerprint: string | null;
  phone_masked: string | null;
  provider: string | null;
  reason: KycRejection | null;
  verified_at: number | string | null;
}

const toStatus = (userId: number, row: KycRow | undefined): KycStatus => ({
  userId,
  status: row?.status ?? 'none',
  name: row?.name_masked ?? null,
  idNumber: row?.id_masked ?? null,
  phone: row?.phone_masked ?? null,
  provider: row?.provider ?? null,
  reason: row?.reason ?? null,
  verifiedAt: row?.verified_at == null ? null : Number(row.verified_at),
  fingerprint: row?.id_fingerprint ?? null,
});

/** What the user sees of their own status: the fingerprint stays with the shop's rules. */
export const ownKycView = ({ fingerprint: _, ...view }: KycStatus): Omit<KycStatus, 'fingerprint'> => view;

export async function kycStatus(deps: Deps, userId: number): Promise<KycStatus> {
  return toStatus(userId, await deps.db.knex('user_kyc').where('user_id', userId).first());
}

/**
 * Counts an attempt against the user's daily allowance, in one guarded statement: the row only
 * changes while the user is not verified and has attempts left (or the day has turned).
 */
async function takeAttempt(deps: Deps, userId: number): Promise<number> {
  const now = deps.now();
  const knex = deps.db.knex;
  await knex('user_kyc').insert({ user_id: userId, status: 'none', attempts: 0, attempts_since: now, updated_at: now }).onConflict('user_id').ignore();
  const dayOver = now - DAY;
  const n = await knex('user_kyc')
    .where('user_id', userId)
    .andWhereNot('status', 'verified')
    .andWhere((q) => q.where('attempts', '<', KYC_ATTEMPTS_PER_DAY).orWhere('attempts_since', '<', dayOver))
    .update({
      attempts: knex.raw('CASE WHEN attempts_since < ? THEN 1 ELSE attempts + 1 END', [dayOver]),
      attempts_since: knex.raw('CASE WHEN attempts_since < ? THEN ? ELSE attempts_since END', [dayOver, now]),
      updated_at: now,
    });
  if (affected(n) === 1) {
    const row = await knex('user_kyc').where('user_id', userId).first('attempts');
    return Number(row.attempts);
  }
  const row = await knex('user_kyc').where('user_id', userId).first('status');
  if (row?.status === 'verified') throw new ShopError('kyc_verified', 409, 'error.kyc_verified');
  throw new ShopError('kyc_attempts', 429, 'error.kyc_attempts', undefined, { max: KYC_ATTEMPTS_PER_DAY });
}

/**
 * A user submits name, ID number and optionally phone: checked here and by the provider's local
 * checks (400 naming the field, nothing written), then one attempt is counted and the provider
 * asked; its answer is recorded. A verified user stays verified: a later answer never overwrites it.
 */
export async function submitKyc(deps: Deps, provider: KycProvider | undefined, user: User, input: unknown): Promise<KycStatus> {
  if (!provider) throw new ShopError('kyc_not_offered', 404, 'error.kyc_not_offered');
  const { name, idNumber, phone } = kycSubmitSchema.parse(input);
  const invalid = provider.check?.({ name, idNumber, phone: phone || undefined });
  if (invalid && Object.keys(invalid).length) {
    throw errors.validation(Object.fromEntries(Object.entries(invalid).map(([field, why]) => [field, `kyc.invalid.${why}`])));
  }
  const attempt = await takeAttempt(deps, user.id);
  let result;
  try {
    result = await provider.verify({ requestId: `kyc-${user.id}-${deps.now()}-${attempt}`, userId: user.id, name, idNumber, phone: phone || undefined });
  } catch (err) {
    deps.log.error(`kyc provider ${provider.id} failed for user ${user.id}`, err);
    result = { status: 'unavailable' as const };
  }
  if (result.status === 'unavailable') {
    if (result.detail) deps.log.warn(`kyc provider ${provider.id} unavailable: ${result.detail}`);
    throw new ShopError('kyc_unavailable', 503, 'error.kyc_unavailable');
  }
  const now = deps.now();
  const verified = result.status === 'verified';
  const n = await deps.db
    .knex('user_kyc')
    .where('user_id', user.id)
    .andWhereNot('status', 'verified')
    .update({
      status: verified ? 'verified' : 'rejected',
      name_masked: maskName(name),
      id_masked: maskId(idNumber),
      id_sealed: encrypt(deps.keys.encryption, idNumber),
      id_fingerprint: kycFingerprint(deps, idNumber),
      phone_masked: phone ? maskPhone(phone) : null,
      provider: provider.id,
      reason: result.status === 'rejected' ? result.reason : null,
      detail: result.status === 'rejected' ? result.detail?.slice(0, 255) || null : null,
      reference: result.reference?.slice(0, 128) ?? null,
      verified_at: verified ? now : null,
      updated_at: now,
    });
  // Zero rows: a parallel attempt of the same user was verified first, and that stands.
  if (affected(n) === 0) deps.log.info(`kyc: user ${user.id} was verified meanwhile; this attempt's answer is not recorded`);
  return kycStatus(deps, user.id);
}

/**
 * An admin reads a user's full ID number. The audit row is written first, in the same transaction
 * as the read: there is no reveal without its record.
 */
export async function revealIdNumber(deps: Deps, input: { userId: number; actorId: number; reason: string; ip?: string }): Promise<string> {
  const reason = input.reason.trim();
  if (!reason) throw errors.validation({ reason: 'field.required' });
  return transaction(deps.db, async (trx) => {
    const row = await trx('user_kyc').where('user_id', input.userId).first('id_sealed', 'id_masked');
    if (!row?.id_sealed) throw errors.notFound();
    await audit(deps, trx, {
      actorId: input.actorId,
      action: 'kyc.reveal',
      targetType: 'user',
      targetId: input.userId,
      after: { idNumber: row.id_masked, reason: reason.slice(0, 255) },
      ip: input.ip,
    });
    return decrypt(deps.keys.encryption, row.id_sealed);
  });
}
