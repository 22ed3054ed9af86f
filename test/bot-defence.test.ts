import { createHash, createHmac } from 'node:crypto';
import { dummyPayments, solveProofOfWork, startTestShop, TEST_DIALECTS, type TestClient, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardSku } from './fixtures.js';

/** Leading zero bits of SHA-256(text). */
function zeroBits(text: string): number {
  const digest = createHash('sha256').update(text).digest();
  let bits = 0;
  for (const byte of digest) {
    if (byte) return bits + Math.clz32(byte) - 24;
    bits += 8;
  }
  return bits;
}

/** What the browser's script does (@cardshop/core/testing's solver). */
const solve = solveProofOfWork;

async function challenge(client: TestClient, purpose: 'checkout' | 'register') {
  const r = await client.get(`/api/store/challenge?purpose=${purpose}`);
  expect(r.status).toBe(200);
  return r.body.challenge as { kind: string; token: string; bits: number; script: string; fallback: { token: string; image: string } };
}

const en = { 'accept-language': 'en' };

describe.each(TEST_DIALECTS)('bot defence on guest checkout and registration (%s)', (dialect) => {
  let t: TestShop;
  let code: string;
  // The guest limits count in fixed clock-hour windows: start just after the hour turns, so the
  // minutes the tests move the clock on never cross into the next window by chance.
  let now = Math.floor(Date.now() / 3_600_000) * 3_600_000 + 1_000;

  beforeAll(async () => {
    t = await startTestShop({
      dialect,
      config: { plugins: [dummyPayments()], botDefence: { checkout: true, register: true, powBits: 12, minutes: 5 }, checkout: { guestOrders: { ip: 4, contact: 2 } } },
    });
    // The shop's clock, so a challenge can expire without waiting.
    (t.shop as { now: () => number }).now = () => now;
    ({ code } = await cardSku(t.shop, { keys: 30, price: 1_000 }));
  });
  afterAll(() => t?.close());

  const order = (contact: string, extra: Record<string, unknown> = {}) => ({ sku: code, quantity: 1, contact, payment: 'dummy', ...extra });

  it('issues signed challenges and serves the solver', async () => {
    const c = await challenge(t.client(), 'checkout');
    expect(c).toMatchObject({ kind: 'pow', bits: 12, script: '/challenge/pow.js' });
    expect(c.fallback.image).toMatch(/^data:image\/svg\+xml;base64,/);
    const svg = Buffer.from(c.fallback.image.split(',')[1]!, 'base64').toString();
    expect(svg).toContain('<path');
    expect(svg).not.toMatch(/<text|\d+ [+-] \d+/); // the sum is drawn, not written
    const script = await t.client().get('/challenge/pow.js');
    expect(script.headers.get('content-type')).toContain('javascript');
    expect(script.text).toContain('data-challenge');
    expect((await t.client().get('/api/store/challenge?purpose=other')).status).toBe(400);
    // Issuing writes nothing: only a used challenge is recorded.
    expect(await t.shop.db.knex('challenge_uses').count({ n: '*' }).first()).toMatchObject({ n: 0 });
  });

  it('a guest checkout without, with a wrong, an expired or a reused solution is refused naming the field', async () => {
    const guest = t.client();
    const missing = await guest.request('POST', '/api/store/checkout', order('a@test.local'), en);
    expect(missing.status).toBe(400);
    expect(missing.body.error).toMatchObject({ code: 'challenge_failed', fields: { challenge: expect.stringContaining('missing') } });

    const c = await challenge(guest, 'checkout');
    const wrong = await guest.request('POST', '/api/store/checkout', order('a@test.local', { challenge: `${c.token}:not-a-nonce` }), en);
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.fields.challenge).toMatch(/did not pass/);
    // A nonce whose hash lacks the bits.
    let n = 0;
    while (zeroBits(`${c.token}:${n}`) >= 12) n++;
    expect((await guest.post('/api/store/checkout', order('a@test.local', { challenge: `${c.token}:${n}` }))).body.error.code).toBe('challenge_failed');
    // Forged: the right work over a token the shop did not sign.
    const forged = c.token.replace(/\.[^.]+$/, '.AAAAAAAAAAAAAAAAAAAAAA');
    expect((await guest.request('POST', '/api/store/checkout', order('a@test.local', { challenge: solve(forged, 12) }), en)).body.error.fields.challenge).toMatch(/did not pass/);
    // For the other form.
    const register = await challenge(guest, 'register');
    expect((await guest.post('/api/store/checkout', order('a@test.local', { challenge: solve(register.token, 12) }))).status).toBe(400);

    const solved = solve(c.token, 12);
    const first = await guest.post('/api/store/checkout', order('a@test.local', { challenge: solved }));
    expect(first.status).toBe(201);
    expect(first.body.order.status).toBe('pending_payment');
    const reused = await guest.request('POST', '/api/store/checkout', order('a@test.local', { challenge: solved }), en);
    expect(reused.status).toBe(400);
    expect(reused.body.error.fields.challenge).toMatch(/used already/);

    const old = await challenge(guest, 'checkout');
    now += 6 * 60_000;
    const expired = await guest.request('POST', '/api/store/checkout', order('b@test.local', { challenge: solve(old.token, 12) }), en);
    expect(expired.status).toBe(400);
    expect(expired.body.error.fields.challenge).toMatch(/expired/);
    expect(await t.shop.db.knex('orders').whereNotNull('contact').count({ n: '*' }).first()).toMatchObject({ n: 1 });
  });

  it('limits guest orders per contact and per address an hour, with 429 naming the limit', async () => {
    const guest = t.client();
    const place = async (contact: string) => guest.request('POST', '/api/store/checkout', order(contact, { challenge: solve((await challenge(guest, 'checkout')).token, 12) }), en);
    // a@test.local placed one order above; the second is the last this hour.
    expect((await place('a@test.local')).status).toBe(201);
    const third = await place('A@test.local');
    expect(third.status).toBe(429);
    expect(third.body.error).toMatchObject({ code: 'too_many_orders', fields: { contact: expect.stringContaining('limited to 2 an hour') } });
    // A refused order (bad input) does not count against them.
    const bad = await guest.post('/api/store/checkout', { ...order('c@test.local', { challenge: solve((await challenge(guest, 'checkout')).token, 12) }), quantity: 0 });
    expect(bad.status).toBe(400);
    expect((await place('c@test.local')).status).toBe(201);
    expect((await place('d@test.local')).status).toBe(201);
    const fifth = await place('e@test.local');
    expect(fifth.status).toBe(429);
    expect(fifth.body.error.message).toContain('Guest orders from this address are limited to 4 an hour');
    // Members are not guests: no challenge, no guest limit.
    const member = await t.createUser({ balance: 10_000 });
    const client = await t.client().login(member.email, member.password);
    expect((await client.post('/api/store/checkout', { sku: code, quantity: 1, payment: 'wallet' })).status).toBe(201);
    // A new hour, new counts.
    now += 3_600_000;
    expect((await place('e@test.local')).status).toBe(201);
  });

  it('registration needs a solved challenge, through the Store API and the page', async () => {
    const visitor = t.client();
    const refused = await visitor.request('POST', '/api/store/auth/register', { email: 'bot@test.local', password: 'password123' }, en);
    expect(refused.status).toBe(400);
    expect(refused.body.error.fields).toEqual({ challenge: expect.stringContaining('missing') });
    const c = await challenge(visitor, 'register');
    const ok = await visitor.post('/api/store/auth/register', { email: 'human@test.local', password: 'password123', challenge: solve(c.token, 12) });
    expect(ok.status).toBe(201);

    // The page: the form carries the challenge for its script; a post without the answer comes back with the error.
    const browser = t.client();
    const page = await browser.get('/register?lang=en');
    const token = /data-challenge="pow" data-token="([^"]+)" data-bits="12"/.exec(page.text)![1]!;
    expect(page.text).toContain('src="/challenge/pow.js"');
    const csrf = await browser.csrf('/register');
    const without = await browser.post('/register', new URLSearchParams({ _csrf: csrf, email: 'page@test.local', password: 'password123' }));
    expect(without.status).toBe(400);
    expect(without.text).toContain('The bot check is missing');
    const withIt = await browser.post('/register', new URLSearchParams({ _csrf: csrf, email: 'page@test.local', password: 'password123', challenge: solve(token, 12) }));
    expect(withIt.status).toBe(303);
  });

  it('without JavaScript, the drawn sum is the way in: one try per picture', async () => {
    const browser = t.client();
    const tokenOf = async () => {
      const page = await browser.get(`/checkout?sku=${code}`);
      expect(page.text).toMatch(/<noscript>[\s\S]*name="captchaAnswer"[\s\S]*<\/noscript>/);
      return /name="captchaToken" value="([^"]+)"/.exec(page.text)![1]!;
    };
    // What a person reads off the picture: the sum its token stands for (derived with the shop's key).
    const read = (token: string) => {
      const key = createHmac('sha256', t.shop.keys.tokens).update('bot-defence').digest();
      const h = createHmac('sha256', key).update(`captcha:${token.split('.')[3]}`).digest();
      const [a, b] = [10 + (h[0]! % 40), 1 + (h[1]! % 9)];
      return String(h[2]! % 2 ? a + b : a - b);
    };
    const csrf = await browser.csrf(`/checkout?sku=${code}`);
    const post = (captchaToken: string, captchaAnswer: string, contact: string) =>
      browser.post('/checkout', new URLSearchParams({ _csrf: csrf, sku: code, quantity: '1', contact, payment: 'dummy', captchaToken, captchaAnswer }));
    const token = await tokenOf();
    const right = await post(token, read(token), 'nojs@test.local');
    expect(right.status).toBe(303);
    expect(right.headers.get('location')).toMatch(/^https:\/\/pay\.example\.test\//);
    expect((await post(token, read(token), 'nojs2@test.local')).text).toMatch(/人机验证已使用过/);
    const other = await tokenOf();
    const wrong = await post(other, String(Number(read(other)) + 1), 'nojs3@test.local');
    expect(wrong.status).toBe(400);
    expect(wrong.text).toMatch(/人机验证未通过/);
    // A wrong guess used the picture up.
    expect((await post(other, read(other), 'nojs3@test.local')).text).toMatch(/人机验证已使用过/);
  });
});
