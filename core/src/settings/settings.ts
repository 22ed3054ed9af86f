import { z } from 'zod';
import { audit } from '../audit/audit.js';
import type { Config } from '../config/config.js';
import { CURRENCIES } from '../config/config.js';
import type { Deps } from '../context.js';
import { transaction } from '../db/dialect.js';
import { errors } from '../errors.js';
import { LOCALES } from '../i18n/messages.js';
import { checkTheme, type ThemeReport } from '../themes/check.js';
import { applyOverrides } from '../themes/overrides.js';
import { loadTheme, resolveThemeDir, type Theme } from '../themes/renderer.js';

/**
 * Site settings the operator changes in the console (name, language, currency, notice, the shop's
 * theme), kept in the `settings` table. They overlay the config file when the shop gets ready and
 * whenever it re-reads them (every minute, so other app processes follow); the process that saves
 * them applies them at once.
 */

const SHOP_KEY = 'console.shop';
const THEME_KEY = 'console.theme';

export const shopSettingsInput = z
  .object({
    name: z.string({ error: 'field.required' }).trim().min(1, 'field.required').max(80, 'field.too_long'),
    locale: z.enum(LOCALES, { error: 'field.invalid' }),
    currency: z.enum(CURRENCIES, { error: 'field.invalid' }),
    notice: z.string().trim().max(1000, 'field.too_long').default(''),
  })
  .strict();
export type ShopSettings = z.output<typeof shopSettingsInput>;

/** What a shop needs for its settings to apply: the config they overlay and its themes. */
export interface SettingsTarget extends Deps {
  readonly themes: ReadonlyMap<string, Theme>;
  readonly theme: Theme;
  setTheme(name: string, theme: Theme): void;
}

export const currentSettings = (config: Config): ShopSettings => ({
  name: config.shop.name,
  locale: config.shop.locale,
  currency: config.shop.currency,
  notice: config.shop.notice ?? '',
});

async function saved(deps: Deps): Promise<{ shop?: ShopSettings; theme?: string }> {
  const rows: Array<{ key: string; value: string }> = await deps.db.read('settings').whereIn('key', [SHOP_KEY, THEME_KEY]).select('key', 'value');
  const value = (key: string) => rows.find((r) => r.key === key)?.value;
  const shop = shopSettingsInput.safeParse(JSON.parse(value(SHOP_KEY) ?? 'null'));
  return { shop: shop.success ? shop.data : undefined, theme: value(THEME_KEY) };
}

function apply(config: Config, s: ShopSettings): void {
  Object.assign(config.shop, { name: s.name, locale: s.locale, currency: s.currency, notice: s.notice || undefined });
}

/** The name of the theme the shop renders with. */
export const activeThemeName = (shop: SettingsTarget): string => [...shop.themes].find(([, t]) => t === shop.theme)?.[0] ?? shop.config.theme;

/** Applies what the console saved; a saved theme that is no longer installed is ignored (and logged). */
export async function applySavedSettings(shop: SettingsTarget): Promise<void> {
  const s = await saved(shop);
  if (s.shop) apply(shop.config, s.shop);
  if (s.theme && s.theme !== activeThemeName(shop)) {
    const theme = shop.themes.get(s.theme);
    if (theme) shop.setTheme(s.theme, theme);
    else shop.log.warn(`the theme chosen in the console (${s.theme}) is not installed; using ${activeThemeName(shop)}`);
  }
}

/**
 * Saves the site settings and applies them. The currency is fixed once money has moved: every
 * amount in the ledger is in it.
 */
export async function saveShopSettings(deps: Deps, input: z.input<typeof shopSettingsInput>, actor: { id: number; ip?: string }): Promise<ShopSettings> {
  const s = shopSettingsInput.parse(input);
  const before = currentSettings(deps.config);
  await transaction(deps.db, async (trx) => {
    if (s.currency !== before.currency) {
      if (await trx('journal_transactions').first('id')) throw errors.validation({ currency: 'field.currency_fixed' });
      await trx('accounts').update({ currency: s.currency });
    }
    await trx('settings').insert({ key: SHOP_KEY, value: JSON.stringify(s) }).onConflict('key').merge();
    await audit(deps, trx, { actorId: actor.id, action: 'settings.save', targetType: 'settings', targetId: 'shop', before, after: s, ip: actor.ip });
  });
  apply(deps.config, s);
  return s;
}

/** The installed themes: the configured one and those sub-shops may choose. */
export const installedThemes = (config: Config): string[] => [...new Set([config.theme, ...config.siteThemes])];

/** Runs `cardshop theme check` on an installed theme as it would be served (with the shop's overrides). */
export function checkInstalledTheme(config: Config, name: string): { dir: string; report: ThemeReport } {
  const dir = applyOverrides(resolveThemeDir(name, config.root), config.root);
  return { dir, report: checkTheme(dir, config.shop.locale) };
}

/**
 * Makes an installed theme the shop's: its check runs first, on the files as they are now, and a
 * theme with errors is refused (the report says why). The choice is saved and applies at once in
 * this process, within a minute in others, and at every start.
 */
export async function activateTheme(shop: SettingsTarget, name: string, actor: { id: number; ip?: string }): Promise<ThemeReport> {
  if (!installedThemes(shop.config).includes(name)) throw errors.validation({ theme: 'field.invalid' });
  const { dir, report } = checkInstalledTheme(shop.config, name);
  if (!report.ok) return report;
  const theme = loadTheme(dir);
  const before = activeThemeName(shop);
  await transaction(shop.db, async (trx) => {
    await trx('settings').insert({ key: THEME_KEY, value: name }).onConflict('key').merge();
    await audit(shop, trx, { actorId: actor.id, action: 'theme.activate', targetType: 'settings', targetId: 'theme', before: { theme: before }, after: { theme: name }, ip: actor.ip });
  });
  shop.setTheme(name, theme);
  return report;
}
