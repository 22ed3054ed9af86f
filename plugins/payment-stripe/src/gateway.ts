import type {
  CreatePaymentInput,
  Logger,
  NotifyReply,
  NotifyRequest,
  NotifyResult,
  PaymentAction,
  PaymentGateway,
  QueryResult,
  RefundInput,
  RefundResult,
} from '@cardshop/core';
import Stripe from 'stripe';
import { isSupportedCurrency, unsupportedCurrencyMessage, type StripeSettings } from './settings.js';

export const PLUGIN_VERSION = '0.1.0';

/** Stripe's webhook contract: any 2xx acknowledges; anything else is retried for up to three days. */
const JSON_TYPE = 'application/json';
export const RECEIVED: NotifyReply = { status: 200, type: JSON_TYPE, body: '{"received":true}' };
/** Sent when the core could not apply a verified event, so that Stripe delivers it again. */
export const RETRY: NotifyReply = { status: 500, type: JSON_TYPE, body: '{"received":false}' };
const REJECTED: NotifyReply = { status: 400, type: JSON_TYPE, body: '{"error":"invalid webhook"}' };

/** One Checkout Session per order: a second create with this key returns the first session. */
export function checkoutIdempotencyKey(gatewayId: string, orderNo: string): string {
  return `cardshop:${gatewayId}:checkout:${orderNo}`;
}

