import type { User } from '../agents/users.js';
import type { Logger } from '../context.js';
import { ShopError } from '../errors.js';
import type { Locale, Localized } from '../i18n/messages.js';
import type { OrderView } from '../orders/orders.js';

/** Events a plugin may listen to. Listeners run after the fact; one that throws is logged and isolated. */
export interface HookEvents {
  'order.created': { order: OrderView };
  'order.paid': { order: OrderView };
  'order.delivered': { order: OrderView };
  'order.refunded': { order: OrderView; reason: string };
  'wallet.credited': { userId: number; amount: number; balance: number; txnId: string; reason: string };
  /** A buyer asked for a one-time code to look up the orders of `contact`: a notification plugin sends it. */
  'lookup.code': { contact: string; code: string; expiresAt: number; locale?: Locale };
  /** Our balance at a supplier fell below its alert level (minor units of `currency`). */
  'supplier.balance_low': { supplier: string; balance: number; currency: string };
  /** A card SKU fell to its low-stock level (once per dip; a restock follows where it has a target and a supplier). */
  'stock.low': { sku: string; stock: number; lowStock: number };
  /**
   * A supplier failed an order of ours for good: it refused an order (the next route is tried, or
   * the order refunded), a delivery through it gave up after its retries, or it refused a restock
   * purchase (`order` null). Once per order and supplier.
   */
  'supplier.failed': { supplier: string; sku: string; order: string | null; reason: string };
  /**
   * A paid order needs an operator (the console's stuck queue): not delivered after
   * `payments.stuckMinutes`, backordered, failed or dead-lettered, or money owed back to its buyer.
   * Raised once per order and reason, by whichever app process notices first.
   */
  'payment.stuck': { order: OrderView; why: StuckReason };
}

/** Why an order is in the stuck queue (`payment.stuck`). */
export type StuckReason = 'undelivered' | 'backorder' | 'failed' | 'dead' | 'owed' | 'reported_paid' | 'reported_other_amount';

/** Checks that run before something happens and may refuse it with a reason the user is shown. */
export interface VetoHooks {
  'before.checkout': {
    buyer: User | undefined;
    skuId: number;
    productId: number;
    quantity: number;
    amount: number;
    contact: string | null;
    /** `wallet` or the gateway's id. */
    payment: string;
    /** Where the request came from, when it came over HTTP (behind a proxy: with trustProxy). */
    ip: string | null;
    /** A stable, opaque id of the browser (from its cookie), or null for clients without cookies. */
    device: string | null;
    /** Placed through the Agent API (/api/v1), signed with one of the buyer's keys: a program, with no browser. */
    api: boolean;
  };
  /** A buyer tops up the wallet through a gateway. */
  'before.topup': { buyer: User; amount: number; payment: string; ip: string | null; device: string | null };
  /** A user asks to withdraw wallet money. */
  'before.withdraw': { user: User; amount: number };
  /** A user becomes an agent (or moves up a level). */
  'before.agent.upgrade': { user: User };
  /** An agent opens a sub-shop. */
  'before.site.open': { user: User };
}

type Listener<P> = (payload: P) => void | Promise<void>;
/** A reason to refuse, as plain text or in every locale (shown in the buyer's). */
export type VetoReason = string | Localized;
/**
 * Lets an order through but holds its delivery until an admin approves it (a risk score, say);
 * `hold` is the admin's reason, never shown to the buyer. Only `before.checkout` may hold.
 */
export interface ReviewHold {
  hold: string;
}
/** What a check answers: a reason to refuse, a hold (checkout only), or nothing to let it through. */
export type Verdict<E extends keyof VetoHooks> = VetoReason | (E extends 'before.checkout' ? ReviewHold : never);
/** Returns a reason to refuse, or nothing to let it through. */
type Check<P, V = VetoReason> = (payload: P) => V | undefined | void | Promise<V | undefined | void>;

interface Owned<F> {
  owner: string;
  fn: F;
}

export class Hooks {
  private listeners = new Map<string, Array<Owned<Listener<never>>>>();
  private checks = new Map<string, Array<Owned<Check<never>>>>();
  private inFlight = new Set<Promise<void>>();
  /** Each listener's last queued run, so its next event waits for it. */
  private tails = new Map<Listener<never>, Promise<void>>();

  constructor(private readonly log: Logger) {}

  on<E extends keyof HookEvents>(event: E, listener: Listener<HookEvents[E]>, owner = 'core'): void {
    const list = this.listeners.get(event) ?? [];
    list.push({ owner, fn: listener as Listener<never> });
    this.listeners.set(event, list);
  }

  veto<E extends keyof VetoHooks>(event: E, check: Check<VetoHooks[E], Verdict<E>>, owner = 'core'): void {
    const list = this.checks.get(event) ?? [];
    list.push({ owner, fn: check as Check<never> });
    this.checks.set(event, list);
  }

  /** Whether anything listens to `event` (to warn when, say, no plugin sends look-up codes). */
  has(event: keyof HookEvents): boolean {
    return Boolean(this.listeners.get(event)?.length);
  }

  /**
   * Tells every listener, without holding up the caller: the order is already committed, and a
   * slow or broken notification must not delay or fail the buyer's answer. Each listener gets the
   * events one at a time in the order they were emitted (`order.paid` before `order.delivered`),
   * and a slow one delays only itself.
   */
  emit<E extends keyof HookEvents>(event: E, payload: HookEvents[E]): void {
    for (const { owner, fn } of this.listeners.get(event) ?? []) {
      const run = (this.tails.get(fn) ?? Promise.resolve())
        .then(() => (fn as Listener<HookEvents[E]>)(payload))
        .catch((err: unknown) => this.log.error(`hook ${event}: listener of ${owner} failed`, err));
      this.tails.set(fn, run);
      this.inFlight.add(run);
      void run.finally(() => {
        this.inFlight.delete(run);
        if (this.tails.get(fn) === run) this.tails.delete(fn);
      });
    }
  }

  /**
   * Runs the checks in order; the first reason given refuses with 403 `vetoed`. Returns why the
   * first check that asked for a hold did so (the others still run: one may refuse), or null.
   */
  async check<E extends keyof VetoHooks>(event: E, payload: VetoHooks[E]): Promise<string | null> {
    let hold: string | null = null;
    for (const { owner, fn } of this.checks.get(event) ?? []) {
      const verdict = await (fn as Check<VetoHooks[E], VetoReason | ReviewHold>)(payload);
      if (!verdict) continue;
      if (typeof verdict === 'object' && 'hold' in verdict) {
        hold ??= `${owner}: ${verdict.hold}`.slice(0, 255);
        continue;
      }
      this.log.info(`hook ${event}: refused by ${owner}: ${typeof verdict === 'string' ? verdict : verdict.en}`);
      throw new ShopError('vetoed', 403, 'error.vetoed', undefined, { reason: verdict });
    }
    return hold;
  }

  /** Resolves when every listener started so far has finished (shutdown, tests). */
  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.all(this.inFlight);
  }
}
