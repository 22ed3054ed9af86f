import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Router from '@koa/router';
import busboy from 'busboy';
import { z } from 'zod';
import { cliText, type CliKey } from '../cli/messages.js';
import { errors, fromZod, ShopError } from '../errors.js';
import { translate } from '../i18n/messages.js';
import { importKeys, previewImport, type ImportPreview, type ImportReport } from '../inventory/keys.js';
import type { KeyFormat } from '../inventory/parse.js';
import { KEY_STATUSES, keyOptionsInput, requireCardSku, revealKey, setKeyOptions, setStockLevels, skuKeys, stockList, voidKeys, type KeyStatus } from '../inventory/stock.js';
import { fillBackorders } from '../orders/backorders.js';
import { consoleData, consoleRouter, consoleShell, consoleTemplate, renderConsole } from './admin-layout.js';
import { actorOf, consolePost, failureText, idParam, many, one, param, whole, yuan } from './admin-forms.js';
import { PICK_SHOWN, type PickShown } from '../inventory/picks.js';
import { toDecimalString } from '../money/money.js';
import { requireAdmin } from './admin-api.js';
import type { ShopContext, ShopRouter } from './context.js';
import { checkCsrf } from './session.js';

/**
 * The console's inventory (admins and staff): card SKUs with their stock, low ones first; key
 * import by upload or paste with streamed progress and a dedupe report; each SKU's keys masked,
 * revealed one at a time (audited); voiding keys; low-stock thresholds and restock targets.
 */

/** The largest key file the console takes (a million keys of ~40 characters fit easily). */
const MAX_UPLOAD = 256 * 1024 * 1024;
/** Keys pasted into the text area. */
const MAX_PASTE = 16 * 1024 * 1024;

