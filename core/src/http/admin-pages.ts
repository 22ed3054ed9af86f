import Router from '@koa/router';
import { ShopError } from '../errors.js';
import { translate } from '../i18n/messages.js';
import { readSettingsForm, saveSettings, settingFields, storedSettings } from '../plugins/settings-form.js';
import { consoleData, consoleTemplate, consoleUser, renderConsole } from './admin-layout.js';
import type { ShopContext, ShopRouter } from './context.js';
import { toShopError } from './errors.js';
import { checkCsrf } from './session.js';

/**
 * The console's plugin page: each plugin's settings as a form generated from its zod schema, secrets
 * never sent to the browser. The console (issue "operator's console") grows around this page; it is
 * the core's own markup, not the shop theme's.
 */
const page = consoleTemplate(`{{#if saved}}<p class="notice" role="status">{{t.saved}}</p>{{/if}}
{{#if error}}<p class="notice bad" role="alert">{{error}}</p>{{/if}}
{{#if tested}}<p class="notice" role="status">{{tested}}</p>{{/if}}
{{#unless plugins.length}}<p>{{t.none}}</p>{{/unless}}
{{#each plugins}}
<section aria-labelledby="p-{{name}}">
<h2 id="p-{{name}}">{{name}} <small>{{version}}</small></h2>
{{#if fields.length}}
<form method="post" action="/admin/plugins/{{name}}">
<input type="hidden" name="_csrf" value="{{../csrf}}">
{{#each fields}}
{{#if (eq kind "checkbox")}}<label><input type="checkbox" name="{{name}}"{{#if checked}} checked{{/if}}> {{label}}</label>
{{else}}<label for="{{../name}}-{{name}}">{{label}}{{#if required}} *{{/if}}</label>
{{#if (eq kind "select")}}<select id="{{../name}}-{{name}}" name="{{name}}">{{#each options}}<option{{#if (eq this ../value)}} selected{{/if}}>{{this}}</option>{{/each}}</select>
{{else if (eq kind "secret")}}<input id="{{../name}}-{{name}}" type="password" name="{{name}}" autocomplete="off" placeholder="{{#if isSet}}{{@root.t.secretSet}}{{/if}}"><p class="hint">{{#if isSet}}{{@root.t.secretKeep}}{{/if}}</p>
{{else}}<input id="{{../name}}-{{name}}" type="{{#if (eq kind "number")}}number{{else}}text{{/if}}" name="{{name}}" value="{{value}}">{{#if (eq kind "list")}}<p class="hint">{{@root.t.list}}</p>{{/if}}
{{/if}}{{/if}}
{{#if error}}<p class="error">{{error}}</p>{{/if}}
{{/each}}
<button type="submit">{{@root.t.save}}</button>
</form>
{{else}}<p>{{@root.t.noSettings}}</p>{{/if}}
{{#if alerts}}<form method="post" action="/admin/plugins/{{name}}/test-alert">
<input type="hidden" name="_csrf" value="{{../csrf}}">
<button type="submit">{{@root.t.testAlert}}</button>
</form>{{/if}}
</section>
{{/each}}`);

const TEXT = {
  'zh-CN': {
    title: '插件设置',
    saved: '已保存。新设置在店铺重启后生效。',
    none: '没有启用的插件。',
    secretSet: '已设置（不显示）',
    secretKeep: '留空则保持原值。',
    list: '多个值用逗号分隔。',
    noSettings: '此插件没有可设置的项目。',
    save: '保存',
    testAlert: translate('zh-CN', 'alerts.console.test'),
  },
  en: {
    title: 'Plugin settings',
    saved: 'Saved. The new settings take effect when the shop restarts.',
    none: 'No plugins are enabled.',
    secretSet: 'set (not shown)',
    secretKeep: 'Leave empty to keep it.',
    list: 'Separate several values with commas.',
    noSettings: 'This plugin has no settings.',
    save: 'Save',
    testAlert: translate('en', 'alerts.console.test'),
  },
};

interface Shown {
  saved?: boolean;
  failed?: { plugin: string; input: Record<string, unknown>; error: ShopError };
  /** How a test alert went: sent, or why not. */
  tested?: { text: string; ok: boolean };
}

