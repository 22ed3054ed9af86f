import { PermanentJobError, type AlertMessage } from '@cardshop/core';
import { setupPlugin } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import telegram from './index.js';
import { startFakeTelegram, type FakeTelegram } from './testing/fake-telegram.js';

const message: AlertMessage = { kind: 'order', title: 'New order 261207-ABC <b>&', body: 'Gift card <x> × 2\nAmount: ¥12.50 & more', shop: 'Shop & Co' };

describe('the Telegram channel against a fake Bot API', () => {
  let fake: FakeTelegram;
  beforeAll(async () => {
    fake = await startFakeTelegram();
  });
  afterAll(() => fake?.close());

  const channel = async (over: Record<string, unknown> = {}) =>
    (await setupPlugin(telegram, { botToken: fake.token, chatId: fake.chatId, apiBase: fake.url, ...over })).alertChannels[0]!;

  it('sends sendMessage to the chat with HTML that Telegram parses, the text escaped', async () => {
    await expect((await channel()).send(message, AbortSignal.timeout(5000))).resolves.toBeUndefined();
    const sent = fake.sent.at(-1)!;
    expect(sent).toMatchObject({ chatId: fake.chatId, parseMode: 'HTML' });
    expect(sent.text).toBe('<b>New order 261207-ABC &lt;b&gt;&amp;</b>\nGift card &lt;x&gt; × 2\nAmount: ¥12.50 &amp; more\n<i>Shop &amp; Co</i>');
    expect(sent.body.link_preview_options).toEqual({ is_disabled: true });
  });

  it('waits as long as a 429 says, retries what failed on the way, and gives up on a wrong token or chat', async () => {
    const c = await channel();
    fake.limitNext(1, 7);
    const before = Date.now();
    const waited = await c.send(message, AbortSignal.timeout(5000));
    expect(waited).toBeDefined();
    expect(waited!.retryAt).toBeGreaterThanOrEqual(before + 7000);
    expect(waited!.retryAt).toBeLessThanOrEqual(Date.now() + 7000);

    fake.failNext(1);
    const failed = await c.send(message, AbortSignal.timeout(5000)).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(Error);
    expect(failed).not.toBeInstanceOf(PermanentJobError);

    const wrongToken = await (await channel({ botToken: '123456789:AAsomeOtherTokenNotTheFakes_xyz' })).send(message, AbortSignal.timeout(5000)).catch((e: unknown) => e);
    expect(wrongToken).toBeInstanceOf(PermanentJobError);
    expect(String(wrongToken)).toContain('Telegram 401: Unauthorized');
    const wrongChat = await (await channel({ chatId: '-100999' })).send(message, AbortSignal.timeout(5000)).catch((e: unknown) => e);
    expect(wrongChat).toBeInstanceOf(PermanentJobError);
    expect(String(wrongChat)).toContain('chat not found');
  });

  it('refuses settings that cannot be a token or a chat, naming the field', async () => {
    await expect(setupPlugin(telegram, { botToken: 'nope', chatId: fake.chatId })).rejects.toMatchObject({ issues: [expect.objectContaining({ path: ['botToken'] })] });
    await expect(setupPlugin(telegram, { botToken: fake.token, chatId: 'general' })).rejects.toMatchObject({ issues: [expect.objectContaining({ path: ['chatId'] })] });
    expect((await setupPlugin(telegram, { botToken: fake.token, chatId: -1001 })).settings).toMatchObject({ chatId: '-1001', apiBase: 'https://api.telegram.org', alerts: ['order', 'stock', 'supplier', 'payment'], orderMinimum: 0, language: 'zh-CN' });
  });
});
