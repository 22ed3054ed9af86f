import { alertSettings, definePlugin, PermanentJobError, Secret, type AlertChannel, type AlertMessage } from '@cardshop/core';
import { z } from 'zod';

/**
 * Operator alerts through a Telegram bot: the Bot API's sendMessage
 * (POST https://api.telegram.org/bot<token>/sendMessage, JSON) to a chat, group or channel the bot
 * was added to, formatted with parse_mode HTML.
 */
export const settingsSchema = z.object({
  botToken: z
    .string({ error: 'field.required' })
    .regex(/^\d+:[\w-]{20,}$/, 'field.invalid')
    .transform((v) => new Secret(v))
    .meta({ secret: true, description: 'Bot token from @BotFather / 机器人 token' }),
  chatId: z
    .union([z.string().regex(/^(-?\d+|@\w{5,})$/, 'field.invalid'), z.number().int()], { error: 'field.required' })
    .transform(String)
    .meta({ description: 'Chat id (e.g. -1001234567890) or @channel / 聊天 ID' }),
  apiBase: z
    .url({ protocol: /^https?$/, error: 'field.invalid' })
    .default('https://api.telegram.org')
    .transform((u) => u.replace(/\/+$/, ''))
    .meta({ description: 'Bot API server (a local Bot API server, or a proxy) / 接口地址' }),
  ...alertSettings,
});
export type TelegramSettings = z.output<typeof settingsSchema>;

/** The Bot API's answer: `{ ok: true, result }` or `{ ok: false, error_code, description, parameters }`. */
const answerSchema = z.object({
  ok: z.boolean(),
  error_code: z.number().optional(),
  description: z.string().optional(),
  parameters: z.object({ retry_after: z.number().optional(), migrate_to_chat_id: z.number().optional() }).optional(),
});

// HTML mode: every <, > and & that is not markup must be an entity.
const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The message text: the title in bold, then the body; Telegram takes at most 4,096 characters. */
export const telegramText = (m: AlertMessage) => `<b>${escape(m.title)}</b>\n${escape(m.body)}\n<i>${escape(m.shop)}</i>`.slice(0, 4096);

export function telegramChannel(s: TelegramSettings): AlertChannel {
  return {
    rules: s,
    // Telegram lets a bot send about 20 messages a minute to one group (and one a second to a chat).
    rate: { limit: 20, windowMs: 60_000 },
    async send(message, signal) {
      const res = await fetch(`${s.apiBase}/bot${s.botToken.reveal()}/sendMessage`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ chat_id: s.chatId, text: telegramText(message), parse_mode: 'HTML', link_preview_options: { is_disabled: true } }),
        signal,
      });
      const parsed = answerSchema.safeParse(await res.json().catch(() => null));
      if (!parsed.success) throw new Error(`Telegram answered HTTP ${res.status} without its JSON`);
      const answer = parsed.data;
      if (answer.ok) return;
      const why = `Telegram ${answer.error_code ?? res.status}: ${answer.description ?? 'no description'}`;
      if (answer.error_code === 429) return { retryAt: Date.now() + (answer.parameters?.retry_after ?? 30) * 1000 };
      if (answer.parameters?.migrate_to_chat_id) throw new PermanentJobError(`${why} (the group is now chat ${answer.parameters.migrate_to_chat_id}: set that chat id)`);
      // A wrong token (401), a bot removed from the chat (403), a chat that does not exist (400): no retry helps.
      if ([400, 401, 403, 404].includes(answer.error_code ?? res.status)) throw new PermanentJobError(why);
      throw new Error(why);
    },
  };
}

export default definePlugin({
  name: 'alert-telegram',
  version: '0.1.0',
  core: '>=0.1.0 <1.0.0',
  settings: settingsSchema,
  setup(ctx) {
    ctx.alertChannel(telegramChannel);
  },
});