function render(ctx: ShopContext, opts: Shown = {}) {
  const locale = ctx.state.locale;
  const plugins = [...ctx.shop.plugins.configured].map(([name, { definition, input }]) => {
    const failure = opts.failed?.plugin === name ? opts.failed : undefined;
    const fields = definition.settings ? settingFields(definition.settings, failure?.input ?? input) : [];
    return {
      name,
      version: definition.version,
      alerts: ctx.shop.alerts.channels.has(name),
      fields: fields.map((f) => ({ ...f, error: failure?.error.fields?.[f.name] ? translate(locale, failure.error.fields[f.name]!) : undefined })),
    };
  });
  const body = page({
    ...consoleData(ctx),
    t: TEXT[locale],
    plugins,
    saved: opts.saved,
    error: opts.failed ? translate(locale, opts.failed.error.messageKey) : opts.tested && !opts.tested.ok ? opts.tested.text : undefined,
    tested: opts.tested?.ok ? opts.tested.text : undefined,
  });
  renderConsole(ctx, { title: TEXT[locale].title, body, status: opts.failed ? 400 : opts.tested && !opts.tested.ok ? 502 : 200 });
}

const admin = (ctx: ShopContext) => consoleUser(ctx)?.id;

export function adminPages(): ShopRouter {
  const r: ShopRouter = new Router({ prefix: '/admin' });

  r.get('/plugins', (ctx) => {
    if (admin(ctx) === undefined) return;
    render(ctx, { saved: ctx.query.saved === '1' });
  });

  r.post('/plugins/:name', async (ctx) => {
    const actor = admin(ctx);
    if (actor === undefined) return;
    checkCsrf(ctx);
    const plugin = ctx.shop.plugins.configured.get(ctx.params.name!);
    if (!plugin?.definition.settings) throw new ShopError('not_found', 404, 'error.not_found');
    const input = readSettingsForm(plugin.definition.settings, (ctx.request.body ?? {}) as Record<string, unknown>, plugin.input);
    const checked = plugin.definition.settings.safeParse(input);
    if (!checked.success) {
      return render(ctx, { failed: { plugin: ctx.params.name!, input, error: toShopError(checked.error) } });
    }
    await saveSettings(ctx.shop, ctx.params.name!, input, actor, ctx.ip);
    ctx.shop.log.info(`admin #${actor} changed the settings of plugin ${ctx.params.name}`);
    ctx.status = 303;
    ctx.redirect('/admin/plugins?saved=1');
  });

  // Sends through the settings saved last (they reach the running channel at the next restart), so
  // a token just entered can be tried at once.
  r.post('/plugins/:name/test-alert', async (ctx) => {
    const actor = admin(ctx);
    if (actor === undefined) return;
    checkCsrf(ctx);
    const name = ctx.params.name!;
    const plugin = ctx.shop.plugins.configured.get(name);
    const channel = ctx.shop.alerts.channels.get(name);
    if (!plugin || !channel) throw new ShopError('not_found', 404, 'error.not_found');
    const locale = ctx.state.locale;
    const input = { ...plugin.input, ...(await storedSettings(ctx.shop)).get(name) };
    const checked = plugin.definition.settings ? plugin.definition.settings.safeParse(input) : { success: true as const, data: input };
    if (!checked.success) return render(ctx, { failed: { plugin: name, input, error: toShopError(checked.error) } });
    let tested: Shown['tested'];
    try {
      const sent = await ctx.shop.alerts.test(channel.build(checked.data));
      tested = sent
        ? { ok: false, text: translate(locale, 'alerts.console.wait', { plugin: name, seconds: Math.max(1, Math.ceil((sent.retryAt - ctx.shop.now()) / 1000)) }) }
        : { ok: true, text: translate(locale, 'alerts.console.sent', { plugin: name }) };
    } catch (err) {
      tested = { ok: false, text: translate(locale, 'alerts.console.failed', { plugin: name, error: (err as Error).message }) };
    }
    ctx.shop.log.info(`admin #${actor} sent a test alert through ${name}: ${tested.ok ? 'sent' : tested.text}`);
    render(ctx, { tested });
  });

  return r;
}
