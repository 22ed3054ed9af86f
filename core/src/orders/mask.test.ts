import { describe, expect, it } from 'vitest';
import { maskBody, maskHeaders } from './mask.js';

describe('masking a stored callback', () => {
  it('hides signatures, keys and personal data in a form body, keeping what an operator reads', () => {
    const raw = 'out_trade_no=261202-7KQ4M9XD2P&trade_no=2026120200001&money=12.34&trade_status=TRADE_SUCCESS&buyer_email=li%40example.com&sign=0f1e2d3c4b5a&sign_type=MD5';
    const shown = maskBody(raw, 'application/x-www-form-urlencoded');
    expect(shown).toContain('out_trade_no=261202-7KQ4M9XD2P');
    expect(shown).toContain('money=12.34');
    expect(shown).not.toContain('0f1e2d3c4b5a');
    expect(shown).not.toContain('li@example.com');
  });

  it('walks nested JSON, and masks e-mails and mobile numbers wherever they appear', () => {
    const raw = JSON.stringify({
      id: 'evt_1',
      data: { object: { metadata: { orderNo: '261202-7KQ4M9XD2P' }, customer_details: { email: 'a@b.cn', name: 'Li Lei' }, description: 'call 13800138000' } },
    });
    const shown = maskBody(raw, 'application/json');
    expect(shown).toContain('261202-7KQ4M9XD2P');
    expect(shown).not.toMatch(/a@b\.cn|Li Lei|13800138000/);
    expect(maskBody('plain text from li@example.com', 'text/plain')).toBe('plain text from ***');
  });

  it('masks secret headers but keeps the content type', () => {
    const shown = maskHeaders({ 'content-type': 'application/json', authorization: 'Bearer abc', 'wechatpay-signature': 'xyz==', cookie: 's=1', 'x-forwarded-for': '1.2.3.4' });
    expect(shown['content-type']).toBe('application/json');
    expect(Object.values(shown).join(' ')).not.toMatch(/abc|xyz|s=1|1\.2\.3\.4/);
  });
});
