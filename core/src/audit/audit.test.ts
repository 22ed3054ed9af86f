import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestShop, TEST_DIALECTS, type TestShop } from '../testing/index.js';
import { audit, listAudit } from './audit.js';

describe.each(TEST_DIALECTS)('audit log (%s)', (dialect) => {
  let t: TestShop;
  beforeAll(async () => {
    t = await startTestShop({ dialect, listen: false });
  });
  afterAll(() => t?.close());

  it('records an entry with the change it made, in the caller transaction only', async () => {
    const admin = await t.createUser({ role: 'admin' });
    await t.shop.db.knex.transaction((trx) =>
      audit(t.shop, trx, { actorId: admin.id, action: 'order.confirm', targetType: 'order', targetId: 'A-1', before: { status: 'expired' }, after: { status: 'delivered' }, ip: '10.0.0.9' }),
    );
    await expect(
      t.shop.db.knex.transaction(async (trx) => {
        await audit(t.shop, trx, { actorId: admin.id, action: 'order.refund', targetType: 'order', targetId: 'A-1' });
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    await t.shop.db.knex.transaction((trx) => audit(t.shop, trx, { action: 'order.expire', targetType: 'order', targetId: 'B-2' }));

    const forA = await listAudit(t.shop, { targetType: 'order', targetId: 'A-1' });
    expect(forA).toHaveLength(1);
    expect(forA[0]).toMatchObject({ actorId: admin.id, action: 'order.confirm', before: { status: 'expired' }, after: { status: 'delivered' }, ip: '10.0.0.9' });
    expect(await listAudit(t.shop, { action: 'order.' })).toHaveLength(2);
    expect((await listAudit(t.shop, { actorId: admin.id })).map((e) => e.action)).toEqual(['order.confirm']);
  });
});
