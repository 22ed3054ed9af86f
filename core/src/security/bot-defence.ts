import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { Deps } from '../context.js';
import { isUniqueViolation } from '../db/dialect.js';
import { ShopError } from '../errors.js';
import { captchaImage } from './captcha-svg.js';
import { safeEqual } from './keys.js';

/**
 * Bot defence on the forms bots fill: a guest's checkout and registration. The core asks a
 * `BotDefence` for a challenge to put in the form and to verify what the form sends back. A
 * plugin may provide one (a captcha service: `ctx.botDefence(…)`); the built-in one needs no third
 * party: a proof of work the browser solves in script (find a nonce such that SHA-256 of
 * `token:nonce` starts with `bits` zero bits; about a second at 18 bits), and, for browsers without
 * script, a sum drawn as SVG to type (configurable: `botDefence.fallback`).
 *
 * Challenges are signed tokens (HMAC, with their purpose and expiry inside), so issuing one writes
 * nothing; a solved one is recorded once in `challenge_uses` (its primary key), so it works once
 * in every app process. Verifying costs one HMAC, one SHA-256 and that one insert.
 */

export type ChallengePurpose = 'checkout' | 'register';
export const CHALLENGE_PURPOSES: readonly ChallengePurpose[] = ['checkout', 'register'];

/** What a form needs to show a challenge, for the page and the Store API (`GET /api/store/challenge`). */
export interface ChallengeView {
  /** The BotDefence that issued it. */
  provider: string;
  purpose: ChallengePurpose;
  /** `pow` (solved by the script), `captcha` (typed by a person), or a plugin's own kind. */
  kind: string;
  /** The script that solves or shows it; the page loads it (`<script src>`). */
  script: string | null;
  /** What the answer is built on (`pow`: the answer is `token:nonce`). */
  token: string | null;
  /** `pow`: leading zero bits SHA-256(`token:nonce`) must have. */
  bits: number | null;
  expiresAt: number;
  /** Without script: a picture of a sum, whose answer is sent as `token:answer` (HTML forms: `captchaToken`, `captchaAnswer`). */
  fallback: { kind: 'captcha'; token: string; image: string } | null;
}

export type ChallengeRefusal = 'missing' | 'wrong' | 'expired' | 'reused' | 'unavailable';

export interface BotDefence {
  /** Lowercase letters, digits and dashes. */
  id: string;
  /** A fresh challenge for a form about to be shown or an app about to submit one. */
  challenge(input: { purpose: ChallengePurpose; ip: string | null }): ChallengeView | Promise<ChallengeView>;
  /** Checks the form's `challenge` field; a refusal names why. */
  verify(input: { purpose: ChallengePurpose; answer: string | undefined; ip: string | null }): Promise<{ ok: true } | { ok: false; reason: ChallengeRefusal }>;
}

const POW = 'p1';
const CAPTCHA = 'c1';

const b64 = (buf: Buffer) => buf.toString('base64url');

/** Leading zero bits of a digest. */
function zeroBits(digest: Buffer): number {
  let bits = 0;
  for (const byte of digest) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

/** The sum a captcha token stands for, derived from its salt with the shop's key: nothing to store. */
function captchaQuestion(key: Buffer, salt: string): { question: string; answer: number } {
  const h = createHmac('sha256', key).update(`captcha:${salt}`).digest();
  const a = 10 + (h[0]! % 40);
  const b = 1 + (h[1]! % 9);
  return h[2]! % 2 ? { question: `${a} + ${b} = ?`, answer: a + b } : { question: `${a} - ${b} = ?`, answer: a - b };
}

export interface BuiltInOptions {
  bits: number;
  minutes: number;
  fallback: 'captcha' | 'none';
  /** Where the core serves the solver (http/challenge.ts). */
  script: string;
}

/** The core's proof-of-work defence, with the SVG sum as its fallback. */
export function proofOfWork(deps: Deps, opts: BuiltInOptions): BotDefence {
  const key = createHmac('sha256', deps.keys.tokens).update('bot-defence').digest();
  const sign = (body: string) => b64(createHmac('sha256', key).update(body).digest().subarray(0, 16));
  const issue = (kind: string, purpose: ChallengePurpose, expiresAt: number, extra: string[] = []) => {
    const body = [kind, purpose, expiresAt.toString(36), ...extra, b64(randomBytes(12))].join('.');
    return `${body}.${sign(body)}`;
  };

  /** Records a solved challenge; false if it was used already. */
  async function consume(token: string, expiresAt: number): Promise<boolean> {
    try {
      await deps.db.knex('challenge_uses').insert({ id: createHash('sha256').update(token).digest('hex'), expires_at: expiresAt });
      return true;
    } catch (err) {
      if (isUniqueViolation(err)) return false;
      throw err;
    }
  }

  return {
    id: 'pow',
    challenge({ purpose }) {
      const expiresAt = deps.now() + opts.minutes * 60_000;
      const token = issue(POW, purpose, expiresAt, [String(opts.bits)]);
      let fallback: ChallengeView['fallback'] = null;
      if (opts.fallback === 'captcha') {
        const captcha = issue(CAPTCHA, purpose, expiresAt);
        fallback = { kind: 'captcha', token: captcha, image: captchaImage(captchaQuestion(key, captcha.split('.')[3]!).question) };
      }
      return { provider: 'pow', purpose, kind: 'pow', script: opts.script, token, bits: opts.bits, expiresAt, fallback };
    },
    async verify({ purpose, answer }) {
      if (!answer) return { ok: false, reason: 'missing' };
      const cut = answer.lastIndexOf(':');
      const token = answer.slice(0, cut);
      const value = answer.slice(cut + 1);
      const parts = token.split('.');
      const tag = parts.pop() ?? '';
      if (cut < 0 || !safeEqual(tag, sign(parts.join('.'))) || parts[1] !== purpose) return { ok: false, reason: 'wrong' };
      const expiresAt = parseInt(parts[2]!, 36);
      if (!(expiresAt > deps.now())) return { ok: false, reason: 'expired' };
      if (parts[0] === POW && parts.length === 5) {
        // The work is checked before anything is written: a wrong nonce costs one hash.
        if (!/^\d{1,16}$/.test(value) || zeroBits(createHash('sha256').update(answer).digest()) < Number(parts[3])) return { ok: false, reason: 'wrong' };
        return (await consume(token, expiresAt)) ? { ok: true } : { ok: false, reason: 'reused' };
      }
      if (parts[0] === CAPTCHA && parts.length === 4 && opts.fallback === 'captcha') {
        // One try per picture: a wrong guess uses it up too.
        if (!(await consume(token, expiresAt))) return { ok: false, reason: 'reused' };
        return value.trim() === String(captchaQuestion(key, parts[3]!).answer) ? { ok: true } : { ok: false, reason: 'wrong' };
      }
      return { ok: false, reason: 'wrong' };
    },
  };
}

/** Refuses the form unless its challenge passes: 400 naming the field `challenge` and why. */
export async function requireHuman(defence: BotDefence, input: { purpose: ChallengePurpose; answer: string | undefined; ip: string | null }): Promise<void> {
  const verdict = await defence.verify(input);
  if (!verdict.ok) throw new ShopError('challenge_failed', 400, 'error.challenge_failed', { challenge: `challenge.${verdict.reason}` });
}

/** Drops challenges that have expired anyway (the hourly chore). */
export async function pruneChallenges(deps: Deps): Promise<number> {
  return Number(await deps.db.knex('challenge_uses').where('expires_at', '<', deps.now()).delete());
}
