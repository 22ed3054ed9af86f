import { createCipheriv, generateKeyPairSync, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  aeadOpen,
  authorization,
  beijingTime,
  decryptResource,
  paymentDescription,
  requestMessage,
  responseMessage,
  rsaSign,
  rsaVerify,
  settingsSchema,
  verifySigned,
} from './index.js';

const merchant = generateKeyPairSync('rsa', { modulusLength: 2048 });
const platform = generateKeyPairSync('rsa', { modulusLength: 2048 });
const KEY_ID = 'PUB_KEY_ID_0000000000000024101100397200000006';
const APIV3 = '0123456789abcdefghijABCDEFGHIJ-_';

describe('message formats (known answers from the specification)', () => {
  it('builds the request string of the spec example: GET /v3/certificates, empty body', () => {
    // 签名生成, step 6: "GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n"
    expect(requestMessage('GET', '/v3/certificates', 1554208460, '593BEC0C930BF1AFEB40B4A08C8FB242', '')).toBe(
      'GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n',
    );
  });

  it('builds the request string of a POST with its JSON body and of a GET with a query', () => {
    const body = '{"appid":"wxd678efh567hg6787","mchid":"1230000109","amount":{"total":100,"currency":"CNY"}}';
    expect(requestMessage('post', '/v3/pay/transactions/native', 1554208460, 'N', body)).toBe(`POST\n/v3/pay/transactions/native\n1554208460\nN\n${body}\n`);
    expect(requestMessage('GET', '/v3/pay/transactions/out-trade-no/1217752501201407033233368018?mchid=1230000109', '1554208460', 'N', '')).toBe(
      'GET\n/v3/pay/transactions/out-trade-no/1217752501201407033233368018?mchid=1230000109\n1554208460\nN\n\n',
    );
  });

  it('builds the response string of the spec example, and of an empty 204 body', () => {
    // 签名验证: "1554209980\nc5ac7061fccab6bf3e254dcf98995b8c\n{\"prepay_id\":\"wx2922034726858082fbd40b511c67630000\"}\n"
    expect(responseMessage('1554209980', 'c5ac7061fccab6bf3e254dcf98995b8c', '{"prepay_id":"wx2922034726858082fbd40b511c67630000"}').toString('utf8')).toBe(
      '1554209980\nc5ac7061fccab6bf3e254dcf98995b8c\n{"prepay_id":"wx2922034726858082fbd40b511c67630000"}\n',
    );
    expect(responseMessage('1554209980', 'n', '').toString('utf8')).toBe('1554209980\nn\n\n');
    // Bytes are kept as sent, not re-encoded.
    expect(responseMessage('1', 'n', Buffer.from('{"d":"描述"}', 'utf8')).equals(Buffer.from('1\nn\n{"d":"描述"}\n', 'utf8'))).toBe(true);
  });

  it('writes the Authorization header with all five parameters, signed over the exact string', () => {
    const header = authorization({
      mchid: '1900009191',
      serialNo: '1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C',
      privateKey: merchant.privateKey,
      method: 'GET',
      urlPathAndQuery: '/v3/certificates',
      body: '',
      timestamp: 1554208460,
      nonce: '593BEC0C930BF1AFEB40B4A08C8FB242',
    });
    const m = /^WECHATPAY2-SHA256-RSA2048 mchid="1900009191",nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",signature="([A-Za-z0-9+/]+={0,2})",timestamp="1554208460",serial_no="1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C"$/.exec(header);
    expect(m, header).not.toBeNull();
    const signature = Buffer.from(m![1]!, 'base64');
    expect(signature).toHaveLength(256); // RSA 2048
    const message = Buffer.from('GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n', 'utf8');
    // Checked with node:crypto directly, and PKCS#1 v1.5 is deterministic: the same bytes again.
    expect(nodeVerify('sha256', message, merchant.publicKey, signature)).toBe(true);
    expect(nodeSign('sha256', message, merchant.privateKey).equals(signature)).toBe(true);
    expect(nodeVerify('sha256', Buffer.from('GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n', 'utf8'), merchant.publicKey, signature)).toBe(false);
  });

  it('signs and verifies, and refuses malformed or foreign signatures without throwing', () => {
    const sig = rsaSign('abc', platform.privateKey);
    expect(rsaVerify('abc', sig, platform.publicKey)).toBe(true);
    expect(rsaVerify('abd', sig, platform.publicKey)).toBe(false);
    expect(rsaVerify('abc', sig, merchant.publicKey)).toBe(false);
    expect(rsaVerify('abc', 'not base64!', platform.publicKey)).toBe(false);
    expect(rsaVerify('abc', '', platform.publicKey)).toBe(false);
    expect(rsaVerify('abc', 'AAAA', platform.publicKey)).toBe(false);
  });
});

