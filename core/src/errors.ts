import type { ZodError } from 'zod';
import type { Localized, MessageKey } from './i18n/messages.js';

/** Field name -> message key (translated when the error is rendered). */
export type FieldErrors = Record<string, MessageKey | string>;

/**
 * An error a user may see: a stable code, an HTTP status, a message key for i18n, and optionally
 * the fields that were wrong. Anything else that escapes is a bug and is shown as a plain 500.
 */
export class ShopError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    readonly messageKey: MessageKey,
    readonly fields?: FieldErrors,
    readonly params?: Record<string, string | number | Localized>,
  ) {
    super(code);
    this.name = 'ShopError';
  }
}

export const errors = {
  validation: (fields: FieldErrors) => new ShopError('validation_failed', 400, 'error.validation_failed', fields),
  notFound: (what: MessageKey = 'error.not_found') => new ShopError('not_found', 404, what),
  unauthorized: () => new ShopError('unauthorized', 401, 'error.unauthorized'),
  forbidden: () => new ShopError('forbidden', 403, 'error.forbidden'),
  outOfStock: (available: number) =>
    new ShopError('out_of_stock', 409, 'error.out_of_stock', undefined, { available }),
  insufficientBalance: () => new ShopError('insufficient_balance', 402, 'error.insufficient_balance'),
  invalidState: (status: string) => new ShopError('invalid_state', 409, 'error.invalid_state', undefined, { status }),
};

/**
 * A zod failure as a validation error: each issue keyed by its path, unknown keys named one by
 * one, and the bounds of too_small/too_big kept for the message ("must be at least {min}").
 */
export function fromZod(error: ZodError): ShopError {
  const fields: FieldErrors = {};
  const params: Record<string, number> = {};
  for (const issue of error.issues) {
    const at = issue.path.join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) fields[at ? `${at}.${key}` : key] = 'field.unknown';
      continue;
    }
    if (issue.code === 'too_small') params.min = Number(issue.minimum);
    if (issue.code === 'too_big') params.max = Number(issue.maximum);
    fields[at || 'body'] ??= issue.message;
  }
  return new ShopError('validation_failed', 400, 'error.validation_failed', fields, params);
}