const listPage = consoleTemplate(`
{{#if error}}<p class="notice bad" role="alert">{{error}}</p>{{/if}}
{{#if preview}}<section aria-labelledby="pre-h" data-preview><h2 id="pre-h">{{t "keys.previewTitle" sku=preview.sku}}</h2>
<table><tbody>
<tr><th>{{t "admin.inv.lines"}}</th><td data-lines>{{preview.lines}}</td></tr>
<tr><th>{{t "keys.wouldAdd"}}</th><td data-added class="ok-cell">{{preview.added}}</td></tr>
<tr><th>{{t "keys.dupInFile"}}</th><td data-in-file>{{preview.duplicatesInFile}}</td></tr>
<tr><th>{{t "keys.dupInStock"}}</th><td data-in-stock>{{preview.duplicatesInStock}}</td></tr>
<tr><th>{{t "admin.inv.rejected"}}</th><td data-rejected class="{{#if preview.rejected}}bad-cell{{/if}}">{{preview.rejected}}</td></tr>
</tbody></table>
{{#unless preview.dedupe}}<p class="hint" data-no-dedupe>{{t "keys.dedupeOffHint"}}</p>{{/unless}}
{{#if rejections.length}}<table><thead><tr><th>{{t "admin.inv.line"}}</th><th>{{t "admin.inv.reason"}}</th></tr></thead><tbody>
{{#each rejections}}<tr data-rejection><td>{{line}}</td><td>{{reason}}</td></tr>{{/each}}</tbody></table>
{{#if more}}<p class="hint">{{t "admin.inv.moreRejected" n=more}}</p>{{/if}}{{/if}}
<p class="hint">{{t "keys.previewHint"}}</p></section>{{/if}}
<section aria-labelledby="imp-h"><h2 id="imp-h">{{t "admin.inv.import"}}</h2>
<form method="post" action="/admin/inventory/import" enctype="multipart/form-data">
<input type="hidden" name="_csrf" value="{{csrf}}">
<div class="cols"><div><label for="imp-sku">SKU</label><input id="imp-sku" type="text" name="sku" required value="{{sku}}" list="sku-codes" autocomplete="off">
<datalist id="sku-codes">{{#each skus}}<option value="{{code}}">{{product}} · {{name}}</option>{{/each}}</datalist></div>
<div><label for="imp-format">{{t "admin.inv.format"}}</label><select id="imp-format" name="format"><option value="text">{{t "admin.inv.formatText"}}</option><option value="csv"{{#if (eq format "csv")}} selected{{/if}}>CSV</option></select></div></div>
<label for="imp-keys">{{t "admin.inv.paste"}}</label><textarea id="imp-keys" name="keys" rows="6" placeholder="KEY-0001&#10;KEY-0002,PASSWORD">{{pasted}}</textarea>
<label for="imp-file">{{t "admin.inv.file"}}</label><input id="imp-file" type="file" name="file" accept=".txt,.csv,text/plain,text/csv">
<p class="hint">{{t "admin.inv.importHint"}}</p>
<p class="row"><button type="submit" name="dryRun" value="1">{{t "keys.preview"}}</button> <button type="submit">{{t "admin.inv.importButton"}}</button></p></form>
</section>
<section aria-labelledby="stock-h"><h2 id="stock-h">{{t "admin.inv.stock"}}</h2>
<form method="get" action="/admin/inventory" class="row"><input type="text" name="q" value="{{q}}" aria-label="{{t "admin.inv.search"}}" placeholder="{{t "admin.inv.search"}}" style="max-width:240px">
<label class="row" style="margin:0;font-weight:400"><input type="checkbox" name="low" value="1"{{#if lowOnly}} checked{{/if}}> {{t "admin.inv.lowOnly"}}</label>
<button class="small" type="submit">{{t "admin.agents.find"}}</button></form>
<table><thead><tr><th>SKU</th><th>{{t "admin.inv.product"}}</th><th>{{t "admin.inv.inStock"}}</th><th>{{t "admin.inv.sold"}}</th><th>{{t "admin.inv.lowStock"}}</th><th>{{t "admin.inv.target"}}</th><th>{{t "admin.inv.toRestock"}}</th></tr></thead><tbody>
{{#each skus}}<tr data-sku="{{code}}"{{#if low}} data-low{{/if}}><td><a href="/admin/inventory/{{code}}">{{code}}</a></td><td>{{product}} · {{name}}{{#unless enabled}} <span class="hint">({{t "admin.catalog.offSale"}})</span>{{/unless}}</td>
<td data-stock class="{{#if low}}bad-cell{{/if}}">{{stock}}{{#if low}} · {{t "admin.inv.low"}}{{/if}}</td><td>{{sold}}</td><td>{{lowStock}}</td><td>{{restockTarget}}</td><td>{{#if toRestock}}{{toRestock}}{{/if}}</td></tr>
{{else}}<tr><td colspan="7">{{t "admin.none"}}</td></tr>{{/each}}
</tbody></table>
<p class="row">{{#if prev}}<a href="?{{query}}page={{prev}}">{{t "admin.prev"}}</a>{{/if}} {{t "admin.page" page=page pages=pages}} {{#if next}}<a href="?{{query}}page={{next}}">{{t "admin.next"}}</a>{{/if}}</p>
</section>`);

