import { PermanentJobError, type AlertMessage } from '@cardshop/core';
import { setupPlugin } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import wecom from './index.js';
import { startFakeWecom, type FakeWecom } from './testing/fake-wecom.js';

const message: AlertMessage = { kind: 'stock', title: '库存不足：STEAM-100', body: 'STEAM-100 只剩 2 件，已到预警线 5 件。\n第二行', shop: '星河卡盟' };
const signal = () => AbortSignal.timeout(5000);

describe('the WeCom channel against a fake group robot', () => {
  let fake: FakeWecom;
  beforeAll(async () => {
    fake = await startFakeWecom();
  });
  afterAll(() => fake?.close());

  const channel = async (over: Record<string, unknown> = {}) => (await setupPlugin(wecom, { key: fake.key, apiBase: fake.url, ...over })).alertChannels[0]!;

  it('posts markdown (or text) to the robot of its key; the whole webhook address may be given', async () => {
    await expect((await channel()).send(message, signal())).resolves.toBeUndefined();
    expect(fake.sent.at(-1)).toEqual({
      msgtype: 'markdown',
      content: '**库存不足：STEAM-100**\n> STEAM-100 只剩 2 件，已到预警线 5 件。\n> 第二行\n<font color="comment">星河卡盟</font>',
      body: { msgtype: 'markdown', markdown: { content: expect.any(String) } },
    });
    const byUrl = await channel({ key: `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${fake.key}`, msgtype: 'text' });
    await byUrl.send(message, signal());
    expect(fake.sent.at(-1)).toMatchObject({ msgtype: 'text', content: '库存不足：STEAM-100\nSTEAM-100 只剩 2 件，已到预警线 5 件。\n第二行\n— 星河卡盟' });
  });

  it('cuts long messages to what WeCom takes, in bytes of UTF-8, without breaking a character', async () => {
    const long = { ...message, body: '汉'.repeat(3000) };
    await (await channel()).send(long, signal());
    expect(Buffer.byteLength(fake.sent.at(-1)!.content)).toBeLessThanOrEqual(4096);
    expect(fake.sent.at(-1)!.content).not.toContain('\uFFFD');
    await (await channel({ msgtype: 'text' })).send(long, signal());
    expect(Buffer.byteLength(fake.sent.at(-1)!.content)).toBeLessThanOrEqual(2048);
    expect(fake.sent.at(-1)!.content.endsWith('汉')).toBe(true);
  });

  it('waits for the next minute on 45009, retries what failed on the way, and gives up on a wrong key', async () => {
    const tight = await startFakeWecom({ perMinute: 1 });
    try {
      const c = (await setupPlugin(wecom, { key: tight.key, apiBase: tight.url })).alertChannels[0]!;
      await c.send(message, signal());
      const before = Date.now();
      const waited = await c.send(message, signal());
      expect(tight.limited).toBe(1);
      expect(waited!.retryAt).toBeGreaterThanOrEqual(before + 60_000);
      tight.failNext(1);
      const failed = await c.send(message, signal()).catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(Error);
      expect(failed).not.toBeInstanceOf(PermanentJobError);
    } finally {
      await tight.close();
    }
    const wrong = await (await channel({ key: '00000000-0000-0000-0000-000000000000' })).send(message, signal()).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(PermanentJobError);
    expect(String(wrong)).toContain('WeCom 93000: invalid webhook url');
  });

  it('refuses a key that cannot be one, naming the field', async () => {
    await expect(setupPlugin(wecom, { key: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send' })).rejects.toMatchObject({ issues: [expect.objectContaining({ path: ['key'] })] });
    await expect(setupPlugin(wecom, { key: fake.key, msgtype: 'news' as never })).rejects.toMatchObject({ issues: [expect.objectContaining({ path: ['msgtype'] })] });
  });
});
