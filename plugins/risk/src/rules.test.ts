import { describe, expect, it } from 'vitest';
import { evaluate, ipListed, score, type Attempt, type Facts } from './rules.js';
import { settingsSchema, type RiskSettingsInput } from './settings.js';

const attempt: Attempt = { kind: 'checkout', userId: 7, ip: '198.51.100.7', device: 'dev1', contact: 'a@example.com', skuId: 1, quantity: 1, amount: 1_000 };
const quiet: Facts = {
  ipAttempts: 1,
  deviceAttempts: 1,
  contactAttempts: 1,
  contactIps: 1,
  userAttempts: 1,
  userDailyAmount: 0,
  accountAgeMs: 30 * 86_400_000,
  userOrders: 10,
  idFingerprint: null,
  deviceIps: 1,
  userIps: 1,
  deviceContacts: 1,
};
const decide = (settings: RiskSettingsInput, a: Partial<Attempt> = {}, f: Partial<Facts> = {}, ids: string[] = []) =>
  evaluate(settingsSchema.parse(settings), { ...attempt, ...a }, { ...quiet, ...f }, new Set(ids));

describe('risk rules', () => {
  it('lets an ordinary order through', () => {
    expect(decide({})).toEqual({ block: null, hold: false, flagged: [], score: 0, signals: [] });
  });

  it('blocks at the first limit passed, counting this attempt', () => {
    expect(decide({}, {}, { ipAttempts: 8 }).block).toBeNull();
    expect(decide({}, {}, { ipAttempts: 9 }).block).toBe('ip');
    expect(decide({}, {}, { deviceAttempts: 6 }).block).toBe('device');
    expect(decide({}, {}, { contactAttempts: 6 }).block).toBe('contact');
    expect(decide({}, {}, { contactIps: 4 }).block).toBe('contact');
    expect(decide({}, {}, { userAttempts: 6 }).block).toBe('user');
    expect(decide({}, { amount: 500_001 }).block).toBe('limits');
    expect(decide({}, { quantity: 101 }).block).toBe('limits');
    expect(decide({}, { kind: 'topup', amount: 600_000 }).block).toBeNull();
    expect(decide({}, { kind: 'topup', amount: 1_000_001 }).block).toBe('limits');
    expect(decide({}, { amount: 5_000 }, { userDailyAmount: 1_995_001 }).block).toBe('daily');
    expect(decide({}, { amount: 5_000 }, { userDailyAmount: 1_995_000 }).block).toBeNull();
  });

  it('limits the first orders of a new account, not a guest\'s', () => {
    const young = { accountAgeMs: 3_600_000, userOrders: 0 };
    expect(decide({}, { quantity: 5, amount: 20_000 }, young).block).toBeNull();
    expect(decide({}, { quantity: 6 }, young).block).toBe('new-account');
    expect(decide({}, { amount: 20_001 }, young).block).toBe('new-account');
    expect(decide({}, {}, { ...young, userOrders: 3 }).block).toBe('new-account');
    expect(decide({}, { quantity: 6 }, { accountAgeMs: 25 * 3_600_000 }).block).toBeNull();
    expect(decide({}, { userId: null, quantity: 50 }, { accountAgeMs: null }).block).toBeNull();
    expect(decide({}, { kind: 'topup', amount: 50_000 }, young).block).toBeNull();
  });

  it('matches blacklists: IPs and ranges, contacts, devices, verified ID numbers', () => {
    expect(decide({ blockIps: ['203.0.113.0/24'] }, { ip: '203.0.113.200' }).block).toBe('blacklist');
    expect(decide({ blockIps: ['203.0.113.0/24'] }, { ip: '203.0.114.1' }).block).toBeNull();
    expect(decide({ blockIps: ['2001:db8::1'] }, { ip: '2001:db8::1' }).block).toBe('blacklist');
    expect(decide({ blockContacts: ['A@Example.com'] }).block).toBe('blacklist');
    expect(decide({ blockDevices: ['dev1'] }).block).toBe('blacklist');
    expect(decide({}, {}, { idFingerprint: 'f1' }, ['f1']).block).toBe('blacklist');
    expect(ipListed('::ffff:10.1.2.3', ['10.0.0.0/8'])).toBe(true);
    expect(ipListed('10.1.2.3', ['10.0.0.0/33'])).toBe(false);
  });

  it('records what a dry-run rule would have refused, and lets it through; off rules stay silent', () => {
    const busy = { ipAttempts: 50, userAttempts: 50 };
    const quietScore = { reviewMode: 'off' } as const;
    expect(decide({ ...quietScore, ipMode: 'dry-run', userMode: 'dry-run' }, {}, busy)).toMatchObject({ block: null, flagged: ['ip', 'user'] });
    expect(decide({ ...quietScore, ipMode: 'dry-run' }, {}, busy)).toMatchObject({ block: 'user', flagged: ['ip'] });
    expect(decide({ ...quietScore, ipMode: 'off', userMode: 'off' }, {}, busy)).toMatchObject({ block: null, flagged: [] });
  });

  it('holds a checkout for review when two signals add up to the threshold; one alone never does', () => {
    const bot = { device: null };
    expect(decide({}, bot)).toMatchObject({ hold: false, score: 40, signals: ['no-device'] });
    expect(decide({}, { ...bot, api: true }, { ipAttempts: 5 })).toMatchObject({ hold: false, signals: ['velocity'] });
    expect(decide({}, {}, { ipAttempts: 5 })).toMatchObject({ hold: false, score: 40, signals: ['velocity'] });
    expect(decide({}, bot, { ipAttempts: 5 })).toMatchObject({ block: null, hold: true, score: 80, signals: ['no-device', 'velocity'] });
    expect(decide({}, {}, { deviceContacts: 2, deviceIps: 3 })).toMatchObject({ hold: true, signals: ['ip-spread', 'shared-device'] });
    expect(decide({}, {}, { userIps: 3, accountAgeMs: 3_600_000, userOrders: 0 })).toMatchObject({ hold: true, score: 60, signals: ['ip-spread', 'new-account'] });
    // A rule that refuses wins over a hold; a top-up is never scored; the mode and the points are the operator's.
    expect(decide({}, bot, { ipAttempts: 9 })).toMatchObject({ block: 'ip', hold: false });
    expect(decide({}, { ...bot, kind: 'topup' }, { ipAttempts: 5 })).toMatchObject({ hold: false, score: 0 });
    expect(decide({ reviewMode: 'dry-run' }, bot, { ipAttempts: 5 })).toMatchObject({ hold: false, flagged: ['review'], score: 80 });
    expect(decide({ reviewScore: 100 }, bot, { ipAttempts: 5 }).hold).toBe(false);
    expect(score(settingsSchema.parse({ scoreNoDevice: 0 }), { ...attempt, device: null }, quiet)).toEqual({ score: 0, signals: [] });
  });

  it('reads the admin form\'s ID list as one string', () => {
    expect(settingsSchema.parse({ blockIdNumbers: '11010519491231002x, 440524188001010014' }).blockIdNumbers).toEqual(['11010519491231002X', '440524188001010014']);
  });
});
