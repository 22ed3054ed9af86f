import { becomeAgent, refundOrder, saveLevel, setMarkups, setSkuPricing, settleRebates, setTier, verifyLedger, type Shop } from '@cardshop/core';
import { dummyPayments, startTestShop, TEST_DIALECTS, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku, otherSku } from './fixtures.js';

const balance = async (shop: Shop, userId: number) => Number((await shop.db.knex('accounts').where('code', `wallet:${userId}`).first('balance')).balance);
const account = async (shop: Shop, code: string) => Number((await shop.db.knex('accounts').where('code', code).first('balance')).balance);

/**
 * A three-level chain: top (gold: cost + 10 %) ← agent (silver) ← buyer (member). The top marks
 * silver members up ¥5.00, the agent marks everyone up ¥7.00: on a SKU of retail ¥100 and cost
 * ¥80 the top's price is ¥88, the agent's ¥93, and the buyer pays ¥100.
 */
async function chain(t: TestShop) {
  const admin = { id: (await t.createUser({ role: 'admin' })).id };
  await saveLevel(t.shop, { code: 'silver', name: 'Silver', rank: 10, ruleKind: 'retail_percent', ruleValue: 9_500 }, admin);
  await saveLevel(t.shop, { code: 'gold', name: 'Gold', rank: 20, ruleKind: 'cost_plus_percent', ruleValue: 1_000 }, admin);
  const top = await t.createUser();
  const agent = await t.createUser({ uplineId: top.id });
  await t.shop.db.knex('users').where('id', top.id).update({ level_id: (await t.shop.db.knex('agent_levels').where('code', 'gold').first('id')).id });
  await t.shop.db.knex('users').where('id', agent.id).update({ level_id: (await t.shop.db.knex('agent_levels').where('code', 'silver').first('id')).id });
  const asAgents = { top: { ...top, ...(await becomeAgent(t.shop, top)) }, agent: { ...agent, ...(await becomeAgent(t.shop, agent)) } };
  await setMarkups(t.shop, asAgents.top, { markups: [{ scope: 'all', level: 'silver', kind: 'fixed', value: 500 }] });
  await setMarkups(t.shop, asAgents.agent, { markups: [{ scope: 'all', kind: 'fixed', value: 700 }] });
  return { admin, ...asAgents };
}

