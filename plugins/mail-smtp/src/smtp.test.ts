import { PermanentJobError, type AlertMessage } from '@cardshop/core';
import { setupPlugin } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import smtp from './index.js';
import { startFakeSmtp, type FakeSmtp } from './testing/fake-smtp.js';

const alert: AlertMessage = { kind: 'order', title: '新订单 261207-ABC', body: '点卡 × 2\n金额：¥12.50', shop: '星河卡盟' };

describe('the SMTP mailer against a local SMTP server', () => {
  let server: FakeSmtp;
  beforeAll(async () => {
    server = await startFakeSmtp();
  });
  afterAll(() => server?.close());

  const plugin = (over: Record<string, unknown> = {}) =>
    setupPlugin(smtp, { host: server.host, port: server.port, user: server.user, pass: server.pass, from: '星河卡盟 <shop@example.test>', ...over });

  it('logs in and sends the mail as given: sender, recipient, UTF-8 subject and body, extra headers', async () => {
    const { mailers } = await plugin();
    const headers = { 'List-Unsubscribe': '<https://shop.test/unsubscribe/1.abc>', 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' };
    await mailers[0]!.send({ to: 'buyer@example.test', subject: '订单 261207-ABC 已发货', text: '卡密：\nAAAA-BBBB\n', headers }, AbortSignal.timeout(5000));
    const got = server.received.at(-1)!;
    expect(got).toMatchObject({ from: 'shop@example.test', to: ['buyer@example.test'], subject: '订单 261207-ABC 已发货', text: '卡密：\nAAAA-BBBB\n' });
    expect(got.headers['list-unsubscribe']).toBe('<https://shop.test/unsubscribe/1.abc>');
    expect(got.headers['list-unsubscribe-post']).toBe('List-Unsubscribe=One-Click');
    expect(got.headers.from).toContain('<shop@example.test>');
  });

  it('retries what the server defers (451) and gives up on a refusal (550) or a wrong login (535)', async () => {
    const { mailers } = await plugin();
    const mail = { to: 'buyer@example.test', subject: 's', text: 't' };
    server.failNext(1, 451);
    const deferred = await mailers[0]!.send(mail, AbortSignal.timeout(5000)).catch((e: unknown) => e);
    expect(deferred).toBeInstanceOf(Error);
    expect(deferred).not.toBeInstanceOf(PermanentJobError);
    server.failNext(1, 550);
    expect(await mailers[0]!.send(mail, AbortSignal.timeout(5000)).catch((e: unknown) => e)).toBeInstanceOf(PermanentJobError);
    const wrong = await (await plugin({ pass: 'not-the-password' })).mailers[0]!.send(mail, AbortSignal.timeout(5000)).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(PermanentJobError);
    expect(String(wrong)).toContain('535');
  });

  it('is an alert channel only when alertTo names addresses, and sends alerts to them', async () => {
    expect((await plugin()).alertChannels).toEqual([]);
    const { alertChannels } = await plugin({ alertTo: ['ops@example.test', 'boss@example.test'], language: 'en' });
    expect(alertChannels[0]!.rules).toMatchObject({ language: 'en', alerts: ['order', 'stock', 'supplier', 'payment'] });
    await alertChannels[0]!.send(alert, AbortSignal.timeout(5000));
    expect(server.received.at(-1)).toMatchObject({ to: ['ops@example.test', 'boss@example.test'], subject: '[星河卡盟] 新订单 261207-ABC', text: '点卡 × 2\n金额：¥12.50\n\n星河卡盟\n' });
  });

  it('refuses settings that cannot work, naming the field, and keeps the password a secret', async () => {
    await expect(plugin({ from: 'not an address' })).rejects.toMatchObject({ issues: [expect.objectContaining({ path: ['from'] })] });
    await expect(plugin({ port: 70_000 })).rejects.toMatchObject({ issues: [expect.objectContaining({ path: ['port'] })] });
    await expect(plugin({ alertTo: ['ops'] })).rejects.toMatchObject({ issues: [expect.objectContaining({ path: ['alertTo', 0] })] });
    const { settings } = await plugin();
    expect(String(settings.pass)).toBe('[secret]');
    expect(JSON.stringify(settings)).not.toContain(server.pass);
  });
});