const skuPage = consoleTemplate(`
{{#if saved}}<p class="notice" role="status">{{t "admin.saved"}}</p>{{/if}}
{{#if voided}}<p class="notice" role="status" data-voided>{{t "admin.inv.voided" n=voided}}</p>{{/if}}
{{#if error}}<p class="notice bad" role="alert">{{error}}</p>{{/if}}
{{#if revealed}}<section class="notice" aria-labelledby="rev-h"><h2 id="rev-h">{{t "admin.inv.revealed" id=revealed.id}}</h2><pre data-revealed>{{revealed.card}}{{#if revealed.password}}
{{revealed.password}}{{/if}}</pre><p class="hint">{{t "admin.inv.revealedHint"}}</p></section>{{/if}}
<p><a href="/admin/inventory">{{t "admin.inv.back"}}</a> · <a href="/admin/inventory?sku={{sku.code}}">{{t "admin.inv.import"}}</a></p>
<section aria-labelledby="lv-h"><h2 id="lv-h">{{sku.product}} · {{sku.name}} <small><code>{{sku.code}}</code></small></h2>
<p>{{#if (eq sku.mode "shared")}}<span data-shared>{{t "keys.mode.shared"}}</span> · {{/if}}<span data-stock>{{sku.stock}}</span> {{t "admin.inv.inStock"}}{{#if sku.low}} · <span class="bad-cell">{{t "admin.inv.low"}}</span>{{/if}} · {{sku.sold}} {{t "admin.inv.sold"}}{{#each countList}} · {{n}} {{label}}{{/each}}</p>
<form method="post" action="/admin/inventory/{{sku.code}}/levels" class="row"><input type="hidden" name="_csrf" value="{{csrf}}">
<label for="lv-low" class="hint">{{t "admin.inv.lowStock"}}</label><input id="lv-low" type="number" min="0" name="lowStock" value="{{sku.lowStock}}" style="max-width:100px">
<label for="lv-target" class="hint">{{t "admin.inv.target"}}</label><input id="lv-target" type="number" min="0" name="restockTarget" value="{{sku.restockTarget}}" style="max-width:100px">
<button class="small" type="submit">{{t "admin.save"}}</button></form>
<p class="hint">{{t "admin.inv.levelsHint"}}</p>
</section>
<section aria-labelledby="opt-h"><h2 id="opt-h">{{t "keys.options"}}</h2>
<form method="post" action="/admin/inventory/{{sku.code}}/options"><input type="hidden" name="_csrf" value="{{csrf}}">
<label class="row" style="font-weight:400"><input type="checkbox" name="dedupe" value="1"{{#if sku.dedupe}} checked{{/if}}> {{t "keys.dedupe"}}</label>
<div class="cols"><div><label for="opt-mode">{{t "keys.mode"}}</label><select id="opt-mode" name="mode"><option value="unique">{{t "keys.mode.unique"}}</option><option value="shared"{{#if (eq sku.mode "shared")}} selected{{/if}}>{{t "keys.mode.shared"}}</option></select></div>
<div><label for="opt-stock">{{t "keys.sharedStock"}}</label><input id="opt-stock" type="number" min="0" name="stock"{{#if (eq sku.mode "shared")}} value="{{sku.stock}}"{{/if}} style="max-width:140px"></div></div>
<p class="hint">{{t "keys.modeHint"}}</p>
<div class="cols"><div><label for="opt-pick">{{t "keys.pick"}}</label><select id="opt-pick" name="pickShown"><option value="">{{t "keys.pick.off"}}</option>{{#each pickChoices}}<option value="{{value}}"{{#if selected}} selected{{/if}}>{{label}}</option>{{/each}}</select></div>
<div><label for="opt-chars">{{t "keys.pickChars"}}</label><input id="opt-chars" type="number" min="1" max="32" name="pickChars" value="{{#if sku.pick}}{{sku.pick.chars}}{{else}}4{{/if}}" style="max-width:100px"></div>
<div><label for="opt-surcharge">{{t "keys.pickSurcharge"}}</label><input id="opt-surcharge" type="text" inputmode="decimal" name="pickSurcharge" value="{{pickSurcharge}}" style="max-width:120px"></div></div>
<p class="hint">{{t "keys.pickHint"}}</p>
<button class="small" type="submit">{{t "admin.save"}}</button></form>
</section>
<section aria-labelledby="keys-h"><h2 id="keys-h">{{t "admin.inv.keys"}}</h2>
<p class="row">{{#each filters}}<a href="?status={{value}}"{{#if active}} aria-current="page"{{/if}}>{{label}}</a> {{/each}}</p>
<form id="void" method="post" action="/admin/inventory/{{sku.code}}/void" class="row"><input type="hidden" name="_csrf" value="{{csrf}}">
<input type="text" name="reason" required maxlength="200" placeholder="{{t "admin.inv.voidReason"}}" aria-label="{{t "admin.inv.voidReason"}}" style="max-width:260px">
<button class="small" type="submit">{{t "admin.inv.void"}}</button></form>
<table><thead><tr><th></th><th>#</th><th>{{t "admin.inv.key"}}</th><th>{{t "admin.catalog.state"}}</th><th>{{t "admin.inv.added"}}</th><th>{{t "admin.inv.order"}}</th><th></th></tr></thead><tbody>
{{#each keys}}<tr data-key="{{id}}"><td>{{#if (eq status "available")}}<input type="checkbox" name="key" value="{{id}}" form="void" aria-label="#{{id}}">{{/if}}</td><td>{{id}}</td><td><code>{{card}}</code>{{#if password}} <code>{{password}}</code>{{/if}}</td><td>{{statusText}}</td><td>{{date createdAt}}</td><td>{{orderId}}</td>
<td><form method="post" action="/admin/inventory/{{@root.sku.code}}/keys/{{id}}/reveal"><input type="hidden" name="_csrf" value="{{@root.csrf}}"><button class="small" type="submit">{{t "admin.inv.reveal"}}</button></form></td></tr>
{{else}}<tr><td colspan="7">{{t "admin.none"}}</td></tr>{{/each}}
</tbody></table>
{{#if older}}<p><a href="?status={{status}}&before={{older}}">{{t "admin.cb.older"}}</a></p>{{/if}}
</section>`);

