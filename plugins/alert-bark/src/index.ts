import { alertSettings, definePlugin, PermanentJobError, Secret, type AlertChannel, type AlertMessage } from '@cardshop/core';
import { z } from 'zod';

/**
 * Operator alerts as Bark pushes to an iPhone: bark-server's POST /push with a JSON body
 * (`device_key`, `title`, `body`, `group`, `level`), on api.day.app or a self-hosted server.
 */
export const settingsSchema = z.object({
  deviceKey: z
    .string({ error: 'field.required' })
    .trim()
    .regex(/^[\w-]{10,64}$/, 'field.invalid')
    .transform((v) => new Secret(v))
    .meta({ secret: true, description: 'Device key from the Bark app / Bark App 里的 key' }),
  server: z
    .url({ protocol: /^https?$/, error: 'field.invalid' })
    .default('https://api.day.app')
    .transform((u) => u.replace(/\/+$/, ''))
    .meta({ description: 'Bark server, e.g. a self-hosted https://user:pass@bark.example.com / 服务器地址' }),
  group: z.string().trim().max(40, 'field.too_long').optional().meta({ description: "Group in the Bark app (default: the shop's name) / 分组" }),
  ...alertSettings,
});
export type BarkSettings = z.output<typeof settingsSchema>;

const answerSchema = z.object({ code: z.number(), message: z.string().optional() });

// What needs the operator soon breaks through Focus modes; a sale is news, not an emergency.
const LEVELS: Record<AlertMessage['kind'], 'active' | 'timeSensitive'> = { order: 'active', stock: 'active', test: 'active', supplier: 'timeSensitive', payment: 'timeSensitive' };

export function barkPush(m: AlertMessage, s: BarkSettings) {
  return { device_key: s.deviceKey.reveal(), title: m.title, body: m.body, group: s.group ?? m.shop, level: LEVELS[m.kind] };
}

export function barkChannel(s: BarkSettings): AlertChannel {
  // fetch refuses a URL with credentials in it: a self-hosted server's basic auth goes in a header.
  const url = new URL(`${s.server}/push`);
  const auth = url.username ? `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}` : undefined;
  url.username = url.password = '';
  return {
    rules: s,
    async send(message, signal) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8', ...(auth ? { authorization: auth } : {}) },
        body: JSON.stringify(barkPush(message, s)),
        signal,
      });
      const parsed = answerSchema.safeParse(await res.json().catch(() => null));
      if (parsed.success && parsed.data.code === 200) return;
      const why = `Bark ${parsed.success ? parsed.data.code : res.status}: ${parsed.success ? (parsed.data.message ?? '') : 'no JSON answer'}`;
      // 400: a device key the server does not know; 401: the server's basic auth refused us.
      if (res.status === 400 || res.status === 401) throw new PermanentJobError(why);
      throw new Error(why);
    },
  };
}

export default definePlugin({
  name: 'alert-bark',
  version: '0.1.0',
  core: '>=0.1.0 <1.0.0',
  settings: settingsSchema,
  setup(ctx) {
    ctx.alertChannel(barkChannel);
  },
});
