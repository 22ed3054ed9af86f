import { CURRENCIES } from '../config/config.js';
import type { ShopError } from '../errors.js';
import { LOCALES, translate } from '../i18n/messages.js';
import { activateTheme, activeThemeName, checkInstalledTheme, currentSettings, installedThemes, saveShopSettings } from '../settings/settings.js';
import type { ThemeReport } from '../themes/check.js';
import { actorOf, consolePost, failureText, one } from './admin-forms.js';
import { consoleData, consoleRouter, consoleTemplate, renderConsole } from './admin-layout.js';
import type { ShopContext, ShopRouter } from './context.js';
import { checkCsrf } from './session.js';

/**
 * The console's themes (activate one of the installed themes, after `theme check` passes) and site
 * settings (name, language, currency, notice), applied at once in this process.
 */

const themesPage = consoleTemplate(`
{{#if activated}}<p class="notice" role="status" data-activated>{{t "admin.themes.activated" name=activated}}</p>{{/if}}
{{#if report}}<section class="{{#if report.ok}}notice{{else}}notice bad{{/if}}" aria-labelledby="rep-h" data-check="{{#if report.ok}}passed{{else}}failed{{/if}}">
<h2 id="rep-h">{{#if report.ok}}{{t "admin.themes.passed" name=checked}}{{else}}{{t "admin.themes.failed" name=checked}}{{/if}}</h2>
<ul>{{#each report.findings}}<li><strong>{{level}}</strong> {{rule}} {{#if file}}<code>{{file}}{{#if line}}:{{line}}{{/if}}</code>{{/if}} {{message}}</li>{{/each}}</ul>
</section>{{/if}}
{{#if error}}<p class="notice bad" role="alert">{{error}}</p>{{/if}}
<section><p class="hint">{{t "admin.themes.hint"}}</p>
<table><thead><tr><th>{{t "admin.themes.name"}}</th><th>{{t "admin.catalog.state"}}</th><th></th></tr></thead><tbody>
{{#each themes}}<tr data-theme="{{name}}"><td><code>{{name}}</code></td><td>{{#if active}}<span class="ok-cell">{{t "admin.themes.active"}}</span>{{/if}}</td>
<td class="row"><form method="post" action="/admin/themes/check"><input type="hidden" name="_csrf" value="{{@root.csrf}}"><input type="hidden" name="theme" value="{{name}}"><button class="small" type="submit">{{t "admin.themes.check"}}</button></form>
{{#unless active}}<form method="post" action="/admin/themes/activate"><input type="hidden" name="_csrf" value="{{@root.csrf}}"><input type="hidden" name="theme" value="{{name}}"><button class="small" type="submit">{{t "admin.themes.activate"}}</button></form>{{/unless}}</td></tr>{{/each}}
</tbody></table></section>`);

const settingsPage = consoleTemplate(`
{{#if saved}}<p class="notice" role="status">{{t "admin.settings.saved"}}</p>{{/if}}
{{#if error}}<p class="notice bad" role="alert">{{error}}</p>{{/if}}
<section><form method="post" action="/admin/settings"><input type="hidden" name="_csrf" value="{{csrf}}">
<label for="s-name">{{t "admin.settings.name"}}</label><input id="s-name" type="text" name="name" value="{{s.name}}" required maxlength="80">
<div class="cols"><div><label for="s-locale">{{t "admin.settings.locale"}}</label><select id="s-locale" name="locale">{{#each locales}}<option value="{{this}}"{{#if (eq this @root.s.locale)}} selected{{/if}}>{{this}}</option>{{/each}}</select>
<p class="hint">{{t "admin.settings.localeHint"}}</p></div>
<div><label for="s-currency">{{t "admin.settings.currency"}}</label><select id="s-currency" name="currency">{{#each currencies}}<option value="{{this}}"{{#if (eq this @root.s.currency)}} selected{{/if}}>{{this}}</option>{{/each}}</select>
<p class="hint">{{t "admin.settings.currencyHint"}}</p></div></div>
<label for="s-notice">{{t "admin.settings.notice"}}</label><textarea id="s-notice" name="notice" rows="3" maxlength="1000">{{s.notice}}</textarea>
<p class="hint">{{t "admin.settings.noticeHint"}}</p>
<button type="submit">{{t "admin.save"}}</button></form></section>`);

async function renderThemes(ctx: ShopContext, extra: { report?: ThemeReport; checked?: string; failure?: ShopError; status?: number } = {}) {
  const active = activeThemeName(ctx.shop);
  const body = themesPage({
    ...consoleData(ctx),
    ...extra,
    activated: typeof ctx.query.activated === 'string' ? ctx.query.activated : undefined,
    error: extra.failure && failureText(ctx, extra.failure),
    themes: installedThemes(ctx.shop.config).map((name) => ({ name, active: name === active })),
  });
  renderConsole(ctx, { title: translate(ctx.state.locale, 'admin.themes.page'), body, status: extra.status ?? extra.failure?.status });
}

async function renderSettings(ctx: ShopContext, failure?: ShopError, typed?: Record<string, string>) {
  const body = settingsPage({
    ...consoleData(ctx),
    saved: ctx.query.saved === '1',
    error: failure && failureText(ctx, failure),
    s: typed ?? currentSettings(ctx.shop.config),
    locales: LOCALES,
    currencies: CURRENCIES,
  });
  renderConsole(ctx, { title: translate(ctx.state.locale, 'admin.settings.page'), body, status: failure?.status });
}

const chosenTheme = (ctx: ShopContext) => {
  const name = one((ctx.request.body as Record<string, string> | undefined)?.theme);
  return installedThemes(ctx.shop.config).includes(name) ? name : undefined;
};

export function adminSettings(): ShopRouter {
  const r = consoleRouter();

  r.get('/themes', (ctx) => renderThemes(ctx));
  // A check on its own changes nothing; it shows what activating would find.
  r.post('/themes/check', async (ctx) => {
    checkCsrf(ctx);
    const name = chosenTheme(ctx);
    if (!name) return renderThemes(ctx, { status: 404 });
    await renderThemes(ctx, { report: checkInstalledTheme(ctx.shop.config, name).report, checked: name });
  });
  r.post('/themes/activate', async (ctx) => {
    checkCsrf(ctx);
    const name = chosenTheme(ctx);
    if (!name) return renderThemes(ctx, { status: 404 });
    const report = await activateTheme(ctx.shop, name, actorOf(ctx));
    if (!report.ok) return renderThemes(ctx, { report, checked: name, status: 409 });
    ctx.status = 303;
    ctx.redirect(`/admin/themes?activated=${encodeURIComponent(name)}`);
  });

  r.get('/settings', (ctx) => renderSettings(ctx));
  consolePost(
    r,
    '/settings',
    (ctx, failure) => {
      const f = (ctx.request.body ?? {}) as Record<string, string>;
      return renderSettings(ctx, failure, { name: one(f.name), locale: one(f.locale), currency: one(f.currency), notice: one(f.notice) });
    },
    async (ctx, f) => {
      await saveShopSettings(ctx.shop, { name: one(f.name), locale: one(f.locale) as never, currency: one(f.currency) as never, notice: one(f.notice) }, actorOf(ctx));
      return '/admin/settings?saved=1';
    },
  );

  return r;
}