const reportPart = consoleTemplate(`</div>
<section aria-labelledby="rep-h" data-report><h2 id="rep-h">{{t "admin.inv.report"}}</h2>
<table><tbody>
<tr><th>{{t "admin.inv.lines"}}</th><td data-lines>{{report.lines}}</td></tr>
<tr><th>{{t "admin.inv.addedKeys"}}</th><td data-added class="ok-cell">{{report.added}}</td></tr>
<tr><th>{{t "admin.inv.duplicates"}}</th><td data-duplicates>{{report.duplicates}}</td></tr>
<tr><th>{{t "admin.inv.rejected"}}</th><td data-rejected class="{{#if report.rejected}}bad-cell{{/if}}">{{report.rejected}}</td></tr>
<tr><th>{{t "admin.inv.inStock"}}</th><td data-stock>{{stock}}</td></tr>
</tbody></table>
{{#if rejections.length}}<h3>{{t "admin.inv.rejectedLines"}}</h3><table><thead><tr><th>{{t "admin.inv.line"}}</th><th>{{t "admin.inv.reason"}}</th></tr></thead><tbody>
{{#each rejections}}<tr data-rejection><td>{{line}}</td><td>{{reason}}</td></tr>{{/each}}</tbody></table>
{{#if more}}<p class="hint">{{t "admin.inv.moreRejected" n=more}}</p>{{/if}}{{/if}}
<p><a href="/admin/inventory/{{sku}}">{{t "admin.inv.toKeys"}}</a> · <a href="/admin/inventory?sku={{sku}}">{{t "admin.inv.importMore"}}</a></p>
</section>`);

const failedPart = consoleTemplate(`</div><p class="notice bad" role="alert" data-import-failed>{{message}}</p>`);

const progressLine = consoleTemplate(`<p data-progress>{{t "admin.inv.progress" lines=p.lines added=p.added duplicates=p.duplicates rejected=p.rejected}}</p>
`);

/** What the import form shows again after a preview: the figures, and the form as it was sent. */
interface Previewed {
  preview: ImportPreview;
  pasted: string;
  format: KeyFormat;
}

async function renderList(ctx: ShopContext, failure?: ShopError, previewed?: Previewed) {
  const q = typeof ctx.query.q === 'string' ? ctx.query.q.trim().slice(0, 64) : '';
  const lowOnly = ctx.query.low === '1';
  const list = await stockList(ctx.shop, { page: Number(ctx.query.page) || 1, q, lowOnly });
  const query = `${q ? `q=${encodeURIComponent(q)}&` : ''}${lowOnly ? 'low=1&' : ''}`;
  const body = listPage({
    ...consoleData(ctx),
    ...list,
    q,
    lowOnly,
    query,
    sku: previewed?.preview.sku ?? (typeof ctx.query.sku === 'string' ? ctx.query.sku : ''),
    ...(previewed && { ...previewed, ...rejectionsView(ctx, previewed.preview) }),
    error: failure && failureText(ctx, failure),
    prev: list.page > 1 ? list.page - 1 : null,
    next: list.page < list.pages ? list.page + 1 : null,
  });
  renderConsole(ctx, { title: translate(ctx.state.locale, 'admin.inv.page'), body, status: failure?.status });
}

