import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Deps } from '../context.js';
import { enqueueJobs, type NewJob } from '../delivery/jobs.js';
import { PermanentJobError, type JobHandler } from '../delivery/worker.js';
import { DEFAULT_LOCALE, LOCALES, translate, type Locale, type Localized } from '../i18n/messages.js';
import { formatMoney, parseMoney } from '../money/money.js';
import { take } from '../security/rate-limit.js';

/**
 * Operator alerts: the core decides what is worth telling the operator (a paid order above an
 * amount, low stock, a supplier's failure, a stuck payment), words it in the operator's language
 * and queues one delivery job per alert and channel; a channel plugin (Telegram, WeCom, Bark) only
 * speaks its API. Jobs retry with backoff and never hold up the checkout; a listener writes them
 * after the order is committed, so a crash in between loses an alert, never an order.
 */

export const ALERT_KINDS = ['order', 'stock', 'supplier', 'payment'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

/** The settings every alert channel has, for a plugin to spread into its own schema. */
export const alertSettings = {
  alerts: z
    .array(z.enum(ALERT_KINDS, { error: 'field.invalid' }))
    .default([...ALERT_KINDS])
    .meta({ description: 'Alerts to send / 提醒哪些事件: order, stock, supplier, payment' }),
  orderMinimum: z
    .number({ error: 'field.invalid' })
    .min(0, 'field.invalid')
    .default(0)
    .meta({ description: 'New orders from this amount / 新订单提醒起点金额 (0: every order / 全部)' }),
  language: z.enum(LOCALES, { error: 'field.invalid' }).default(DEFAULT_LOCALE).meta({ description: 'Alert language / 提醒语言' }),
};
export type AlertRules = z.output<z.ZodObject<typeof alertSettings>>;

/** What happened, with its facts; worded only when it is sent (in the language set then). */
export interface Alert {
  kind: AlertKind | 'test';
  /** A message key under `alerts.` and its parameters (amounts in minor units with `currency`; a text in every locale). */
  event: string;
  params: Record<string, string | number | Localized>;
}

/** An alert worded for the operator: a short title and a body of plain-text lines. */
export interface AlertMessage {
  kind: Alert['kind'];
  title: string;
  body: string;
  /** The shop's name, for channels that group messages (Bark's `group`). */
  shop: string;
}

/** `retryAt`: the API asked us to wait (Telegram's 429 retry_after, WeCom's 45009); not a failure. */
export type AlertSent = void | { retryAt: number };

export interface AlertChannel {
  rules: AlertRules;
  /** At most `limit` messages per `windowMs` (the API's documented limit), across app processes. */
  rate?: { limit: number; windowMs: number };
  /** Sends one message; throws to retry with backoff, or a PermanentJobError when no retry can help (a revoked token). */
  send(message: AlertMessage, signal: AbortSignal): Promise<AlertSent>;
}

/** A plugin's channel, built from its settings (the live ones, or those just saved, for a test). */
export type AlertChannelFactory<S = unknown> = (settings: S) => AlertChannel;

interface AlertJob {
  channel: string;
  alert: Alert;
}

const money = (amount: number, currency: string) => formatMoney(amount, currency);

/** Words an alert in `locale`; money parameters are `amount`/`balance` with `currency`. */
export function wordAlert(deps: Deps, alert: Alert, locale: Locale): AlertMessage {
  const p: Record<string, unknown> = { ...alert.params };
  const currency = String(p.currency ?? deps.config.shop.currency);
  for (const k of ['amount', 'balance']) if (typeof p[k] === 'number') p[k] = money(p[k] as number, currency);
  return {
    kind: alert.kind,
    title: translate(locale, `alerts.${alert.event}.title`, p),
    body: translate(locale, `alerts.${alert.event}.body`, p),
    shop: deps.config.shop.name,
  };
}

const wants = (rules: AlertRules, alert: Alert): boolean => {
  if (alert.kind === 'test') return true;
  if (!rules.alerts.includes(alert.kind)) return false;
  return alert.event !== 'order' || Number(alert.params.amount) >= (parseMoney(rules.orderMinimum.toFixed(2)) ?? 0);
};

// One job per alert and channel: the same event seen twice (a notify the gateway resends) queues it once.
const jobRef = (channel: string, key: string) => {
  const ref = `${channel}:${key}`;
  return ref.length <= 96 ? ref : `${channel}:${createHash('sha256').update(key).digest('hex').slice(0, 40)}`;
};

export interface OperatorAlerts {
  /** The channels plugins registered, by plugin name. */
  readonly channels: Map<string, { live: AlertChannel; build: AlertChannelFactory }>;
  /** Queues `alert` for every channel that wants it; `key` names the event (one alert per key and channel). */
  raise(alert: Alert, key: string): Promise<void>;
  handler: JobHandler;
  /** Sends a test alert through a channel now, and says how it went. */
  test(channel: AlertChannel): Promise<AlertSent>;
}

export function operatorAlerts(deps: Deps, nudge: () => void): OperatorAlerts {
  const channels = new Map<string, { live: AlertChannel; build: AlertChannelFactory }>();

  async function raise(alert: Alert, key: string): Promise<void> {
    const jobs: NewJob[] = [];
    for (const [name, { live }] of channels) {
      if (wants(live.rules, alert)) jobs.push({ kind: 'alert', ref: jobRef(name, key), payload: { channel: name, alert } satisfies AlertJob });
    }
    if (!jobs.length) return;
    await enqueueJobs(deps, deps.db.knex, jobs);
    nudge();
  }

  async function send(name: string, channel: AlertChannel, alert: Alert, signal: AbortSignal): Promise<AlertSent> {
    if (channel.rate) {
      const { limit, windowMs } = channel.rate;
      // Over the API's limit for this window: wait for the next one instead of being refused.
      if (!(await take(deps, 'alerts', name, limit, windowMs))) return { retryAt: deps.now() - (deps.now() % windowMs) + windowMs };
    }
    return channel.send(wordAlert(deps, alert, channel.rules.language), signal);
  }

  const handler: JobHandler = {
    async run(job, signal) {
      const { channel: name, alert } = job.payload as AlertJob;
      const channel = channels.get(name)?.live;
      if (!channel) throw new PermanentJobError(`alert channel ${name} is not loaded (is its plugin configured?)`);
      const sent = await send(name, channel, alert, signal);
      return sent ? { again: sent.retryAt } : undefined;
    },
  };

  return {
    channels,
    raise,
    handler,
    test(channel) {
      return channel.send(wordAlert(deps, { kind: 'test', event: 'test', params: {} }, channel.rules.language), AbortSignal.timeout(15_000));
    },
  };
}

/** The hooks that become alerts. */
export function listenForAlerts(deps: Deps, alerts: OperatorAlerts): void {
  const { hooks } = deps;
  const raise = (alert: Alert, key: string) => (alerts.channels.size ? alerts.raise(alert, key) : undefined);
  hooks.on('order.paid', ({ order }) => {
    // A wallet top-up is the buyer's own money coming in, not a sale.
    if (order.productType === 'topup') return;
    const params = { no: order.no, title: order.title, quantity: order.quantity, amount: order.amount, currency: order.currency, payment: order.payment };
    return raise({ kind: 'order', event: 'order', params }, `order:${order.no}`);
  }, 'alerts');
  hooks.on('stock.low', ({ sku, stock, lowStock }) => raise({ kind: 'stock', event: 'stock', params: { sku, stock, lowStock } }, `stock:${sku}:${deps.now()}`), 'alerts');
  hooks.on('supplier.failed', ({ supplier, sku, order, reason }) =>
    order
      ? raise({ kind: 'supplier', event: 'supplier', params: { supplier, sku, no: order, reason } }, `supplier:${order}:${supplier}`)
      : raise({ kind: 'supplier', event: 'restock', params: { supplier, sku, reason } }, `restock:${sku}:${supplier}:${deps.now()}`), 'alerts');
  // Told every ten minutes while it stays low: alerted once a day.
  hooks.on('supplier.balance_low', ({ supplier, balance, currency }) =>
    raise({ kind: 'supplier', event: 'balance', params: { supplier, balance, currency } }, `balance:${supplier}:${new Date(deps.now()).toISOString().slice(0, 10)}`), 'alerts');
  hooks.on('payment.stuck', ({ order, why }) => {
    // The console's words for why it is stuck, in both languages: the channel picks its own when it sends.
    const reason = Object.fromEntries(LOCALES.map((l) => [l, translate(l, `admin.stuck.why.${why}`, { minutes: deps.config.payments.stuckMinutes })])) as Localized;
    const params = { no: order.no, title: order.title, amount: order.amount, currency: order.currency, payment: order.payment, why: reason };
    return raise({ kind: 'payment', event: 'payment', params }, `payment:${order.no}:${why}`);
  }, 'alerts');
}
