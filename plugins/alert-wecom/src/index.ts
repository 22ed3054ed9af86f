import { alertSettings, definePlugin, PermanentJobError, Secret, type AlertChannel, type AlertMessage } from '@cardshop/core';
import { z } from 'zod';

/**
 * Operator alerts through a WeCom (企业微信) group robot: POST
 * https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=<key> with a markdown or text message.
 */
export const settingsSchema = z.object({
  key: z
    .string({ error: 'field.required' })
    .trim()
    // The whole webhook address may be pasted: its `key` is what counts.
    .transform((v) => (/^https?:\/\//.test(v) ? (new URL(v).searchParams.get('key') ?? '') : v))
    .pipe(z.string().regex(/^[\w-]{8,64}$/, 'field.invalid'))
    .transform((v) => new Secret(v))
    .meta({ secret: true, description: 'Robot webhook key, or its whole address / 机器人 Webhook 的 key 或完整地址' }),
  /** `markdown` shows best in the WeCom app; `text` also reaches members who read WeCom inside WeChat. */
  msgtype: z.enum(['markdown', 'text'], { error: 'field.invalid' }).default('markdown').meta({ description: 'Message type / 消息类型' }),
  apiBase: z
    .url({ protocol: /^https?$/, error: 'field.invalid' })
    .default('https://qyapi.weixin.qq.com')
    .transform((u) => u.replace(/\/+$/, ''))
    .meta({ description: 'API server (a proxy) / 接口地址' }),
  ...alertSettings,
});
export type WecomSettings = z.output<typeof settingsSchema>;

const answerSchema = z.object({ errcode: z.number(), errmsg: z.string().optional() });

/** Cuts `text` to at most `bytes` bytes of UTF-8 without splitting a character. */
function cut(text: string, bytes: number): string {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= bytes) return text;
  let end = bytes;
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--; // back to the start of a character
  return buf.subarray(0, end).toString('utf8');
}

/** The message body WeCom takes: markdown up to 4,096 bytes, text up to 2,048. */
export function wecomMessage(m: AlertMessage, msgtype: WecomSettings['msgtype']) {
  if (msgtype === 'text') return { msgtype, text: { content: cut(`${m.title}\n${m.body}\n— ${m.shop}`, 2048) } };
  const quoted = m.body
    .split('\n')
    .map((line) => `> ${line}`)
    .join('\n');
  return { msgtype, markdown: { content: cut(`**${m.title}**\n${quoted}\n<font color="comment">${m.shop}</font>`, 4096) } };
}

/** Codes that no retry fixes: a key that is wrong or revoked (93000), a message WeCom will not take. */
const PERMANENT = new Set([93000, 40008, 40058, 44004]);
const FREQ_OUT_OF_LIMIT = 45009;

export function wecomChannel(s: WecomSettings): AlertChannel {
  return {
    rules: s,
    // A robot may send 20 messages a minute.
    rate: { limit: 20, windowMs: 60_000 },
    async send(message, signal) {
      const res = await fetch(`${s.apiBase}/cgi-bin/webhook/send?key=${encodeURIComponent(s.key.reveal())}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(wecomMessage(message, s.msgtype)),
        signal,
      });
      const parsed = answerSchema.safeParse(await res.json().catch(() => null));
      if (!parsed.success) throw new Error(`WeCom answered HTTP ${res.status} without its JSON`);
      const { errcode, errmsg } = parsed.data;
      if (errcode === 0) return;
      // Over the minute's limit (another program may share the robot): try again in the next minute.
      if (errcode === FREQ_OUT_OF_LIMIT) return { retryAt: Date.now() + 60_000 };
      const why = `WeCom ${errcode}: ${errmsg ?? 'no message'}`;
      if (PERMANENT.has(errcode)) throw new PermanentJobError(why);
      throw new Error(why);
    },
  };
}

export default definePlugin({
  name: 'alert-wecom',
  version: '0.1.0',
  core: '>=0.1.0 <1.0.0',
  settings: settingsSchema,
  setup(ctx) {
    ctx.alertChannel(wecomChannel);
  },
});