const codeParam = (ctx: ShopContext) => param(ctx, 'code');

async function renderSku(ctx: ShopContext, extra: { failure?: ShopError; revealed?: { id: number; card: string; password?: string } } = {}) {
  // Available keys unless asked: that list is what an operator checks, and the index serves it in order.
  const asked = String(ctx.query.status ?? 'available');
  const status = KEY_STATUSES.includes(asked as KeyStatus) ? (asked as KeyStatus) : undefined;
  const data = await skuKeys(ctx.shop, codeParam(ctx), { status, beforeId: Number(ctx.query.before) || undefined });
  const t = (key: string) => translate(ctx.state.locale, key);
  const body = skuPage({
    ...consoleData(ctx),
    ...data,
    saved: ctx.query.saved === '1',
    voided: ctx.query.voided === undefined ? null : Number(ctx.query.voided),
    error: extra.failure && failureText(ctx, extra.failure),
    revealed: extra.revealed,
    countList: KEY_STATUSES.filter((s) => s !== 'available' && data.counts[s]).map((s) => ({ n: data.counts[s], label: t(`admin.inv.status.${s}`) })),
    filters: [...KEY_STATUSES.map((s) => ({ value: s, label: t(`admin.inv.status.${s}`), active: s === status })), { value: 'all', label: t('admin.inv.all'), active: !status }],
    status: status ?? 'all',
    keys: data.keys.map((k) => ({ ...k, statusText: t(`admin.inv.status.${k.status}`) })),
    pickSurcharge: data.sku.pick ? toDecimalString(data.sku.pick.surcharge) : '',
    pickChoices: PICK_SHOWN.map((value) => ({ value, label: t(`keys.pick.${value}`), selected: data.sku.pick?.shown === value })),
  });
  renderConsole(ctx, { title: data.sku.code, body, status: extra.failure?.status });
}

interface ImportForm {
  fields: Record<string, string>;
  /** The uploaded file, spooled to disk (removed by `done`), if one was sent. */
  file?: string;
  done(): Promise<void>;
}

/**
 * Reads the import form (multipart: the upload may be large) to its end, the file spooled to a
 * temporary file so the request is finished before the import begins; the import then reads it
 * from disk a batch at a time.
 */
async function readImportForm(ctx: ShopContext): Promise<ImportForm> {
  if (!ctx.is('multipart/form-data')) throw errors.validation({ keys: 'field.required' });
  const dir = await mkdtemp(path.join(tmpdir(), 'cardshop-import-'));
  const done = () => rm(dir, { recursive: true, force: true });
  const fields: Record<string, string> = {};
  let file: string | undefined;
  let tooLarge = false;
  try {
    const writes: Array<Promise<void>> = [];
    await new Promise<void>((resolve, reject) => {
      const bb = busboy({ headers: ctx.req.headers, limits: { files: 1, fileSize: MAX_UPLOAD, fieldSize: MAX_PASTE, fields: 10 } });
      bb.on('field', (name, value, info) => {
        if (info.valueTruncated) tooLarge = true;
        fields[name] = value;
      });
      bb.on('file', (_name, stream, info) => {
        if (!info.filename) return void stream.resume();
        file = path.join(dir, 'keys');
        stream.on('limit', () => (tooLarge = true));
        writes.push(pipeline(stream, createWriteStream(file)));
      });
      bb.on('close', resolve);
      bb.on('error', reject);
      ctx.req.pipe(bb);
    });
    await Promise.all(writes);
  } catch (err) {
    await done();
    // A form that is not well-formed multipart (a client's bug or a cut connection).
    if (!(err instanceof ShopError)) ctx.shop.log.warn('a key upload could not be read', err);
    throw err instanceof ShopError ? err : errors.validation({ file: 'field.invalid' });
  }
  if (tooLarge) {
    await done();
    throw new ShopError('payload_too_large', 413, 'error.payload_too_large');
  }
  return { fields, file, done };
}

async function* importLines(pasted: string, file: string | undefined): AsyncGenerator<string> {
  if (pasted) yield* pasted.split(/\r?\n/);
  if (file) yield* createInterface({ input: createReadStream(file), crlfDelay: Infinity });
}

