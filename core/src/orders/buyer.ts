import type { Deps } from '../context.js';
import { hmacHex } from '../security/keys.js';

/**
 * A buyer as per-buyer limits count them (coupons' uses, purchase limits): the account, or a
 * guest by the contact they give, as an HMAC (never the contact itself).
 */
export function buyerKey(deps: Deps, who: { userId: number | null; contact: string | null }): string {
  if (who.userId !== null) return `user:${who.userId}`;
  return `contact:${hmacHex(deps.keys.tokens, `buyer:${(who.contact ?? '').trim().toLowerCase()}`, 16)}`;
}