/** A value for Stripe's search query language, quoted: `'` and `\` are escaped with a backslash. */
export function searchQuoted(value: string): string {
  return `'${value.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

function idOf(ref: string | { id: string } | null | undefined): string | undefined {
  if (!ref) return undefined;
  return typeof ref === 'string' ? ref : ref.id;
}

function orderNoOfSession(session: Stripe.Checkout.Session): string | undefined {
  return session.metadata?.['order_no'] || session.client_reference_id || undefined;
}

export interface GatewayOptions {
  log: Logger;
  /** Tests only: a Stripe client of their own. By default one is made from the settings. */
  stripe?: Stripe;
}

export function createStripeClient(settings: StripeSettings): Stripe {
  return new Stripe(settings.secretKey, {
    // Retries reuse the request's idempotency key, so a retried create or refund happens once;
    // 409 "idempotency key in use" (a double click racing itself) is retried too.
    maxNetworkRetries: 2,
    timeout: 30_000,
    appInfo: { name: 'cardshop-plugin-stripe', version: PLUGIN_VERSION },
    ...(settings.apiHost ? { host: settings.apiHost } : {}),
    ...(settings.apiPort ? { port: settings.apiPort } : {}),
    ...(settings.apiProtocol ? { protocol: settings.apiProtocol } : {}),
  });
}

export function createStripeGateway(settings: StripeSettings, options: GatewayOptions): PaymentGateway {
  const stripe = options.stripe ?? createStripeClient(settings);
  const { log } = options;
  const currency = settings.currency;

  function chargeCurrency(requested: string | undefined): string {
    const code = (requested || currency).trim().toLowerCase();
    if (!isSupportedCurrency(code)) throw new Error(unsupportedCurrencyMessage(code));
    if (code !== currency) {
      throw new Error(`the order is in ${code.toUpperCase()} but Stripe gateway "${settings.id}" is set up for ${currency.toUpperCase()}; set its currency setting to the shop's currency`);
    }
    return code;
  }

  const handled = (r: Omit<Extract<NotifyResult, { action: 'paid' }>, 'reply' | 'failReply'>): NotifyResult => ({ ...r, reply: RECEIVED, failReply: RETRY });
  const failedOrRefunded = (action: 'failed' | 'refunded', orderNo: string, tradeNo?: string): NotifyResult => ({
    action,
    orderNo,
    ...(tradeNo ? { tradeNo } : {}),
    reply: RECEIVED,
    failReply: RETRY,
  });
  const ignored = (orderNo?: string): NotifyResult => ({ action: 'ignored', ...(orderNo ? { orderNo } : {}), reply: RECEIVED, failReply: RETRY });

  function paid(session: Stripe.Checkout.Session): NotifyResult {
    const orderNo = orderNoOfSession(session);
    if (!orderNo || session.mode !== 'payment') return ignored(orderNo);
    if (session.payment_status !== 'paid') return ignored(orderNo); // e.g. a bank debit still on its way
    if (session.amount_total === null) return ignored(orderNo);
    if (session.currency !== currency) {
      log.error(`Stripe session ${session.id} for order ${orderNo} was paid in ${session.currency ?? '?'} but this gateway charges in ${currency}: check it by hand`);
      return ignored(orderNo);
    }
    return handled({ action: 'paid', orderNo, amount: session.amount_total, tradeNo: idOf(session.payment_intent) ?? session.id });
  }

  function closed(session: Stripe.Checkout.Session): NotifyResult {
    const orderNo = orderNoOfSession(session);
    if (!orderNo || session.mode !== 'payment') return ignored(orderNo);
    return failedOrRefunded('failed', orderNo, idOf(session.payment_intent));
  }

  async function refunded(charge: Stripe.Charge): Promise<NotifyResult> {
    const paymentIntent = idOf(charge.payment_intent);
    // A PaymentIntent's metadata is copied onto its charge when it is confirmed; ask for the
    // PaymentIntent only when the charge does not carry it.
    let orderNo = charge.metadata?.['order_no'];
    if (!orderNo && paymentIntent) {
      const pi = await stripe.paymentIntents.retrieve(paymentIntent);
      orderNo = pi.metadata?.['order_no'];
    }
    if (!orderNo) return ignored();
    // charge.refunded is sent for partial refunds too; only a full refund refunds the order.
    if (!charge.refunded) return ignored(orderNo);
    return failedOrRefunded('refunded', orderNo, paymentIntent ?? charge.id);
  }

  async function findPaymentIntents(orderNo: string): Promise<Stripe.PaymentIntent[]> {
    const found = await stripe.paymentIntents.search({ query: `metadata['order_no']:${searchQuoted(orderNo)}`, limit: 20 });
    return found.data.filter((pi) => pi.metadata?.['order_no'] === orderNo);
  }

  return {
    id: settings.id,
    label: settings.label,

    async createPayment(input: CreatePaymentInput): Promise<PaymentAction> {
      if (!Number.isSafeInteger(input.amount) || input.amount <= 0) {
        throw new RangeError(`amount must be a positive integer of minor units, got ${input.amount}`);
      }
      const code = chargeCurrency(input.currency);
      const metadata = { order_no: input.orderNo };
      const session = await stripe.checkout.sessions.create(
        {
          mode: 'payment',
          line_items: [
            {
              quantity: 1,
              price_data: {
                currency: code,
                unit_amount: input.amount,
                product_data: { name: (input.subject.trim() || input.orderNo).slice(0, 250) },
              },
            },
          ],
          client_reference_id: input.orderNo,
          metadata,
          payment_intent_data: { metadata },
          success_url: input.returnUrl,
          cancel_url: input.returnUrl,
        },
        { idempotencyKey: checkoutIdempotencyKey(settings.id, input.orderNo) },
      );
      if (!session.url) throw new Error(`Stripe returned checkout session ${session.id} without a URL`);
      return { kind: 'redirect', url: session.url };
    },

    async verifyNotify(input: NotifyRequest): Promise<NotifyResult> {
      if (input.method.toUpperCase() !== 'POST') return { action: 'invalid', reason: `method ${input.method}`, reply: REJECTED };
      let event: Stripe.Event;
      try {
        event = stripe.webhooks.constructEvent(input.rawBody, input.headers['stripe-signature'] ?? '', settings.webhookSecret);
      } catch (err) {
        return { action: 'invalid', reason: `Stripe signature: ${(err as Error).message}`, reply: REJECTED };
      }
      switch (event.type) {
        case 'checkout.session.completed':
        case 'checkout.session.async_payment_succeeded':
          return paid(event.data.object);
        case 'checkout.session.async_payment_failed':
        case 'checkout.session.expired':
          return closed(event.data.object);
        case 'charge.refunded':
          try {
            return await refunded(event.data.object);
          } catch (err) {
            // Verified but not understood yet: change nothing and let Stripe send it again.
            return { action: 'invalid', reason: `cannot look up the payment of refunded charge ${event.data.object.id}: ${(err as Error).message}`, reply: RETRY };
          }
        default:
          return ignored();
      }
    },

    async query({ orderNo }): Promise<QueryResult> {
      const intents = await findPaymentIntents(orderNo);
      const succeeded = intents.find((pi) => pi.status === 'succeeded');
      if (succeeded) {
        if (succeeded.currency !== currency) {
          log.error(`Stripe PaymentIntent ${succeeded.id} for order ${orderNo} is in ${succeeded.currency}, not ${currency}: check it by hand`);
          return { status: 'unknown', tradeNo: succeeded.id };
        }
        return { status: 'paid', amount: succeeded.amount_received, tradeNo: succeeded.id };
      }
      const open = intents.find((pi) => pi.status !== 'canceled');
      if (open) return { status: 'pending', amount: open.amount, tradeNo: open.id };
      const canceled = intents[0];
      if (canceled) return { status: 'failed', amount: canceled.amount, tradeNo: canceled.id };
      // Checkout creates the PaymentIntent only when the buyer submits the form, and search
      // results may trail by up to a minute.
      return { status: 'unknown' };
    },

    async refund(input: RefundInput): Promise<RefundResult> {
      if (!Number.isSafeInteger(input.amount) || input.amount <= 0) {
        return { status: 'failed', reason: `amount must be a positive integer of minor units, got ${input.amount}` };
      }
      let tradeNo = input.tradeNo;
      if (!tradeNo) {
        const intents = await findPaymentIntents(input.orderNo);
        tradeNo = intents.find((pi) => pi.status === 'succeeded')?.id;
        if (!tradeNo) return { status: 'failed', reason: `no succeeded Stripe payment found for order ${input.orderNo}` };
      }
      try {
        const refund = await stripe.refunds.create(
          {
            payment_intent: tradeNo,
            amount: input.amount,
            metadata: { order_no: input.orderNo, refund_no: input.refundNo, reason: input.reason.slice(0, 500) },
          },
          { idempotencyKey: input.refundNo },
        );
        switch (refund.status) {
          case 'succeeded':
            return { status: 'refunded', refundId: refund.id };
          case 'failed':
          case 'canceled':
            return { status: 'failed', refundId: refund.id, reason: refund.failure_reason ?? refund.status };
          default: // pending, requires_action
            return { status: 'pending', refundId: refund.id };
        }
      } catch (err) {
        if (!(err instanceof Stripe.errors.StripeError)) throw err;
        if (err.code === 'charge_already_refunded') return { status: 'refunded', reason: err.message };
        // Refused for good (bad amount, unknown payment, key reused with other parameters): say so.
        // Network, rate-limit, auth and 5xx errors are thrown: asking again with the same refundNo
        // is safe, since the idempotency key makes Stripe refund once.
        if (err.type === 'StripeInvalidRequestError' || err.type === 'StripeCardError' || err.type === 'StripeIdempotencyError') {
          return { status: 'failed', reason: err.message };
        }
        throw err;
      }
    },
  };
}
