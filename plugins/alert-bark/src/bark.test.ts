import { PermanentJobError, type AlertMessage } from '@cardshop/core';
import { setupPlugin } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import bark from './index.js';
import { startFakeBark, type FakeBark } from './testing/fake-bark.js';

const message: AlertMessage = { kind: 'payment', title: 'Payment not confirmed: 261207-X', body: 'line one\nline two', shop: 'Shop' };
const signal = () => AbortSignal.timeout(5000);

describe('the Bark channel against a fake bark-server', () => {
  let fake: FakeBark;
  let guarded: FakeBark;
  beforeAll(async () => {
    fake = await startFakeBark();
    guarded = await startFakeBark({ auth: { user: 'boss', password: 'p@ss word' } });
  });
  afterAll(async () => {
    await fake?.close();
    await guarded?.close();
  });

  const channel = async (over: Record<string, unknown> = {}) => (await setupPlugin(bark, { deviceKey: fake.deviceKey, server: fake.url, ...over })).alertChannels[0]!;

  it('pushes title, body, group and a level by urgency to /push', async () => {
    await (await channel()).send(message, signal());
    expect(fake.pushed.at(-1)!.raw).toEqual({ device_key: fake.deviceKey, title: message.title, body: 'line one\nline two', group: 'Shop', level: 'timeSensitive' });
    await (await channel({ group: '卡盟' })).send({ ...message, kind: 'order' }, signal());
    expect(fake.pushed.at(-1)).toMatchObject({ group: '卡盟', level: 'active' });
  });

  it("sends a self-hosted server's basic auth as a header", async () => {
    const server = guarded.url.replace('http://', 'http://boss:p%40ss%20word@');
    await (await setupPlugin(bark, { deviceKey: guarded.deviceKey, server })).alertChannels[0]!.send(message, signal());
    expect(guarded.pushed).toHaveLength(1);
    const noAuth = await (await setupPlugin(bark, { deviceKey: guarded.deviceKey, server: guarded.url })).alertChannels[0]!.send(message, signal()).catch((e: unknown) => e);
    expect(noAuth).toBeInstanceOf(PermanentJobError);
    expect(String(noAuth)).toContain('Bark 401');
  });

  it('retries a failed push and gives up on a device key the server does not know', async () => {
    fake.failNext(1);
    const failed = await (await channel()).send(message, signal()).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(Error);
    expect(failed).not.toBeInstanceOf(PermanentJobError);
    const wrong = await (await channel({ deviceKey: 'NotTheKeyOfAnyDevice' })).send(message, signal()).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(PermanentJobError);
    expect(String(wrong)).toContain('failed to get device token');
  });
});
