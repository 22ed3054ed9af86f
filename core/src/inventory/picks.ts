import { z } from 'zod';
import { findSku } from '../catalog/snapshot.js';
import type { Deps } from '../context.js';
import { errors, ShopError } from '../errors.js';
import { decrypt } from '../security/keys.js';
import { deserializeKey, type CardKey } from './parse.js';

/**
 * Key pre-selection (卡密预选): on a SKU its operator enables it for, a buyer picks which keys to
 * buy from previews of them, at a surcharge per key. The operator chooses what a preview shows:
 * the start or the end of the card number, or the card number of a card-and-password key (an
 * account's name, say); never a password, and never more than half of a key that has none.
 * The pick is atomic: the checkout claims exactly the keys picked or refuses with `key_taken`.
 */

export const PICK_SHOWN = ['head', 'tail', 'card'] as const;
export type PickShown = (typeof PICK_SHOWN)[number];

export interface PickRule {
  shown: PickShown;
  /** Characters shown by `head` and `tail`. */
  chars: number;
  /** Added to the price of each key picked, in minor units. */
  surcharge: number;
}

/** A SKU's rule from its row; null where picking is off. */
export function pickRuleOf(row: { pick_shown?: string | null; pick_chars?: number | string; pick_surcharge?: number | string }): PickRule | null {
  if (!row.pick_shown || !PICK_SHOWN.includes(row.pick_shown as PickShown)) return null;
  return { shown: row.pick_shown as PickShown, chars: Number(row.pick_chars), surcharge: Number(row.pick_surcharge) };
}

/** What a buyer sees of a key before buying it. */
export function previewOf(rule: PickRule, key: CardKey): string {
  if (rule.shown === 'card' && key.password !== undefined) return key.card;
  const n = Math.min(rule.chars, Math.floor(key.card.length / 2));
  const hidden = '•'.repeat(Math.min(8, key.card.length - n));
  return rule.shown === 'tail' ? `${hidden}${key.card.slice(key.card.length - n)}` : `${key.card.slice(0, n)}${hidden}`;
}

const PAGE = 50;

/** The ids of the keys a buyer picked, as a checkout takes them (one unit each). */
export const pickInput = z
  .array(z.number({ error: 'field.integer' }).int('field.integer').positive('field.invalid'), { error: 'field.invalid' })
  .min(1, 'field.required')
  .max(100, 'field.max');

/** A page of a pickable SKU's keys in stock (by code, on sale), oldest first, as previews; `next` continues after the last. */
export async function pickableKeys(deps: Deps, code: string, opts: { after?: number } = {}) {
  const { sku } = await findSku(deps, code);
  const row = await deps.db.read('skus').where('id', sku.id).first('pick_shown', 'pick_chars', 'pick_surcharge');
  const rule = row && pickRuleOf(row);
  if (!rule) throw errors.notFound('keys.pick_off');
  const rows = await deps.db
    .read('card_keys')
    .where({ sku_id: sku.id, status: 'available' })
    .andWhere('id', '>', opts.after ?? 0)
    .orderBy('id')
    .limit(PAGE)
    .select('id', 'secret');
  return {
    sku: sku.code,
    surcharge: rule.surcharge,
    picks: rows.map((r: { id: number | string; secret: string }) => ({ id: Number(r.id), preview: previewOf(rule, deserializeKey(decrypt(deps.keys.encryption, r.secret))) })),
    next: rows.length === PAGE ? Number(rows.at(-1).id) : null,
  };
}

/** The refusal when a picked key is no longer there: another buyer has it. */
export const keyTaken = () => new ShopError('key_taken', 409, 'keys.taken', { pick: 'keys.taken' });