describe('verifySigned (responses and callbacks)', () => {
  const key = { publicKey: platform.publicKey, serial: KEY_ID };
  const body = '{"code_url":"weixin://wxpay/bizpayurl?pr=JyC91EIz1"}';
  const now = 1_722_850_421_000;
  const ts = String(now / 1000);
  const good = { timestamp: ts, nonce: 'd824f2e086d3c1df967785d13fcd22ef', serial: KEY_ID, signature: nodeSign('sha256', Buffer.from(`${ts}\nd824f2e086d3c1df967785d13fcd22ef\n${body}\n`), platform.privateKey).toString('base64') };

  it('accepts a good signature, within five minutes either way', () => {
    expect(verifySigned(good, body, key, now)).toEqual({ ok: true });
    expect(verifySigned(good, body, key, now + 299_000)).toEqual({ ok: true });
    expect(verifySigned(good, body, key, now - 299_000)).toEqual({ ok: true });
  });

  it('refuses each way it can go wrong, saying why', () => {
    const cases: Array<[Parameters<typeof verifySigned>[0], string, number, RegExp]> = [
      [{ ...good, serial: 'PUB_KEY_ID_OTHER' }, body, now, /signed with key PUB_KEY_ID_OTHER/],
      [good, body, now + 301_000, /s old/],
      [good, body, now - 301_000, /in the future/],
      [{ ...good, timestamp: '17228504x1' }, body, now, /malformed Wechatpay-Timestamp/],
      [{ ...good, signature: undefined }, body, now, /missing Wechatpay-Signature header/],
      [{ timestamp: ts }, body, now, /missing Wechatpay-Nonce, Wechatpay-Signature, Wechatpay-Serial headers/],
      [good, body.replace('JyC', 'JyD'), now, /bad signature/],
      [{ ...good, nonce: 'x' }, body, now, /bad signature/],
      [{ ...good, signature: `WECHATPAY/SIGNTEST/${good.signature}` }, body, now, /signature probe/],
    ];
    for (const [headers, b, at, why] of cases) {
      const r = verifySigned(headers, b, key, at);
      expect(r.ok, JSON.stringify(headers)).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(why);
    }
  });
});

