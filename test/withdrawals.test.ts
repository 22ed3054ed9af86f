import { verifyLedger } from '@cardshop/core';
import { startTestShop, TEST_DIALECTS, type TestClient, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe.each(TEST_DIALECTS)('withdrawals (%s)', (dialect) => {
  let t: TestShop;
  let admin: TestClient;

  const account = async (code: string) => Number((await t.shop.db.knex('accounts').where('code', code).first('balance'))?.balance ?? 0);
  const seller = async (balance: number) => {
    const u = await t.createUser({ balance });
    return { ...u, client: await t.client().login(u.email, u.password) };
  };
  const ask = (c: TestClient, amount: number, extra: Record<string, unknown> = {}) =>
    c.post('/api/store/wallet/withdrawals', { amount, method: 'alipay', payee: 'agent@example.com', ...extra });

  beforeAll(async () => {
    t = await startTestShop({ dialect });
    const a = await t.createUser({ role: 'admin' });
    admin = await t.client().login(a.email, a.password);
  });
  afterAll(() => t?.close());

  it('asking holds the money; bad requests name the field and write nothing', async () => {
    const u = await seller(10_000);
    for (const [body, field] of [
      [{ amount: 50 }, 'amount'],
      [{ amount: 1_000, method: 'paypal' }, 'method'],
      [{ amount: 1_000, payee: '' }, 'payee'],
      [{ amount: 10.5 }, 'amount'],
    ] as const) {
      const r = await ask(u.client, 0, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.fields[field]).toBeTruthy();
    }
    const tooMuch = await ask(u.client, 10_001);
    expect(tooMuch.status).toBe(402);
    expect(await t.shop.db.knex('withdrawals').where('user_id', u.id).count({ n: '*' }).first()).toMatchObject({ n: 0 });

    const r = await ask(u.client, 3_000);
    expect(r.status).toBe(201);
    expect(r.body.withdrawal).toMatchObject({ amount: 3_000, status: 'pending', payee: 'age***com' });
    expect(await account(`wallet:${u.id}`)).toBe(7_000);
    expect(await account(`hold:${u.id}`)).toBe(3_000);
    expect((await u.client.get('/api/store/wallet/withdrawals')).body.withdrawals).toHaveLength(1);
    expect((await u.client.get('/api/admin/withdrawals')).status).toBe(403);
  });

  it('parallel requests never hold more than the balance', async () => {
    const u = await seller(10_000);
    const results = await Promise.all(Array.from({ length: 20 }, () => ask(u.client, 3_000)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(3);
    for (const r of results.filter((r) => r.status !== 201)) expect(r.body.error.code).toBe('insufficient_balance');
    expect(await account(`wallet:${u.id}`)).toBe(1_000);
    expect(await account(`hold:${u.id}`)).toBe(9_000);
  });

  it('the admin pays out with a reference or refuses with a reason; each decides once, even in a race', async () => {
    const u = await seller(100_000);
    const ids: number[] = [];
    for (let i = 0; i < 10; i++) ids.push((await ask(u.client, 5_000)).body.withdrawal.id);
    const payoutsBefore = await account('platform:payouts');

    const reveal = await admin.post(`/api/admin/withdrawals/${ids[0]}/payee`);
    expect(reveal.body.payee).toBe('agent@example.com');
    expect(await t.shop.db.knex('audit_log').where({ action: 'withdrawal.reveal', target_id: String(ids[0]) }).count({ n: '*' }).first()).toMatchObject({ n: 1 });

    // every withdrawal is paid and refused at the same moment, twice over
    const decisions = await Promise.all(
      ids.flatMap((id) => [
        admin.post(`/api/admin/withdrawals/${id}/decide`, { decision: 'paid', payoutRef: `ALI-${id}` }),
        admin.post(`/api/admin/withdrawals/${id}/decide`, { decision: 'rejected', reason: 'race' }),
        admin.post(`/api/admin/withdrawals/${id}/decide`, { decision: 'paid', payoutRef: `ALI-${id}-again` }),
      ]),
    );
    expect(decisions.filter((d) => d.status === 200)).toHaveLength(10);
    for (const d of decisions.filter((d) => d.status !== 200)) expect(d.body.error.code).toBe('invalid_state');
    const rows = await t.shop.db.knex('withdrawals').whereIn('id', ids).select('status');
    const paid = rows.filter((r) => r.status === 'paid').length;
    expect(paid + rows.filter((r) => r.status === 'rejected').length).toBe(10);

    expect(await account(`hold:${u.id}`)).toBe(0);
    expect((await account('platform:payouts')) - payoutsBefore).toBe(paid * 5_000);
    expect(await account(`wallet:${u.id}`)).toBe(50_000 + (10 - paid) * 5_000);
    expect((await admin.post(`/api/admin/withdrawals/${ids[0]}/decide`, { decision: 'paid' })).status).toBe(400);
    expect(await verifyLedger(t.shop)).toMatchObject({ ok: true, negative: [] });
  });

  it('a rule may refuse a withdrawal before anything moves (before.withdraw)', async () => {
    const u = await seller(10_000);
    t.shop.hooks.veto('before.withdraw', ({ amount }) => (amount > 5_000 ? 'verify your identity first' : undefined), 'test');
    const r = await ask(u.client, 6_000);
    expect(r.status).toBe(403);
    expect(await account(`wallet:${u.id}`)).toBe(10_000);
    expect((await ask(u.client, 1_000)).status).toBe(201);
  });

  it('the console lists pending withdrawals, shows the account on request, and pays one out', async () => {
    const u = await seller(10_000);
    const id = (await ask(u.client, 2_000, { method: 'bank', payee: 'ICBC 6222 0000 1111 Zhang San' })).body.withdrawal.id;
    const page = await admin.get('/admin/withdrawals');
    expect(page.status).toBe(200);
    expect(page.text).toContain(`data-withdrawal="${id}"`);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
    const shown = await admin.post(`/admin/withdrawals/${id}/payee`, new URLSearchParams({ _csrf: csrf }));
    expect(shown.text).toContain('ICBC 6222 0000 1111 Zhang San');
    const paid = await admin.post(`/admin/withdrawals/${id}`, new URLSearchParams({ _csrf: csrf, decision: 'paid', payoutRef: 'BANK-778' }));
    expect(paid.status).toBe(303);
    expect((await t.shop.db.knex('withdrawals').where('id', id).first('status', 'payout_ref'))).toMatchObject({ status: 'paid', payout_ref: 'BANK-778' });
    // and the user sees it in the agent centre
    expect((await u.client.get('/agent')).text).toContain('¥20.00');
  });
});
