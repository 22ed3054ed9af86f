import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { md5Sign, signString, signed, verifySign } from './sign.js';
import { parseEpayMoney } from './money.js';
import { parseFlatJson, parseForm } from './params.js';
import { normaliseApiUrl, settingsSchema } from './settings.js';

const KEY = '89unJUB8HZ54Hj7x4nUj56HN4nUzUJ8i';

// Expected values computed by hand, outside this code:
//   printf '%s' '<string><key>' | md5sum
describe('MD5 signature vectors', () => {
  it('signs the documented submit.php example (sitename empty, sign_type left out)', () => {
    const params = {
      pid: '1001',
      type: 'alipay',
      out_trade_no: '20160806151343349',
      notify_url: 'http://www.pay.com/notify_url.php',
      return_url: 'http://www.pay.com/return_url.php',
      name: 'VIP会员',
      money: '1.00',
      sitename: '',
      sign_type: 'MD5',
    };
    expect(signString(params)).toBe(
      'money=1.00&name=VIP会员&notify_url=http://www.pay.com/notify_url.php&out_trade_no=20160806151343349&pid=1001&return_url=http://www.pay.com/return_url.php&type=alipay',
    );
    expect(md5Sign(params, KEY)).toBe('427724b6656aa612cfdbe7a2262036a3');
  });

  it('signs a notify with spaces and symbols in the name, values not URL-encoded', () => {
    const params = {
      trade_status: 'TRADE_SUCCESS',
      type: 'wxpay',
      trade_no: '2026120211223344556',
      out_trade_no: 'CS20261202ABC',
      pid: '1001',
      name: 'Steam 钱包充值卡 - ¥100 面值 ×1',
      money: '12.34',
      sign: 'whatever',
      sign_type: 'MD5',
    };
    expect(md5Sign(params, KEY)).toBe('be988a10b5ec0966b5d316570f896a02');
  });

  it('sorts keys by ASCII, not by locale (Z < a, B < _ < l)', () => {
    const params = { alpha: '0', a_b: '2', aB: '1', Zeta: '3', pid: '7' };
    expect(signString(params)).toBe('Zeta=3&aB=1&a_b=2&alpha=0&pid=7');
    expect(md5Sign(params, 'secret')).toBe('2c5f82f29e9eb404dcdb647a2fe4576e');
  });

  it('keeps "0" (only empty strings are left out)', () => {
    expect(signString({ a: '0', b: '', c: 'x' })).toBe('a=0&c=x');
  });

  it('signed() adds sign and sign_type=MD5 and verifySign accepts it, in either hex case', () => {
    const p = signed({ pid: '1001', money: '1.00', name: 'x', empty: '' }, KEY);
    expect(p.sign_type).toBe('MD5');
    expect(p).not.toHaveProperty('empty');
    expect(verifySign(p, KEY)).toBe(true);
    expect(verifySign({ ...p, sign: p.sign!.toUpperCase() }, KEY)).toBe(true);
    expect(verifySign(p, KEY + 'x')).toBe(false);
    expect(verifySign({ ...p, sign: p.sign!.slice(1) }, KEY)).toBe(false);
    expect(verifySign({ ...p, sign: undefined }, KEY)).toBe(false);
  });
});

describe('money', () => {
  it.each([
    ['0.1', 10],
    ['0.01', 1],
    ['12.34', 1234],
    ['1', 100],
    ['1.00', 100],
    ['100.5', 10050],
    ['9999999.99', 999999999],
  ])('%s -> %i fen', (text, fen) => expect(parseEpayMoney(text)).toBe(fen));

  it.each(['1e3', '1.234', '-1.00', ' 1.00', '1.00 ', '', '0', '0.00', '.5', '1.', '１.00', 'abc', '0x10', 'NaN'])('rejects %j', (text) =>
    expect(parseEpayMoney(text)).toBeNull(),
  );

  it('rejects non-strings', () => {
    expect(parseEpayMoney(12.34)).toBeNull();
    expect(parseEpayMoney(undefined)).toBeNull();
  });
});

