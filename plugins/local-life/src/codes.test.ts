import { setupPlugin } from '@cardshop/core/testing';
import { describe, expect, it } from 'vitest';
import localLife from './index.js';
import { codeTail, hashPin, newCode, normalizeCode, pinMatches } from './codes.js';
import { receipt } from './pages.js';
import type { VoucherView } from './vouchers.js';

describe('voucher codes and PINs', () => {
  it('makes codes of twelve unambiguous characters in groups of four, all different', () => {
    const codes = Array.from({ length: 2000 }, newCode);
    for (const c of codes) expect(c).toMatch(/^[2-9A-HJKMNP-TV-Z]{4}(-[2-9A-HJKMNP-TV-Z]{4}){2}$/);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('reads a code as typed: spaces, dashes and case do not matter', () => {
    expect(normalizeCode(' 7kqm x3pd-h9ta ')).toBe('7KQMX3PDH9TA');
    expect(codeTail('7KQM-X3PD-H9TA')).toBe('H9TA');
  });

  it('stores a PIN salted, and checks it', async () => {
    const a = await hashPin('246810');
    const b = await hashPin('246810');
    expect(a).not.toBe(b);
    expect(a).not.toContain('246810');
    expect(await pinMatches('246810', a)).toBe(true);
    expect(await pinMatches('246811', a)).toBe(false);
    expect(await pinMatches('246810', 'plain')).toBe(false);
  });
});

describe('the voucher product type', () => {
  it('registers `voucher`, which takes goods from suppliers too', async () => {
    const { productTypes, settings } = await setupPlugin(localLife, {});
    expect(productTypes.map((t) => t.name)).toEqual(['voucher']);
    expect(typeof productTypes[0]!.fromSupplier).toBe('function');
    expect(settings).toMatchObject({ pinTriesPerAddress: 10, pinTriesPerMerchant: 30, sweepMinutes: 10 });
  });

  it('tells the buyer where, until when and how, with a link per voucher, in the shop\'s language', () => {
    const v: VoucherView = {
      code: '7KQM-X3PD-H9TA',
      orderNo: 'A1',
      title: '双人套餐',
      merchant: { code: 'noodles', name: '老街面馆', address: '人民路 1 号' },
      usesTotal: 1,
      usesLeft: 1,
      validFrom: Date.parse('2026-12-03T10:00:00+08:00'),
      validUntil: Date.parse('2027-01-02T10:00:00+08:00'),
      rules: '仅限堂食',
      refundExpired: true,
      status: 'active',
      state: 'usable',
      redemptions: [],
    };
    const zh = receipt([v, { ...v, code: '2222-3333-4444' }], 'zh-CN', 'https://shop.example');
    expect(zh).toContain('适用门店: 老街面馆 (人民路 1 号)');
    expect(zh).toContain('过期未使用自动退款');
    expect(zh).toContain('使用规则: 仅限堂食');
    expect(zh.split('\n').slice(-2)).toEqual(['https://shop.example/plugins/local-life/v/7KQM-X3PD-H9TA', 'https://shop.example/plugins/local-life/v/2222-3333-4444']);
    expect(receipt([v], 'en', 'https://shop.example')).toContain('Store: 老街面馆');
  });
});
