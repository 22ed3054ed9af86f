import { inspect } from 'node:util';
import { expect, it } from 'vitest';
import { Secret } from './secret.js';

it('never shows its value, except when asked to reveal it', () => {
  const s = new Secret('sk_live_very_secret');
  expect(s.reveal()).toBe('sk_live_very_secret');
  for (const shown of [String(s), `${s}`, JSON.stringify({ key: s }), inspect(s), inspect({ nested: { s } })]) {
    expect(shown).not.toContain('very_secret');
  }
});
