import Router from '@koa/router';
import { z } from 'zod';
import { listApiKeys, revokeApiKey } from '../agents/api-keys.js';
import { setUserDisabled, userForAdmin } from '../agents/users.js';
import { listAudit } from '../audit/audit.js';
import { errors, fromZod, type ShopError } from '../errors.js';
import { translate } from '../i18n/messages.js';
import { kycStatus, revealIdNumber } from '../kyc/kyc.js';
import { parseMoney } from '../money/money.js';
import { adjustWallet, balanceOf, walletHistory } from '../wallet/ledger.js';
import { userIdOf, requireAdmin } from './admin-api.js';
import { actorOf, consolePost, failureText, idParam, one, param } from './admin-forms.js';
import { consoleData, consoleRouter, consoleTemplate, renderConsole } from './admin-layout.js';
import type { ShopContext, ShopRouter } from './context.js';
import { toShopError } from './errors.js';
import { checkCsrf } from './session.js';

/**
 * One account in the console (/admin/users/:id, linked from the agent tree): balance and wallet
 * history, adjustments with a reason, API keys, KYC, and disabling the account. Every change is a
 * domain function that audits it.
 */

const page = consoleTemplate(`
{{#if done}}<p class="notice" role="status" data-done>{{done}}</p>{{/if}}
{{#if error}}<p class="notice bad" role="alert">{{error}}</p>{{/if}}
<p><a href="/admin/agents?q={{user.email}}">{{t "admin.user.inTree"}}</a>{{#if user.uplineId}} · <a href="/admin/users/{{user.uplineId}}">{{t "admin.agents.upline"}} #{{user.uplineId}}</a>{{/if}}</p>
<div class="cols">
<section aria-labelledby="acct-h"><h2 id="acct-h">{{t "admin.user.account"}}</h2>
<table><tbody>
<tr><th>{{t "admin.agents.email"}}</th><td>{{user.email}}</td></tr>
<tr><th>{{t "admin.agents.role"}}</th><td>{{user.role}}</td></tr>
<tr><th>{{t "admin.user.since"}}</th><td>{{date user.createdAt}}</td></tr>
<tr><th>{{t "admin.user.spent"}}</th><td>{{money user.spendTotal}}</td></tr>
<tr><th>{{t "admin.catalog.state"}}</th><td data-account-state>{{#if user.disabled}}<span class="bad-cell">{{t "admin.user.disabled"}}</span>{{else}}<span class="ok-cell">{{t "admin.user.active"}}</span>{{/if}}</td></tr>
</tbody></table>
<form method="post" action="/admin/users/{{user.id}}/disabled"><input type="hidden" name="_csrf" value="{{csrf}}"><input type="hidden" name="disabled" value="{{#if user.disabled}}0{{else}}1{{/if}}">
<button type="submit">{{#if user.disabled}}{{t "admin.user.enable"}}{{else}}{{t "admin.user.disable"}}{{/if}}</button></form>
<p class="hint">{{t "admin.user.disableHint"}}</p>
</section>
<section aria-labelledby="kyc-h"><h2 id="kyc-h">{{t "admin.user.kyc"}}</h2>
<p data-kyc>{{kycText}}</p>
{{#if kyc.name}}<p>{{kyc.name}} · {{kyc.idNumber}}{{#if kyc.phone}} · {{kyc.phone}}{{/if}}{{#if kyc.provider}} · {{kyc.provider}}{{/if}}</p>{{/if}}
{{#if revealedId}}<pre data-revealed>{{revealedId}}</pre>{{/if}}
{{#if kyc.idNumber}}<form method="post" action="/admin/users/{{user.id}}/kyc/reveal" class="row"><input type="hidden" name="_csrf" value="{{csrf}}">
<input type="text" name="reason" required maxlength="255" placeholder="{{t "admin.user.revealReason"}}" aria-label="{{t "admin.user.revealReason"}}" style="max-width:240px">
<button class="small" type="submit">{{t "admin.user.revealId"}}</button></form>{{/if}}
</section>
</div>
<section aria-labelledby="wallet-h"><h2 id="wallet-h">{{t "admin.user.wallet"}}: <span data-balance>{{money balance}}</span></h2>
<form method="post" action="/admin/users/{{user.id}}/adjust" class="row"><input type="hidden" name="_csrf" value="{{csrf}}">
<input type="text" name="amount" required placeholder="+10.00 / -5" aria-label="{{t "admin.user.amount"}}" style="max-width:120px" inputmode="decimal">
<input type="text" name="reason" required maxlength="255" placeholder="{{t "admin.user.reason"}}" aria-label="{{t "admin.user.reason"}}" style="max-width:320px">
<button class="small" type="submit">{{t "admin.user.adjust"}}</button></form>
<table><thead><tr><th>{{t "admin.time"}}</th><th>{{t "admin.user.kind"}}</th><th>{{t "admin.user.amount"}}</th><th>{{t "admin.user.memo"}}</th></tr></thead><tbody>
{{#each history}}<tr data-entry><td>{{date createdAt}}</td><td>{{kindText}}</td><td class="{{#if negative}}bad-cell{{else}}ok-cell{{/if}}">{{money amount}}</td><td>{{#if orderNo}}<a href="/admin/payments/orders/{{orderNo}}">{{orderNo}}</a> {{/if}}{{memo}}</td></tr>
{{else}}<tr><td colspan="4">{{t "admin.none"}}</td></tr>{{/each}}
</tbody></table>
{{#if older}}<p><a href="?before={{older}}">{{t "admin.cb.older"}}</a></p>{{/if}}
</section>
<section aria-labelledby="keys-h"><h2 id="keys-h">{{t "admin.user.apiKeys"}}</h2>
<table><thead><tr><th>{{t "admin.user.key"}}</th><th>{{t "admin.user.label"}}</th><th>{{t "admin.user.created"}}</th><th>{{t "admin.user.lastUsed"}}</th><th></th></tr></thead><tbody>
{{#each keys}}<tr data-api-key="{{key}}"><td><code>{{key}}</code></td><td>{{label}}</td><td>{{date createdAt}}</td><td>{{date lastUsedAt}}</td>
<td>{{#if revokedAt}}<span class="hint">{{t "admin.user.revoked"}} {{date revokedAt}}</span>{{else}}<form method="post" action="/admin/users/{{@root.user.id}}/api-keys/{{key}}/revoke"><input type="hidden" name="_csrf" value="{{@root.csrf}}"><button class="small" type="submit">{{t "admin.user.revoke"}}</button></form>{{/if}}</td></tr>
{{else}}<tr><td colspan="5">{{t "admin.none"}}</td></tr>{{/each}}
</tbody></table>
</section>
<section aria-labelledby="aud-h"><h2 id="aud-h">{{t "admin.user.audit"}}</h2>
<table><thead><tr><th>{{t "admin.time"}}</th><th>{{t "admin.user.action"}}</th><th>{{t "admin.user.by"}}</th><th>IP</th></tr></thead><tbody>
{{#each audit}}<tr><td>{{date createdAt}}</td><td><code>{{action}}</code></td><td>{{#if actorId}}<a href="/admin/users/{{actorId}}">#{{actorId}}</a>{{/if}}</td><td>{{ip}}</td></tr>
{{else}}<tr><td colspan="4">{{t "admin.none"}}</td></tr>{{/each}}
</tbody></table>
</section>`);

