import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { hashPassword, verifyPassword } from '../core/src/security/password.js';
import { cents, millis } from '../core/src/import/source.js';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const acg = (password: string, salt: string) => createHash('sha1').update(md5(md5(password) + md5(salt))).digest('hex');
// dujiaoka's install: laravel-admin's admin, password "admin" (PHP's $2y$).
const DUJIAOKA_ADMIN = '$2y$10$e7z99Mhxm9BOHL55xHZTx.QcNTZJC6ftRXHCR/ZkBja/jBeasVeBy';

describe('legacy password hashes from imported shops', () => {
  it("checks dujiaoka's bcrypt and acg-faka's salted sha1/md5", async () => {
    expect(await verifyPassword('admin', `legacy-bcrypt$${DUJIAOKA_ADMIN}`)).toBe(true);
    expect(await verifyPassword('admin ', `legacy-bcrypt$${DUJIAOKA_ADMIN}`)).toBe(false);
    expect(await verifyPassword('秘密-pass', `legacy-acg$s4lt$${acg('秘密-pass', 's4lt')}`)).toBe(true);
    expect(await verifyPassword('秘密-pasS', `legacy-acg$s4lt$${acg('秘密-pass', 's4lt')}`)).toBe(false);
    expect(await verifyPassword('pass', `legacy-acg$other$${acg('pass', 's4lt')}`)).toBe(false);
  });

  it('never accepts an empty or malformed legacy hash', async () => {
    const empty = acg('', '');
    for (const stored of [
      'legacy-bcrypt$',
      `legacy-bcrypt$${DUJIAOKA_ADMIN.slice(0, -1)}`,
      `legacy-bcrypt$$2x$10$${DUJIAOKA_ADMIN.slice(7)}`,
      'legacy-acg$',
      'legacy-acg$$',
      `legacy-acg$$${empty}`, // no salt
      `legacy-acg$s$${acg('', 's').toUpperCase()}`,
      `legacy-acg$s$${acg('', 's')}$extra`,
      `legacy-acg$s$${acg('', 's').slice(1)}`,
    ]) {
      expect(await verifyPassword('', stored), stored).toBe(false);
      expect(await verifyPassword('admin', stored), stored).toBe(false);
    }
  });

  it("takes about as long as our own check, so a login's time does not tell an imported account", async () => {
    // The fastest of three: a pause of the machine's can only make a check slower.
    const time = async (stored: string) => {
      let best = Infinity;
      for (let i = 0; i < 3; i++) {
        const t = performance.now();
        await verifyPassword('guess-1234', stored);
        best = Math.min(best, performance.now() - t);
      }
      return best;
    };
    const scrypt = await time(await hashPassword('password123'));
    const legacy = await time(`legacy-acg$s4lt$${acg('pass', 's4lt')}`);
    expect(legacy).toBeGreaterThan(scrypt / 2);
  });

  it('leaves our own scheme as it was', async () => {
    const ours = await hashPassword('password123');
    expect(await verifyPassword('password123', ours)).toBe(true);
    expect(await verifyPassword('password124', ours)).toBe(false);
  });
});

describe('amounts and dates from the old database', () => {
  it('converts DECIMAL text to cents exactly, refusing what it cannot', () => {
    expect(cents('0.29')).toBe(29); // 0.29 * 100 is 28.999999999999996 as a float
    expect(cents('1234567.89')).toBe(123_456_789);
    expect(cents('12.3')).toBe(1230);
    expect(cents('7')).toBe(700);
    expect(cents('10.500')).toBe(1050);
    expect(cents(null)).toBe(0);
    for (const bad of ['1.005', 'abc', '1,00', '', '-']) expect(() => cents(bad), bad).toThrow();
  });

  it("reads DATETIME text as China's time; zero dates are none", () => {
    expect(millis('2021-11-26 17:59:45')).toBe(Date.UTC(2021, 10, 26, 9, 59, 45));
    expect(millis('0000-00-00 00:00:00')).toBeNull();
    expect(millis(null)).toBeNull();
  });
});