describe.each(TEST_DIALECTS)('agent margins (%s)', (dialect) => {
  let t: TestShop;
  let c: Awaited<ReturnType<typeof chain>>;

  beforeAll(async () => {
    t = await startTestShop({ dialect, config: { plugins: [dummyPayments()] } });
    c = await chain(t);
  });
  afterAll(() => t?.close());

  it('the buyer pays 100.00, each upline gets exactly its difference, and a refund takes it back', async () => {
    const { code } = await cardSku(t.shop, { keys: 5, price: 10_000 });
    await setSkuPricing(t.shop, { sku: code, cost: 8_000, floor: null, ceiling: null }, c.admin);
    const buyer = await t.createUser({ uplineId: c.agent.id, balance: 50_000 });
    const client = await t.client().login(buyer.email, buyer.password);

    const listed = await client.get('/api/store/products');
    const sku = listed.body.products.flatMap((p: { skus: Array<{ code: string; price: number }> }) => p.skus).find((s: { code: string }) => s.code === code);
    expect(sku.price).toBe(10_000);
    const agentView = await (await t.client().login(c.agent.email, c.agent.password)).get(`/api/store/products`);
    expect(agentView.body.products.flatMap((p: { skus: Array<{ code: string; price: number }> }) => p.skus).find((s: { code: string }) => s.code === code).price).toBe(9_300);

    const revenueBefore = await account(t.shop, 'platform:revenue');
    const r = await client.post('/api/store/checkout', { sku: code, quantity: 2, payment: 'wallet' });
    expect(r.status).toBe(201);
    expect(r.body.order).toMatchObject({ status: 'delivered', unitPrice: 10_000, amount: 20_000 });
    expect(await balance(t.shop, buyer.id)).toBe(30_000);
    expect(await balance(t.shop, c.agent.id)).toBe(1_400);
    expect(await balance(t.shop, c.top.id)).toBe(1_000);
    expect((await account(t.shop, 'platform:revenue')) - revenueBefore).toBe(17_600);
    // one journal transaction: the sale and both margins
    const entries = await t.shop.db.knex('journal_entries').where('txn_id', `order:${r.body.order.no}:pay`).select('amount');
    expect(entries.map((e) => Number(e.amount)).sort((a, b) => a - b)).toEqual([-20_000, 1_000, 1_400, 17_600]);

    await refundOrder(t.shop, t.shop.plugins.gateways, { no: r.body.order.no, reason: 'test', actorId: c.admin.id });
    expect(await balance(t.shop, buyer.id)).toBe(50_000);
    expect(await balance(t.shop, c.agent.id)).toBe(0);
    expect(await balance(t.shop, c.top.id)).toBe(0);
    expect(await account(t.shop, 'platform:revenue')).toBe(revenueBefore);
    expect(await verifyLedger(t.shop)).toMatchObject({ ok: true });
  });

  it('a margin already spent is taken back as far as the wallet holds it; no wallet goes negative', async () => {
    const { code } = await cardSku(t.shop, { keys: 2, price: 10_000 });
    await setSkuPricing(t.shop, { sku: code, cost: 8_000, floor: null, ceiling: null }, c.admin);
    const buyer = await t.createUser({ uplineId: c.agent.id, balance: 10_000 });
    const client = await t.client().login(buyer.email, buyer.password);
    const r = await client.post('/api/store/checkout', { sku: code, quantity: 1, payment: 'wallet' });
    expect(r.status).toBe(201);
    const agentBefore = await balance(t.shop, c.agent.id);
    // the agent spends 6.00 of its 7.00 margin
    const agentClient = await t.client().login(c.agent.email, c.agent.password);
    const { code: cheap } = await cardSku(t.shop, { keys: 1, price: 600 });
    await t.shop.db.knex('agent_markups').where('agent_id', c.top.id).delete();
    expect((await agentClient.post('/api/store/checkout', { sku: cheap, quantity: 1, payment: 'wallet' })).status).toBe(201);
    const left = await balance(t.shop, c.agent.id);
    expect(left).toBeLessThan(700 + agentBefore);

    await refundOrder(t.shop, t.shop.plugins.gateways, { no: r.body.order.no, reason: 'test', actorId: c.admin.id });
    expect(await balance(t.shop, c.agent.id)).toBe(Math.max(0, left - 700));
    expect(await balance(t.shop, buyer.id)).toBe(10_000);
    expect(await verifyLedger(t.shop)).toMatchObject({ ok: true, negative: [] });
    await setMarkups(t.shop, c.top, { markups: [{ scope: 'all', level: 'silver', kind: 'fixed', value: 500 }] });
  });

  it('a product delivered later pays its margins on delivery, not at payment', async () => {
    const { code } = await otherSku(t.shop, 'manual', `MAN-${dialect}`, 10_000);
    const buyer = await t.createUser({ uplineId: c.agent.id, balance: 20_000 });
    const client = await t.client().login(buyer.email, buyer.password);
    const agentBefore = await balance(t.shop, c.agent.id);
    const r = await client.post('/api/store/checkout', { sku: code, quantity: 1, payment: 'wallet', fields: { phone: '13800138000' } });
    expect(r.status).toBe(201);
    expect(r.body.order.status).toBe('paid');
    expect(await balance(t.shop, c.agent.id)).toBe(agentBefore);
    const admin = await t.client().login((await t.createUser({ role: 'admin' })).email, 'password123');
    const d = await admin.post(`/api/admin/orders/${r.body.order.no}/deliver`, { content: 'done' });
    expect(d.status).toBe(200);
    // No cost known: the top (gold, cost-plus) pays retail 100.00, the agent 105.00 (the top's
    // markup for silver), the buyer 112.00 (the agent's); credited now, on delivery.
    expect(r.body.order.amount).toBe(11_200);
    const margins = await t.shop.db.knex('order_margins').where('order_id', r.body.order.id).select('agent_id', 'amount', 'status');
    expect(margins.map((m) => [m.agent_id, Number(m.amount), m.status]).sort()).toEqual([[c.top.id, 500, 'credited'], [c.agent.id, 700, 'credited']].sort());
    expect(await balance(t.shop, c.agent.id)).toBe(agentBefore + 700);
    expect(await verifyLedger(t.shop)).toMatchObject({ ok: true });
  });

  it('a downline order paid through a gateway pays the margins once, however many notifies arrive', async () => {
    const { code } = await cardSku(t.shop, { keys: 2, price: 10_000 });
    await setSkuPricing(t.shop, { sku: code, cost: 8_000, floor: null, ceiling: null }, c.admin);
    const buyer = await t.createUser({ uplineId: c.agent.id });
    const client = await t.client().login(buyer.email, buyer.password);
    const [agentBefore, topBefore] = [await balance(t.shop, c.agent.id), await balance(t.shop, c.top.id)];
    const placed = await client.post('/api/store/checkout', { sku: code, quantity: 1, payment: 'dummy' });
    expect(placed.status).toBe(201);
    expect(placed.body.order).toMatchObject({ status: 'pending_payment', amount: 10_000 });
    expect(await balance(t.shop, c.agent.id)).toBe(agentBefore);
    const notified = await Promise.all(Array.from({ length: 20 }, () => t.notify({ orderNo: placed.body.order.no, amount: 10_000 })));
    expect(notified.every((r) => r.text === 'ok')).toBe(true);
    expect(await balance(t.shop, c.agent.id)).toBe(agentBefore + 700);
    expect(await balance(t.shop, c.top.id)).toBe(topBefore + 500);
    expect(await verifyLedger(t.shop)).toMatchObject({ ok: true });
  });

  it('many downline purchases at once: every margin credited once, the ledger balanced', async () => {
    const { code } = await cardSku(t.shop, { keys: 150, price: 10_000 });
    await setSkuPricing(t.shop, { sku: code, cost: 8_000, floor: null, ceiling: null }, c.admin);
    const buyers = [];
    for (let i = 0; i < 30; i++) buyers.push(await t.createUser({ uplineId: c.agent.id, balance: 100_000 }));
    const clients = await Promise.all(buyers.map((b) => t.client().login(b.email, b.password)));
    const [agentBefore, topBefore] = [await balance(t.shop, c.agent.id), await balance(t.shop, c.top.id)];

    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => clients[i % clients.length]!.post('/api/store/checkout', { sku: code, quantity: 1, payment: 'wallet' })));
    const sold = results.filter((r) => r.status === 201);
    expect(sold).toHaveLength(150);
    for (const r of results.filter((r) => r.status !== 201)) expect(r.body.error.code).toBe('out_of_stock');

    expect(await balance(t.shop, c.agent.id)).toBe(agentBefore + 150 * 700);
    expect(await balance(t.shop, c.top.id)).toBe(topBefore + 150 * 500);
    const ids = sold.map((r) => r.body.order.id);
    const rows = await t.shop.db.knex('order_margins').whereIn('order_id', ids).select('status');
    expect(rows).toHaveLength(300);
    expect(rows.every((m) => m.status === 'credited')).toBe(true);
    expect(await verifyLedger(t.shop)).toMatchObject({ ok: true, drift: [], unbalanced: [], negative: [] });
  });

  it('a buyer is lifted to a level by its spend, or buys one from the wallet, and pays the new prices next', async () => {
    await saveLevel(t.shop, { code: 'bronze', name: 'Bronze', rank: 5, ruleKind: 'retail_percent', ruleValue: 9_800, upgradeSpend: 20_000 }, c.admin);
    await saveLevel(t.shop, { code: 'vip', name: 'VIP', rank: 30, ruleKind: 'retail_percent', ruleValue: 8_000, upgradePrice: 5_000 }, c.admin);
    const { code } = await cardSku(t.shop, { keys: 10, price: 10_000 });
    const buyer = await t.createUser({ balance: 100_000 });
    const client = await t.client().login(buyer.email, buyer.password);
    expect((await client.post('/api/store/checkout', { sku: code, quantity: 2, payment: 'wallet' })).body.order.amount).toBe(20_000);
    // 200.00 spent: bronze (98 %)
    expect((await client.post('/api/store/checkout', { sku: code, quantity: 1, payment: 'wallet' })).body.order.amount).toBe(9_800);
    expect((await client.post('/api/store/agent/level', { level: 'gold' })).status).toBe(400); // not for sale
    const bought = await client.post('/api/store/agent/level', { level: 'vip' });
    expect(bought.status).toBe(200);
    expect((await client.post('/api/store/agent/level', { level: 'vip' })).body.error.code).toBe('level_not_higher');
    expect((await client.post('/api/store/checkout', { sku: code, quantity: 1, payment: 'wallet' })).body.order.amount).toBe(8_000);
    expect(await balance(t.shop, buyer.id)).toBe(100_000 - 20_000 - 9_800 - 5_000 - 8_000);
    expect(await verifyLedger(t.shop)).toMatchObject({ ok: true });
  });

  it('monthly rebates pay each agent once, however often settled', async () => {
    await setTier(t.shop, { level: 'silver', minVolume: 100_000, percentBp: 200 }, c.admin);
    const month = new Date();
    const label = `${month.getFullYear()}-${String(month.getMonth() + 1).padStart(2, '0')}`;
    // the month is not over: refused
    await expect(settleRebates(t.shop, label)).rejects.toMatchObject({ code: 'validation_failed' });
    const later = { ...t.shop, now: () => new Date(month.getFullYear(), month.getMonth() + 1, 2).getTime() };
    const first = await settleRebates(later, label);
    const again = await settleRebates(later, label);
    expect(first.paid).toBeGreaterThanOrEqual(1);
    expect(again).toMatchObject({ paid: 0, skipped: first.paid, total: 0 });
    const payout = await t.shop.db.knex('rebate_payouts').where({ month: label, user_id: c.agent.id }).first();
    expect(Number(payout.amount)).toBe(Math.round((Number(payout.volume) * 200) / 10_000));
    expect(await verifyLedger(t.shop)).toMatchObject({ ok: true });
  });
});