/**
 * The import: the form is read first (a refusal is a 4xx page), then the answer streams, a line of
 * progress per batch committed and the dedupe report at the end, so a long import shows how far it
 * has come without JavaScript.
 */
async function startImport(ctx: ShopContext): Promise<void> {
  const form = await readImportForm(ctx);
  let streaming = false;
  try {
    ctx.request.body = form.fields;
    checkCsrf(ctx);
    const code = (form.fields.sku ?? '').trim();
    const format = form.fields.format === 'csv' ? 'csv' : 'text';
    const pasted = (form.fields.keys ?? '').trim();
    if (!code) throw errors.validation({ sku: 'field.required' });
    if (!pasted && !form.file) throw errors.validation({ keys: 'field.required' });
    const sku = await requireCardSku(ctx.shop, code);
    if (form.fields.dryRun === '1') {
      const preview = await previewImport(ctx.shop, { sku: sku.code, format, lines: importLines(pasted, form.file) });
      return await renderList(ctx, undefined, { preview, pasted, format });
    }

    const out = new PassThrough();
    const [head, tail] = consoleShell(ctx, translate(ctx.state.locale, 'admin.inv.importing', { sku: sku.code }));
    ctx.status = 200;
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    ctx.set('X-Accel-Buffering', 'no'); // nginx: pass each line on as it comes
    ctx.body = out;
    streaming = true;
    out.write(`${head}<div class="progress" aria-live="polite">`);
    const data = consoleData(ctx);
    void importKeys(ctx.shop, {
      sku: sku.code,
      format,
      lines: importLines(pasted, form.file),
      actor: actorOf(ctx),
      onProgress: (p) => out.write(progressLine({ ...data, p })),
    })
      .then(async (report) => {
        // Orders paid while the SKU was out of stock get their keys now, oldest first.
        if (report.added) await fillBackorders(ctx.shop, sku.id);
        const { stock } = await requireCardSku(ctx.shop, sku.code);
        out.write(reportPart({ ...data, ...reportView(ctx, report), stock, sku: sku.code }));
      })
      .catch((err: unknown) => {
        ctx.shop.log.error(`key import into ${sku.code} failed`, err);
        out.write(failedPart({ message: translate(ctx.state.locale, err instanceof ShopError ? err.messageKey : 'admin.inv.failed') }));
      })
      .finally(() => {
        out.end(tail);
        void form.done();
      });
  } finally {
    if (!streaming) await form.done();
  }
}

function reportView(ctx: ShopContext, report: ImportReport) {
  return { report, ...rejectionsView(ctx, report) };
}

function rejectionsView(ctx: ShopContext, report: ImportReport) {
  return {
    rejections: report.rejections.map((r) => ({ line: r.line, reason: cliText(ctx.state.locale, r.reason as CliKey) })),
    more: report.rejected > report.rejections.length ? report.rejected - report.rejections.length : 0,
  };
}