describe('AEAD_AES_256_GCM', () => {
  it('opens the GCM specification test case 16 (256-bit key, 96-bit IV, with AAD)', () => {
    const K = Buffer.from('feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308', 'hex');
    const IV = Buffer.from('cafebabefacedbaddecaf888', 'hex');
    const A = Buffer.from('feedfacedeadbeeffeedfacedeadbeefabaddad2', 'hex');
    const C = Buffer.from('522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662', 'hex');
    const T = Buffer.from('76fc6ece0f4e1768cddf8853bb2d551b', 'hex');
    const P = 'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39';
    expect(aeadOpen(K, IV, A, Buffer.concat([C, T])).toString('hex')).toBe(P);
    const badTag = Buffer.concat([C, T]);
    badTag[badTag.length - 1] = badTag[badTag.length - 1]! ^ 1;
    expect(() => aeadOpen(K, IV, A, badTag)).toThrow();
    expect(() => aeadOpen(K, IV, Buffer.from('feedface', 'hex'), Buffer.concat([C, T]))).toThrow();
    expect(() => aeadOpen(K, IV, A, T.subarray(0, 10))).toThrow(/shorter than the GCM tag/);
  });

  /** Encrypts as WeChat Pay does: base64(ciphertext || tag), nonce and associated_data as strings. */
  function seal(plain: string, key: string, nonce: string, aad: string): string {
    const c = createCipheriv('aes-256-gcm', Buffer.from(key, 'utf8'), Buffer.from(nonce, 'utf8'));
    c.setAAD(Buffer.from(aad, 'utf8'));
    return Buffer.concat([c.update(plain, 'utf8'), c.final(), c.getAuthTag()]).toString('base64');
  }

  it('decrypts a callback resource with the APIv3 key, and refuses every change', () => {
    const plain = '{"mchid":"1230000109","out_trade_no":"O20261202001","trade_state":"SUCCESS"}';
    const ciphertext = seal(plain, APIV3, 'fdasflkja484', 'transaction');
    const resource = { algorithm: 'AEAD_AES_256_GCM', ciphertext, nonce: 'fdasflkja484', associated_data: 'transaction' };
    expect(decryptResource(resource, APIV3)).toBe(plain);
    // Empty associated_data is allowed by the spec.
    expect(decryptResource({ ...resource, ciphertext: seal(plain, APIV3, 'fdasflkja484', ''), associated_data: '' }, APIV3)).toBe(plain);
    expect(decryptResource({ ...resource, ciphertext: seal(plain, APIV3, 'fdasflkja484', ''), associated_data: undefined }, APIV3)).toBe(plain);

    const flipped = Buffer.from(ciphertext, 'base64');
    flipped[3] = flipped[3]! ^ 0x80;
    expect(() => decryptResource({ ...resource, ciphertext: flipped.toString('base64') }, APIV3)).toThrow(/did not decrypt/);
    expect(() => decryptResource(resource, 'ABCDEFGHIJabcdefghij0123456789-_')).toThrow(/did not decrypt/);
    expect(() => decryptResource({ ...resource, nonce: 'fdasflkja485' }, APIV3)).toThrow(/did not decrypt/);
    expect(() => decryptResource({ ...resource, associated_data: 'refund' }, APIV3)).toThrow(/did not decrypt/);
    expect(() => decryptResource({ ...resource, algorithm: 'AEAD_SM4_GCM' }, APIV3)).toThrow(/unsupported resource algorithm/);
    expect(() => decryptResource({ ...resource, ciphertext: '%%%' }, APIV3)).toThrow(/not base64/);
  });
});

describe('field formats', () => {
  it('keeps the description within 127 UTF-8 bytes, cut at a character, without control characters', () => {
    expect(paymentDescription('Steam 钱包充值卡 - ¥100 面值 ×1', 'O1')).toBe('Steam 钱包充值卡 - ¥100 面值 ×1');
    expect(paymentDescription('  a\n\tb\u0000c  ', 'O1')).toBe('a b c');
    expect(paymentDescription(' \n ', 'O20261202001')).toBe('O20261202001');
    const long = paymentDescription('充值'.repeat(100), 'O1');
    expect(Buffer.byteLength(long, 'utf8')).toBeLessThanOrEqual(127);
    expect(long).toMatch(/^(充值)+充?…$/);
    expect(long).not.toContain('\uFFFD');
    const ascii = paymentDescription('x'.repeat(200), 'O1');
    expect(ascii).toBe(`${'x'.repeat(124)}…`);
    expect(Buffer.byteLength(ascii, 'utf8')).toBe(127);
    const emoji = paymentDescription('🎮'.repeat(40), 'O1');
    expect(Buffer.byteLength(emoji, 'utf8')).toBeLessThanOrEqual(127);
    expect([...emoji].slice(0, -1).every((c) => c === '🎮')).toBe(true);
  });

  it('writes time_expire as RFC 3339 in Beijing time', () => {
    expect(beijingTime(Date.UTC(2026, 11, 2, 2, 34, 56))).toBe('2026-12-02T10:34:56+08:00');
    expect(beijingTime(Date.UTC(2026, 11, 31, 16, 0, 0))).toBe('2027-01-01T00:00:00+08:00');
  });
});

