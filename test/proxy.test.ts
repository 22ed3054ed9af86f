import { startTestShop, TEST_DIALECTS } from '@cardshop/core/testing';
import { describe, expect, it } from 'vitest';

describe.each(TEST_DIALECTS)('behind an HTTPS proxy (%s)', (dialect) => {
  it('marks cookies Secure only when told to trust the proxy', async () => {
    for (const trustProxy of [true, false]) {
      const t = await startTestShop({ dialect, config: { trustProxy } });
      try {
        const u = await t.createUser();
        const r = await t.client().post('/api/store/auth/login', { email: u.email, password: u.password }, { 'x-forwarded-proto': 'https' });
        expect(r.status).toBe(200);
        const session = r.headers.getSetCookie().find((c) => c.startsWith('cs_session='))!;
        expect(session).toMatch(/httponly/i);
        expect(session).toMatch(/samesite=lax/i);
        expect(/;\s*secure/i.test(session)).toBe(trustProxy);
      } finally {
        await t.close();
      }
    }
  });
});