export function adminInventory(): ShopRouter {
  const r = consoleRouter();

  r.get('/inventory', (ctx) => renderList(ctx));
  r.post('/inventory/import', async (ctx) => {
    try {
      await startImport(ctx);
    } catch (err) {
      if (!(err instanceof ShopError) || err.code === 'csrf_failed') throw err;
      await renderList(ctx, err);
    }
  });

  r.get('/inventory/:code', (ctx) => renderSku(ctx));
  const back = (ctx: ShopContext, query: string) => `/admin/inventory/${encodeURIComponent(codeParam(ctx))}?${query}`;
  const show = (ctx: ShopContext, failure: ShopError) => renderSku(ctx, { failure });
  consolePost(r, '/inventory/:code/levels', show, async (ctx, f) => {
    await setStockLevels(ctx.shop, codeParam(ctx), { lowStock: whole(f.lowStock) ?? null, restockTarget: whole(f.restockTarget) ?? null }, actorOf(ctx));
    return back(ctx, 'saved=1');
  });
  consolePost(r, '/inventory/:code/options', show, async (ctx, f) => {
    const mode = one(f.mode) === 'shared' ? 'shared' : 'unique';
    const shown = one(f.pickShown);
    const pick = shown ? { shown: shown as PickShown, chars: whole(f.pickChars) ?? 4, surcharge: one(f.pickSurcharge) ? yuan(f.pickSurcharge) : 0 } : null;
    await setKeyOptions(ctx.shop, codeParam(ctx), { dedupe: one(f.dedupe) === '1', mode, stock: mode === 'shared' ? whole(f.stock) : undefined, pick }, actorOf(ctx));
    return back(ctx, 'saved=1');
  });
  consolePost(r, '/inventory/:code/void', show, async (ctx, f) => {
    const n = await voidKeys(ctx.shop, { sku: codeParam(ctx), keyIds: many(f.key).map(Number), reason: one(f.reason) }, actorOf(ctx));
    return back(ctx, `voided=${n}`);
  });
  // The key is shown on this answer only (no redirect, not cached): each reveal is one audit row.
  r.post('/inventory/:code/keys/:id/reveal', async (ctx) => {
    checkCsrf(ctx);
    const id = idParam(ctx);
    const key = await revealKey(ctx.shop, { sku: codeParam(ctx), keyId: id }, actorOf(ctx));
    await renderSku(ctx, { revealed: { id, card: key.card, password: key.password } });
  });

  return r;
}

const levelsInput = z.object({ lowStock: z.number().nullable(), restockTarget: z.number().nullable() }).strict();
const importInput = z
  .object({
    keys: z.string({ error: 'field.required' }).min(1, 'field.required'),
    format: z.enum(['text', 'csv'], { error: 'field.invalid' }).default('text'),
    dryRun: z.boolean({ error: 'field.invalid' }).default(false),
  })
  .strict();
const voidInput = z.object({ keys: z.array(z.number()).max(2000, 'field.too_long'), reason: z.string({ error: 'field.required' }) }).strict();

/** The same for scripts: /api/admin/inventory (admins and staff). */
export function adminInventoryApi(): ShopRouter {
  const r: ShopRouter = new Router({ prefix: '/api/admin/inventory' });
  r.use(async (ctx, next) => {
    requireAdmin(ctx);
    await next();
  });
  const parse = <T extends z.ZodType>(schema: T, input: unknown): z.output<T> => {
    const parsed = schema.safeParse(input ?? {});
    if (!parsed.success) throw fromZod(parsed.error);
    return parsed.data;
  };

  r.get('/', async (ctx) => {
    ctx.body = await stockList(ctx.shop, { page: Number(ctx.query.page) || 1, q: typeof ctx.query.q === 'string' ? ctx.query.q : undefined, lowOnly: ctx.query.low === '1' });
  });
  r.put('/:code/levels', async (ctx) => {
    await setStockLevels(ctx.shop, ctx.params.code!, parse(levelsInput, ctx.request.body), actorOf(ctx));
    ctx.status = 204;
  });
  r.put('/:code/options', async (ctx) => {
    await setKeyOptions(ctx.shop, ctx.params.code!, ctx.request.body as z.input<typeof keyOptionsInput>, actorOf(ctx));
    ctx.status = 204;
  });
  // The keys as a file holds them, in the JSON body (so at most the body limit: files go through
  // the console or the CLI); `dryRun` answers what the import would do and writes nothing.
  r.post('/:code/import', async (ctx) => {
    const { keys, format, dryRun } = parse(importInput, ctx.request.body);
    const input = { sku: ctx.params.code!, format, lines: keys.split(/\r?\n/) };
    if (dryRun) {
      ctx.body = await previewImport(ctx.shop, input);
      return;
    }
    const report = await importKeys(ctx.shop, { ...input, actor: actorOf(ctx) });
    if (report.added) await fillBackorders(ctx.shop, (await requireCardSku(ctx.shop, report.sku)).id);
    ctx.body = report;
  });
  r.post('/:code/void', async (ctx) => {
    const { keys, reason } = parse(voidInput, ctx.request.body);
    ctx.body = { voided: await voidKeys(ctx.shop, { sku: ctx.params.code!, keyIds: keys, reason }, actorOf(ctx)) };
  });
  return r;
}