async function render(ctx: ShopContext, extra: { failure?: ShopError; revealedId?: string } = {}) {
  const id = idParam(ctx);
  const before = Number(ctx.query.before) || undefined;
  const [user, balance, history, keys, kyc, audit] = await Promise.all([
    userForAdmin(ctx.shop, id),
    balanceOf(ctx.shop, id),
    walletHistory(ctx.shop, id, { limit: 50, beforeId: before }),
    listApiKeys(ctx.shop, id),
    kycStatus(ctx.shop, id),
    listAudit(ctx.shop, { targetType: 'user', targetId: id, limit: 20 }),
  ]);
  const t = (key: string, params?: Record<string, unknown>) => translate(ctx.state.locale, key, params);
  const done = typeof ctx.query.done === 'string' && /^[a-z_]+$/.test(ctx.query.done) ? t(`admin.user.done.${ctx.query.done}`) : undefined;
  const body = page({
    ...consoleData(ctx),
    done,
    error: extra.failure && failureText(ctx, extra.failure),
    user,
    balance,
    history: history.map((h) => ({ ...h, negative: h.amount < 0, kindText: t(`admin.journal.${h.kind}`).replace(/^admin\.journal\./, '') })),
    older: history.length === 50 ? history.at(-1)!.id : null,
    keys,
    kyc,
    kycText: t(`admin.user.kyc.${kyc.status}`),
    revealedId: extra.revealedId,
    audit,
  });
  renderConsole(ctx, { title: user.email, body, status: extra.failure?.status });
}