describe('notify bodies', () => {
  it('reads JSON numbers as written', () => {
    expect(parseFlatJson('{"pid":1001,"money":12.30,"x":1e3,"ok":true,"n":null,"s":"a\\"b","nested":{"a":[1,"}"]},"t":"é"}')).toEqual({
      pid: '1001',
      money: '12.30',
      x: '1e3',
      ok: 'true',
      n: '',
      s: 'a"b',
      t: 'é',
    });
  });

  it('refuses JSON that is not one object, or that repeats a key', () => {
    expect(parseFlatJson('[1]')).toBeNull();
    expect(parseFlatJson('{"a":1')).toBeNull();
    expect(parseFlatJson('{"a":1,"a":2}')).toBeNull();
    expect(parseFlatJson('{}')).toEqual({});
  });

  it('reads forms and refuses repeated keys', () => {
    expect(parseForm('a=1&name=VIP%E4%BC%9A%E5%91%98&b=x+y')).toEqual({ a: '1', name: 'VIP会员', b: 'x y' });
    expect(parseForm('money=1.00&money=100.00')).toBeNull();
  });
});

describe('settings', () => {
  const base = { apiUrl: 'https://pay.example.com/', pid: 1001, key: ` ${KEY} ` };

  it.each([
    ['https://pay.example.com/', 'https://pay.example.com'],
    ['https://pay.example.com//', 'https://pay.example.com'],
    ['https://pay.example.com', 'https://pay.example.com'],
    ['https://pay.example.com/submit.php', 'https://pay.example.com'],
    ['http://example.com:8080/epay/mapi.php', 'http://example.com:8080/epay'],
    ['https://example.com/epay/', 'https://example.com/epay'],
  ])('normalises apiUrl %s', (input, out) => expect(normaliseApiUrl(input)).toBe(out));

  it.each(['pay.example.com', 'ftp://pay.example.com', 'https://user:pw@pay.example.com', ''])('refuses apiUrl %j', (v) =>
    expect(normaliseApiUrl(v)).toBeNull(),
  );

  it('fills defaults, trims the key and keeps it out of JSON and logs', () => {
    const s = settingsSchema.parse(base);
    expect(s).toMatchObject({ apiUrl: 'https://pay.example.com', pid: '1001', types: ['alipay', 'wxpay'], mode: 'redirect', id: 'epay', perType: false, timeoutMs: 10000 });
    expect(s.key.reveal()).toBe(KEY);
    expect(JSON.stringify(s)).not.toContain(KEY);
    expect(inspect(s)).not.toContain(KEY);
    expect(`${s.key}`).toBe('[secret]');
  });

  it('explains what is missing or wrong', () => {
    const r = settingsSchema.safeParse({ apiUrl: 'pay.example.com', pid: 'a b' });
    expect(r.success).toBe(false);
    const text = r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
    expect(text).toMatch(/apiUrl: .*not an http\(s\) URL/);
    expect(text).toMatch(/pid: .*商户ID/);
    expect(text).toMatch(/key: .*商户密钥/);
  });

  it('refuses api mode with several types on one gateway, allows it per type', () => {
    const r = settingsSchema.safeParse({ ...base, mode: 'api', types: ['alipay', 'wxpay'] });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.message).toMatch(/perType/);
    expect(settingsSchema.safeParse({ ...base, mode: 'api', types: ['alipay', 'wxpay'], perType: true }).success).toBe(true);
    expect(settingsSchema.safeParse({ ...base, mode: 'api', types: ['wxpay'] }).success).toBe(true);
  });

  it('refuses a bad gateway id', () => {
    expect(settingsSchema.safeParse({ ...base, id: 'Epay!' }).success).toBe(false);
    expect(settingsSchema.safeParse({ ...base, id: 'wallet' }).success).toBe(false);
  });
});
