/**
 * The real-name verification interface that KYC plugins implement (kyc-cn: the 二要素/三要素 APIs).
 * Every method takes one input object and returns one output object, so fields can be added in a
 * minor release. The core owns the rest: the user's KYC status, the sealed ID number, the limit
 * on attempts and the audit of every reveal.
 *
 * ```ts
 * ctx.kycProvider({
 *   id: 'acme',
 *   label: { 'zh-CN': 'Acme 实名认证', en: 'Acme ID check' },
 *   check: ({ idNumber }) => (/^\d{17}[\dX]$/.test(idNumber) ? undefined : { idNumber: 'format' }),
 *   async verify({ requestId, name, idNumber }) {
 *     const answer = await acme.verify({ ref: requestId, name, idNumber });
 *     return answer.match ? { status: 'verified', reference: answer.id } : { status: 'rejected', reason: 'mismatch' };
 *   },
 * });
 * ```
 */
import type { Localized } from './payment.js';

export type KycField = 'name' | 'idNumber' | 'phone';

/** Why a submission is malformed, found before anything is sent anywhere. */
export type KycInvalid = 'format' | 'checksum' | 'birth_date' | 'region';

/** Why the provider did not confirm the person. */
export type KycRejection =
  /** Name and ID number (or phone) do not belong together. */
  | 'mismatch'
  /** The authority has no such ID number. */
  | 'no_record'
  /** Anything else the provider reports; `detail` says what. */
  | 'other';

export interface KycVerifyInput {
  /** Unique per attempt (`kyc-<user>-<attempt>`): the provider's request or order reference. */
  requestId: string;
  userId: number;
  /** As the user typed it, trimmed. */
  name: string;
  /** Upper-cased, without spaces. */
  idNumber: string;
  /** Only for three-factor checks (name, ID number, phone). */
  phone?: string;
}

export type KycVerifyResult =
  | { status: 'verified'; reference?: string }
  | { status: 'rejected'; reason: KycRejection; detail?: string; reference?: string }
  /** The provider could not answer (down, out of credit): nothing is recorded against the user. */
  | { status: 'unavailable'; detail?: string };

export interface KycProvider {
  /** Lowercase letters, digits and dashes; stored with each verification. */
  id: string;
  label: Localized;
  /**
   * Local checks before any call (a checksum, a date of birth): the fields that are wrong, or
   * nothing. A submission that fails them is refused with 400 and costs no attempt.
   */
  check?(input: Omit<KycVerifyInput, 'requestId' | 'userId'>): Partial<Record<KycField, KycInvalid>> | undefined | void;
  verify(input: KycVerifyInput): Promise<KycVerifyResult>;
}