describe('settings', () => {
  const pem = (k: KeyObject, type: 'pkcs8' | 'pkcs1' | 'spki') => String(k.export({ type, format: 'pem' } as never));
  const base = {
    mchid: '1900009191',
    appid: 'wxd678efh567hg6787',
    merchantSerialNo: '1dde55ad98ed71d6edd4a4a16996de7b47773a8c',
    merchantPrivateKey: pem(merchant.privateKey, 'pkcs8'),
    apiV3Key: APIV3,
    platformPublicKey: pem(platform.publicKey, 'spki'),
    platformPublicKeyId: KEY_ID,
  };

  it('reads keys in the usual PEM shapes, upper-cases the serial and keeps the secrets secret', () => {
    const s = settingsSchema.parse(base);
    expect(s.merchantSerialNo).toBe('1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C');
    expect(s.baseUrl).toBe('https://api.mch.weixin.qq.com');
    expect(s.id).toBe('wechatpay');
    expect(s.timeoutMs).toBe(10_000);
    expect(s.label).toEqual({ 'zh-CN': '微信支付', en: 'WeChat Pay' });
    expect(JSON.stringify(s)).not.toContain(APIV3);
    expect(JSON.stringify(s)).not.toContain('PRIVATE');
    expect(String(s.apiV3Key)).toBe('[secret]');
    // PKCS#1, literal \n from an environment variable, CRLF, a number mchid, a trailing slash.
    const env = pem(merchant.privateKey, 'pkcs1').trim().replace(/\n/g, '\\n');
    const t = settingsSchema.parse({ ...base, mchid: 1900009191, merchantPrivateKey: env, platformPublicKey: base.platformPublicKey.replace(/\n/g, '\r\n'), baseUrl: 'http://127.0.0.1:9/' });
    expect(t.mchid).toBe('1900009191');
    expect(t.baseUrl).toBe('http://127.0.0.1:9');
    expect(t.merchantPrivateKey.reveal().asymmetricKeyType).toBe('rsa');
  });

  it('refuses what would fail later, naming the setting', () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ apiV3Key: 'short' }, /apiV3Key.*32 characters/s],
      [{ merchantPrivateKey: base.platformPublicKey }, /merchantPrivateKey.*certificate or public key/s],
      [{ merchantPrivateKey: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----' }, /merchantPrivateKey.*not a readable/s],
      [{ platformPublicKey: base.merchantPrivateKey }, /platformPublicKey.*private key/s],
      [{ platformPublicKey: 'PUB_KEY_ID_123' }, /platformPublicKey.*PEM public key/s],
      [{ mchid: 'abc' }, /mchid/],
      [{ appid: '1234' }, /appid/],
      [{ merchantSerialNo: 'not-hex' }, /merchantSerialNo/],
      [{ platformPublicKeyId: 'has space' }, /platformPublicKeyId/],
      [{ baseUrl: 'ftp://x' }, /baseUrl/],
      [{ id: 'Bad Id' }, /id/],
      [{ id: 'wallet' }, /reserved/],
    ];
    for (const [over, why] of bad) {
      const r = settingsSchema.safeParse({ ...base, ...over });
      expect(r.success, JSON.stringify(over).slice(0, 80)).toBe(false);
      if (!r.success) expect(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n')).toMatch(why);
    }
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    expect(settingsSchema.safeParse({ ...base, merchantPrivateKey: pem(ec.privateKey, 'pkcs8') }).success).toBe(false);
  });
});
