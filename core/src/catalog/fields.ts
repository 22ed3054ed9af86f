import { z } from 'zod';
import type { FieldErrors } from '../errors.js';

/**
 * Buyer input fields are data, stored with the product: a phone top-up asks for a phone number
 * with a pattern, a game top-up for an account and a server.
 */
export const inputFieldSchema = z.object({
  name: z.string().regex(/^[a-z][a-z0-9_]{0,31}$/, 'lowercase identifier'),
  label: z.object({ 'zh-CN': z.string().min(1), en: z.string().min(1) }),
  type: z.enum(['text', 'phone', 'email', 'number', 'select']).default('text'),
  required: z.boolean().default(true),
  pattern: z.string().optional(),
  maxLength: z.number().int().min(1).max(500).default(120),
  options: z.array(z.string().min(1)).optional(),
  placeholder: z.string().optional(),
});

export type InputField = z.output<typeof inputFieldSchema>;
export const inputFieldsSchema = z.array(inputFieldSchema).max(20);

const BUILTIN: Partial<Record<InputField['type'], RegExp>> = {
  phone: /^1[3-9]\d{9}$/,
  email: /^[^\s@]+@[^\s@]+\.[^\s@]+$/,
  number: /^\d+$/,
};

/**
 * Checks the buyer's values against the product's fields. Errors are keyed `fields.<name>`;
 * values for fields the product does not ask for are refused rather than silently stored.
 */
export function validateFields(
  defs: InputField[],
  input: unknown,
): { ok: true; values: Record<string, string> } | { ok: false; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const values: Record<string, string> = {};
  if (input !== undefined && input !== null && (typeof input !== 'object' || Array.isArray(input))) {
    return { ok: false, errors: { fields: 'field.invalid' } };
  }
  const given = (input ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!defs.some((d) => d.name === key)) errors[`fields.${key}`] = 'field.unknown';
  }
  for (const def of defs) {
    const raw = given[def.name];
    const key = `fields.${def.name}`;
    if (raw === undefined || raw === null || raw === '') {
      if (def.required) errors[key] = 'field.required';
      continue;
    }
    if (typeof raw !== 'string' && typeof raw !== 'number') {
      errors[key] = 'field.invalid';
      continue;
    }
    const value = String(raw).trim();
    if (value.length > def.maxLength) errors[key] = 'field.too_long';
    else if (def.type === 'select' && !def.options?.includes(value)) errors[key] = 'field.invalid';
    else if (BUILTIN[def.type] && !BUILTIN[def.type]!.test(value)) errors[key] = 'field.invalid';
    else if (def.pattern && !new RegExp(`^(?:${def.pattern})$`).test(value)) errors[key] = 'field.pattern';
    else values[def.name] = value;
  }
  return Object.keys(errors).length ? { ok: false, errors } : { ok: true, values };
}