/** `+10`, `-5.50`, `12.3` (yuan) as signed minor units; NaN when it is not an amount. */
const signedYuan = (v: string) => parseMoney(v.replace(/^\+/, '')) ?? NaN;

export function adminUsers(): ShopRouter {
  const r = consoleRouter();
  const back = (ctx: ShopContext, done: string) => `/admin/users/${idParam(ctx)}?done=${done}`;
  const show = (ctx: ShopContext, failure: ShopError) => render(ctx, { failure });

  r.get('/users/:id', (ctx) => render(ctx));
  consolePost(r, '/users/:id/adjust', show, async (ctx, f) => {
    const amount = signedYuan(one(f.amount));
    if (!Number.isSafeInteger(amount) || amount === 0) throw errors.validation({ amount: 'field.invalid' });
    await adjustWallet(ctx.shop, { userId: idParam(ctx), amount, reason: one(f.reason), actorId: ctx.state.user!.id, ip: ctx.ip });
    return back(ctx, 'adjusted');
  });
  consolePost(r, '/users/:id/disabled', show, async (ctx, f) => {
    const disabled = one(f.disabled) === '1';
    await setUserDisabled(ctx.shop, { userId: idParam(ctx), disabled, actorId: ctx.state.user!.id, ip: ctx.ip });
    return back(ctx, disabled ? 'disabled' : 'enabled');
  });
  consolePost(r, '/users/:id/api-keys/:key/revoke', show, async (ctx) => {
    await revokeApiKey(ctx.shop, idParam(ctx), param(ctx, 'key'), actorOf(ctx));
    return back(ctx, 'revoked');
  });
  // The full ID number is on this answer only; the reveal is audited with its reason.
  r.post('/users/:id/kyc/reveal', async (ctx) => {
    checkCsrf(ctx);
    const reason = one((ctx.request.body as Record<string, string> | undefined)?.reason);
    try {
      const revealedId = await revealIdNumber(ctx.shop, { userId: idParam(ctx), actorId: ctx.state.user!.id, reason, ip: ctx.ip });
      await render(ctx, { revealedId });
    } catch (err) {
      const e = toShopError(err);
      if (e.status >= 500) throw err;
      await render(ctx, { failure: e });
    }
  });

  return r;
}

const disableInput = z.object({ disabled: z.boolean({ error: 'field.invalid' }) }).strict();

/** The same for scripts: /api/admin/users/:id (admins). */
export function adminUsersApi(): ShopRouter {
  const r: ShopRouter = new Router({ prefix: '/api/admin/users' });
  r.use(async (ctx, next) => {
    requireAdmin(ctx);
    await next();
  });
  r.get('/:userId', async (ctx) => {
    const id = userIdOf(ctx.params.userId);
    const [user, balance, apiKeys] = await Promise.all([userForAdmin(ctx.shop, id), balanceOf(ctx.shop, id), listApiKeys(ctx.shop, id)]);
    ctx.body = { user, balance, apiKeys };
  });
  r.get('/:userId/wallet', async (ctx) => {
    ctx.body = { entries: await walletHistory(ctx.shop, userIdOf(ctx.params.userId), { limit: Number(ctx.query.limit) || 50, beforeId: Number(ctx.query.before) || undefined }) };
  });
  r.post('/:userId/disable', async (ctx) => {
    const parsed = disableInput.safeParse(ctx.request.body ?? {});
    if (!parsed.success) throw fromZod(parsed.error);
    await setUserDisabled(ctx.shop, { userId: userIdOf(ctx.params.userId), disabled: parsed.data.disabled, actorId: ctx.state.user!.id, ip: ctx.ip });
    ctx.status = 204;
  });
  r.post('/:userId/api-keys/:key/revoke', async (ctx) => {
    await revokeApiKey(ctx.shop, userIdOf(ctx.params.userId), ctx.params.key!, actorOf(ctx));
    ctx.status = 204;
  });
  return r;
}
