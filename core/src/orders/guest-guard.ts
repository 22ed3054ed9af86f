import type { User } from '../agents/users.js';
import type { Deps } from '../context.js';
import { ShopError } from '../errors.js';
import { requireHuman, type BotDefence } from '../security/bot-defence.js';
import { hit, unhit } from '../security/rate-limit.js';
import type { Checkout, CheckoutInput, RequestInfo } from './checkout.js';

/**
 * What stands before a guest's checkout, ahead of the checkout's own preparation (nothing of it
 * runs in the batch): the bot-defence challenge, then the limits on guest orders an hour per
 * address and per contact (`checkout.guestOrders`). Each limit is a counter of `security/rate-limit`
 * raised by one upsert before the order, and lowered again when the checkout refuses the order,
 * so what it counts is orders placed, and parallel requests cannot all slip under it. Members and
 * Agent API callers (signed in) pass untouched.
 */

/** The checkout input as forms and the Store API send it: with the challenge's answer. */
export type GuestCheckoutInput = CheckoutInput & { challenge?: string };

export interface GuardedCheckout {
  (buyer: User | undefined, input: GuestCheckoutInput, request?: RequestInfo): ReturnType<Checkout>;
  readonly queue: Checkout['queue'];
}

const HOUR = 3_600_000;

export function guardGuestCheckout(deps: Deps, checkout: Checkout, defence: () => BotDefence): GuardedCheckout {
  const limits = deps.config.checkout.guestOrders;
  const guarded = async (buyer: User | undefined, input: GuestCheckoutInput, request?: RequestInfo) => {
    const { challenge, ...order } = (input ?? {}) as GuestCheckoutInput;
    if (buyer) return checkout(buyer, order, request);
    const ip = request?.ip ?? null;
    if (deps.config.botDefence.checkout) await requireHuman(defence(), { purpose: 'checkout', answer: typeof challenge === 'string' ? challenge : undefined, ip });
    const contact = typeof order.contact === 'string' ? order.contact.trim().toLowerCase() : '';
    const counted: Array<[string, string]> = [];
    const release = () => Promise.all(counted.map(([scope, value]) => unhit(deps, scope, value, HOUR)));
    const take = async (scope: string, value: string, limit: number, refusal: ShopError) => {
      if (!limit || !value) return;
      counted.push([scope, value]);
      if (await hit(deps, scope, value, limit, HOUR)) return;
      await release();
      throw refusal;
    };
    await take('guest-orders-ip', ip ?? '', limits.ip, new ShopError('too_many_orders', 429, 'error.too_many_orders_ip', undefined, { limit: limits.ip }));
    await take('guest-orders-contact', contact, limits.contact, new ShopError('too_many_orders', 429, 'error.too_many_orders_contact', { contact: 'error.too_many_orders_contact' }, { limit: limits.contact }));
    try {
      return await checkout(buyer, order, request);
    } catch (err) {
      // Not an order after all (bad input, no stock): it does not count against the limits.
      await release();
      throw err;
    }
  };
  return Object.assign(guarded, { queue: checkout.queue });
}
