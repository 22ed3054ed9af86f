import { alertSettings, definePlugin, PermanentJobError, Secret, type AlertChannel, type Mail, type Mailer } from '@cardshop/core';
import nodemailer from 'nodemailer';
import { z } from 'zod';

/**
 * The shop's e-mail over SMTP (nodemailer): the core's `mailer` for buyers' mail (orders delivered
 * and refunded, stock and price notices) and, when `alertTo` names addresses, an operator alert
 * channel. Any SMTP service works: a QQ/163/Exmail mailbox, Amazon SES, Mailgun, a local Postfix.
 */

const ADDRESS = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;
const address = z.string().trim().max(254, 'field.too_long').regex(ADDRESS, 'field.email');

export const settingsSchema = z.object({
  host: z.string({ error: 'field.required' }).trim().min(1, 'field.required').max(253, 'field.too_long').meta({ description: 'SMTP server / 发信服务器 (smtp.qq.com, email-smtp.us-east-1.amazonaws.com)' }),
  port: z.number({ error: 'field.invalid' }).int('field.invalid').min(1, 'field.invalid').max(65_535, 'field.invalid').default(587).meta({ description: 'Port / 端口 (587, or 465 with secure)' }),
  secure: z.boolean({ error: 'field.invalid' }).default(false).meta({ description: 'TLS from the first byte (port 465); off: STARTTLS when the server offers it / SSL 加密' }),
  user: z.string().trim().max(254, 'field.too_long').optional().meta({ description: 'Login / 用户名 (empty: no login)' }),
  pass: z
    .string()
    .max(500, 'field.too_long')
    .optional()
    .transform((v) => (v ? new Secret(v) : undefined))
    .meta({ secret: true, description: 'Password or authorisation code / 密码或授权码' }),
  from: z
    .string({ error: 'field.required' })
    .trim()
    .max(320, 'field.too_long')
    .refine((v) => ADDRESS.test(v) || /^[^<>]*<[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+>$/.test(v), 'field.email')
    .meta({ description: 'Sender, e.g. 星河卡盟 <shop@example.com> / 发件人' }),
  alertTo: z.array(address, { error: 'field.invalid' }).max(20, 'field.too_long').default([]).meta({ description: 'Operator alerts to these addresses (none: no alerts) / 运营提醒收件人' }),
  ...alertSettings,
});
export type SmtpSettings = z.output<typeof settingsSchema>;

// 4xx is a server asking us to come back; 5xx a refusal no retry changes (a wrong login, no such mailbox).
const isPermanent = (err: unknown) => {
  const code = (err as { responseCode?: number }).responseCode;
  return typeof code === 'number' && code >= 500;
};

/** `pool`: the shop's mailer keeps up to two connections open, so a burst of notices reuses them. */
export function smtpMailer(s: SmtpSettings, pool = true): Mailer & { close(): void } {
  const transport = nodemailer.createTransport({
    host: s.host,
    port: s.port,
    secure: s.secure,
    auth: s.user ? { user: s.user, pass: s.pass?.reveal() ?? '' } : undefined,
    pool,
    maxConnections: 2,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
  return {
    async send(mail: Mail, signal: AbortSignal) {
      signal.throwIfAborted();
      const aborted = new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
      try {
        await Promise.race([transport.sendMail({ from: s.from, to: mail.to, subject: mail.subject, text: mail.text, headers: mail.headers }), aborted]);
      } catch (err) {
        const why = `SMTP ${s.host}:${s.port}: ${(err as Error).message}`;
        if (isPermanent(err)) throw new PermanentJobError(why);
        throw new Error(why, { cause: err });
      }
    },
    close: () => transport.close(),
  };
}

/** Alerts are few: a connection each, nothing left open by the console's test button. */
export function emailChannel(s: SmtpSettings): AlertChannel {
  const mailer = smtpMailer(s, false);
  return {
    rules: s,
    async send(message, signal) {
      const text = `${message.body}\n\n${message.shop}\n`;
      await mailer.send({ to: s.alertTo.join(', '), subject: `[${message.shop}] ${message.title}`, text }, signal);
    },
  };
}

export default definePlugin({
  name: 'mail-smtp',
  version: '0.1.0',
  core: '>=0.1.0 <1.0.0',
  settings: settingsSchema,
  setup(ctx) {
    const mailer = smtpMailer(ctx.settings);
    ctx.mailer(mailer);
    if (ctx.settings.alertTo.length) ctx.alertChannel(emailChannel);
    ctx.onStop(() => mailer.close());
  },
});
