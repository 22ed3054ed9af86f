import { z } from 'zod';
import { audit } from '../audit/audit.js';
import type { Deps } from '../context.js';
import { transaction } from '../db/dialect.js';
import { decrypt, encrypt } from '../security/keys.js';

/**
 * Plugin settings as a form, generated from the plugin's zod schema (through its JSON Schema):
 * strings, numbers, booleans, enums and lists of strings. Fields marked `.meta({ secret: true })`
 * are never sent to the browser; left empty, they keep their value.
 */

export interface SettingField {
  name: string;
  label: string;
  kind: 'text' | 'secret' | 'number' | 'checkbox' | 'select' | 'list';
  value: string;
  checked: boolean;
  options: string[];
  required: boolean;
  /** A secret that has a value (shown as set, never shown). */
  isSet: boolean;
}

interface JsonProp {
  type?: string | string[];
  enum?: unknown[];
  items?: { type?: string };
  description?: string;
  secret?: boolean;
  default?: unknown;
}

function properties(schema: z.ZodType): { props: Record<string, JsonProp>; required: string[] } {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, JsonProp>; required?: string[] };
  return { props: json.properties ?? {}, required: json.required ?? [] };
}

const kindOf = (p: JsonProp): SettingField['kind'] => {
  const types = Array.isArray(p.type) ? p.type : [p.type];
  if (p.secret) return 'secret';
  if (p.enum) return 'select';
  if (types.includes('boolean')) return 'checkbox';
  if (types.includes('array')) return 'list';
  if (types.length === 1 && (types[0] === 'number' || types[0] === 'integer')) return 'number';
  return 'text';
};

const shown = (v: unknown): string => (v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

/** The form's fields for a plugin's current settings input (what the config and the admin gave). */
export function settingFields(schema: z.ZodType, input: Record<string, unknown>): SettingField[] {
  const { props, required } = properties(schema);
  return Object.entries(props).map(([name, p]) => {
    const kind = kindOf(p);
    const value = input[name] ?? p.default;
    return {
      name,
      label: p.description ?? name,
      kind,
      value: kind === 'secret' ? '' : kind === 'list' && Array.isArray(value) ? value.join(', ') : shown(value),
      checked: value === true,
      options: (p.enum ?? []).map(String),
      required: required.includes(name),
      isSet: kind === 'secret' && value !== undefined && value !== '',
    };
  });
}

/** Reads a posted form back into a settings input, keeping secrets left empty. */
export function readSettingsForm(schema: z.ZodType, form: Record<string, unknown>, current: Record<string, unknown>): Record<string, unknown> {
  const { props } = properties(schema);
  const next: Record<string, unknown> = {};
  for (const [name, p] of Object.entries(props)) {
    const raw = typeof form[name] === 'string' ? (form[name] as string).trim() : undefined;
    const kind = kindOf(p);
    if (kind === 'checkbox') next[name] = raw === 'on' || raw === 'true';
    else if (kind === 'secret') {
      if (raw) next[name] = raw;
      else if (current[name] !== undefined) next[name] = current[name];
    } else if (raw === undefined || raw === '') continue;
    else if (kind === 'number') next[name] = Number(raw);
    else if (kind === 'list') next[name] = raw.split(/[,\s]+/).filter(Boolean);
    else next[name] = raw;
  }
  return next;
}

/** Settings saved in the admin for each plugin, decrypted; they override the config file's. */
export async function storedSettings(deps: Deps): Promise<Map<string, Record<string, unknown>>> {
  const rows: Array<{ plugin: string; sealed: string }> = await deps.db.knex('plugin_settings').select('plugin', 'sealed');
  return new Map(rows.map((r) => [r.plugin, JSON.parse(decrypt(deps.keys.encryption, r.sealed)) as Record<string, unknown>]));
}

/**
 * Stores a plugin's settings (sealed) and audits the change in the same transaction: which keys
 * changed, never their values (they may be keys and secrets).
 */
export async function saveSettings(deps: Deps, plugin: string, input: Record<string, unknown>, actorId: number, ip?: string): Promise<void> {
  const before = (await storedSettings(deps)).get(plugin) ?? {};
  const changed = [...new Set([...Object.keys(before), ...Object.keys(input)])].filter((k) => JSON.stringify(before[k]) !== JSON.stringify(input[k]));
  const row = { plugin, sealed: encrypt(deps.keys.encryption, JSON.stringify(input)), updated_by: actorId, updated_at: deps.now() };
  await transaction(deps.db, async (trx) => {
    await trx('plugin_settings').insert(row).onConflict('plugin').merge();
    await audit(deps, trx, { actorId, action: 'plugin.settings', targetType: 'plugin', targetId: plugin, after: { changed }, ip });
  });
}
