import { describe, expect, it } from 'vitest';
import { evaluate, ipListed, type Attempt, type Facts } from './rules.js';
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
};
const decide = (settings: RiskSettingsInput, a: Partial<Attempt> = {}, f: Partial<Facts> = {}, ids: string[] = []) =>
  evaluate(settingsSchema.parse(settings), { ...attempt, ...a }, { ...quiet, ...f }, new Set(ids));

describe('risk rules', () => {
  it('lets an ordinary order through', () => {
    expect(decide({})).toEqual({ block: null, flagged: [] });
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
    expect(decide({ ipMode: 'dry-run', userMode: 'dry-run' }, {}, busy)).toEqual({ block: null, flagged: ['ip', 'user'] });
    expect(decide({ ipMode: 'dry-run' }, {}, busy)).toEqual({ block: 'user', flagged: ['ip'] });
    expect(decide({ ipMode: 'off', userMode: 'off' }, {}, busy)).toEqual({ block: null, flagged: [] });
  });

  it('reads the admin form\'s ID list as one string', () => {
    expect(settingsSchema.parse({ blockIdNumbers: '11010519491231002x, 440524188001010014' }).blockIdNumbers).toEqual(['11010519491231002X', '440524188001010014']);
  });
});
