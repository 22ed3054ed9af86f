import { describe, expect, it } from 'vitest';
import { inputFieldsSchema, validateFields } from './fields.js';

const defs = inputFieldsSchema.parse([
  { name: 'phone', label: { 'zh-CN': '手机号', en: 'Phone' }, type: 'phone' },
  { name: 'server', label: { 'zh-CN': '区服', en: 'Server' }, type: 'select', options: ['s1', 's2'] },
  { name: 'note', label: { 'zh-CN': '备注', en: 'Note' }, required: false, maxLength: 5 },
  { name: 'uid', label: { 'zh-CN': '游戏ID', en: 'Game ID' }, pattern: '[0-9]{5,10}', required: false },
]);

describe('validateFields', () => {
  it('accepts good input and trims it', () => {
    expect(validateFields(defs, { phone: ' 13800138000 ', server: 's2' })).toEqual({
      ok: true,
      values: { phone: '13800138000', server: 's2' },
    });
  });

  it('names each broken field', () => {
    const r = validateFields(defs, { phone: '123', server: 's9', note: 'too long', uid: 'abc', extra: 1 });
    expect(r).toEqual({
      ok: false,
      errors: {
        'fields.phone': 'field.invalid',
        'fields.server': 'field.invalid',
        'fields.note': 'field.too_long',
        'fields.uid': 'field.pattern',
        'fields.extra': 'field.unknown',
      },
    });
  });

  it('requires required fields and rejects non-objects', () => {
    expect(validateFields(defs, undefined)).toMatchObject({ ok: false, errors: { 'fields.phone': 'field.required' } });
    expect(validateFields(defs, ['x'])).toEqual({ ok: false, errors: { fields: 'field.invalid' } });
    expect(validateFields(defs, { phone: { $gt: '' }, server: 's1' })).toMatchObject({
      ok: false,
      errors: { 'fields.phone': 'field.invalid' },
    });
  });
});
