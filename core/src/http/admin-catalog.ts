import {
  addSku,
  bulkPrice,
  catalogTree,
  PRODUCT_TYPES,
  productForAdmin,
  saveCategory,
  saveProduct,
  setCatalogEnabled,
  setVisibility,
  VISIBILITY,
  skuCodeOf,
  skuIdsOfProducts,
  updateSku,
  type CatalogKind,
} from '../catalog/catalog.js';
import type { InputField } from '../catalog/fields.js';
import { listRoutes, setRoute } from '../delivery/routes.js';
import { listWatches } from '../notices/watches.js';
import { setBuyerLimit } from '../orders/limits.js';
import { setFlash } from '../pricing/flash.js';
import { errors, type ShopError } from '../errors.js';
import { translate } from '../i18n/messages.js';
import { toDecimalString } from '../money/money.js';
import { consoleData, consoleRouter, consoleTemplate, renderConsole } from './admin-layout.js';
import { setTiers } from '../pricing/wholesale.js';
import { actorOf, consolePost, failureText, formOf, idParam, instantOf, localInput, many, one, param, percentBp, whole, yuan, type Form } from './admin-forms.js';
import type { ShopContext, ShopRouter } from './context.js';

/**
 * The console's catalog: categories, products with their buyer input fields, SKUs (price, quantity
 * limits, on sale or not), each SKU's supplier routes, and price changes by percent for many SKUs
 * at once. Every form posts to a domain function in catalog/ that audits the change.
 */

const notices = `{{#if saved}}<p class="notice" role="status">{{t "admin.saved"}}</p>{{/if}}
{{#if repriced}}<p class="notice" role="status" data-repriced>{{t "admin.catalog.repriced" n=repriced}}</p>{{/if}}
{{#if error}}<p class="notice bad" role="alert">{{error}}</p>{{/if}}`;

const enableButton = (action: string, back: string) =>
  `<form method="post" action="${action}"><input type="hidden" name="_csrf" value="{{@root.csrf}}"><input type="hidden" name="back" value="${back}"><input type="hidden" name="enabled" value="{{#if enabled}}0{{else}}1{{/if}}"><button class="small" type="submit">{{#if enabled}}{{t "admin.catalog.disable"}}{{else}}{{t "admin.catalog.enable"}}{{/if}}</button></form>`;

const visibilityForm = (action: string, back: string) =>
  `<form method="post" action="${action}" class="row" style="margin-top:4px"><input type="hidden" name="_csrf" value="{{@root.csrf}}"><input type="hidden" name="back" value="${back}"><select name="visibility" aria-label="{{t "admin.catalog.visibility"}}" style="max-width:120px">{{#each @root.visibilities}}<option value="{{this}}"{{#if (eq this ../visibility)}} selected{{/if}}>{{t (concat "admin.catalog.visibility." this)}}</option>{{/each}}</select><button class="small" type="submit">{{t "admin.catalog.setVisibility"}}</button></form>`;

const catalogPage = consoleTemplate(`${notices}
<section aria-labelledby="cat-h"><h2 id="cat-h">{{t "admin.catalog.categories"}}</h2>
<table><thead><tr><th>{{t "admin.catalog.name"}}</th><th>{{t "admin.catalog.slug"}}</th><th>{{t "admin.catalog.sort"}}</th><th>{{t "admin.catalog.products"}}</th><th>{{t "admin.catalog.state"}}</th><th></th></tr></thead><tbody>
{{#each categories}}<tr data-category="{{id}}"><td colspan="4"><form method="post" action="/admin/catalog/categories/{{id}}" class="row"><input type="hidden" name="_csrf" value="{{@root.csrf}}">
<input type="text" name="name" value="{{name}}" aria-label="{{t "admin.catalog.name"}}" style="max-width:180px">
<input type="text" name="slug" value="{{slug}}" aria-label="{{t "admin.catalog.slug"}}" style="max-width:160px">
<input type="number" name="sort" value="{{sort}}" aria-label="{{t "admin.catalog.sort"}}" style="max-width:80px">
{{#if enabled}}<input type="hidden" name="enabled" value="1">{{/if}}
<button class="small" type="submit">{{t "admin.save"}}</button>
<a href="/admin/catalog?category={{id}}"{{#if (eq id @root.categoryId)}} aria-current="true"{{/if}}>{{t "admin.catalog.productsOf" n=products.length}}</a></form></td>
<td>{{#if enabled}}<span class="ok-cell">{{t "admin.catalog.onSale"}}</span>{{else}}<span class="bad-cell">{{t "admin.catalog.offSale"}}</span>{{/if}}</td>
<td>${enableButton('/admin/catalog/category/{{id}}/enabled', '/admin/catalog?category={{id}}')}</td></tr>
{{else}}<tr><td colspan="6">{{t "admin.none"}}</td></tr>{{/each}}
</tbody></table>
<h3>{{t "admin.catalog.addCategory"}}</h3>
<form method="post" action="/admin/catalog/categories" class="row"><input type="hidden" name="_csrf" value="{{csrf}}">
<input type="text" name="name" required placeholder="{{t "admin.catalog.name"}}" aria-label="{{t "admin.catalog.name"}}" style="max-width:180px">
<input type="text" name="slug" required placeholder="{{t "admin.catalog.slug"}}" aria-label="{{t "admin.catalog.slug"}}" style="max-width:160px">
<input type="hidden" name="enabled" value="1"><button class="small" type="submit">{{t "admin.add"}}</button></form>
</section>

{{#if category}}<section aria-labelledby="prod-h"><h2 id="prod-h">{{t "admin.catalog.productsIn" name=category.name}}</h2>
<form id="bulk" method="post" action="/admin/catalog/bulk-price" class="row"><input type="hidden" name="_csrf" value="{{csrf}}"><input type="hidden" name="back" value="/admin/catalog?category={{category.id}}">
<label for="bulk-percent" class="hint">{{t "admin.catalog.bulkHint"}}</label>
<input id="bulk-percent" type="text" name="percent" required placeholder="+10 / -5.5" style="max-width:110px" inputmode="decimal">
<button class="small" type="submit">{{t "admin.catalog.bulkApply"}}</button></form>
<table><thead><tr><th><span class="hint">{{t "admin.catalog.pick"}}</span></th><th>{{t "admin.catalog.name"}}</th><th>{{t "admin.catalog.type"}}</th><th>SKU</th><th>{{t "admin.catalog.state"}}</th><th></th></tr></thead><tbody>
{{#each category.products}}<tr data-product="{{id}}"><td><input type="checkbox" name="product" value="{{id}}" form="bulk" aria-label="{{name}}"></td>
<td><a href="/admin/catalog/products/{{id}}">{{name}}</a><br><code class="hint">{{slug}}</code></td><td>{{type}}</td><td>{{skus}}</td>
<td>{{#if enabled}}<span class="ok-cell">{{t "admin.catalog.onSale"}}</span>{{else}}<span class="bad-cell">{{t "admin.catalog.offSale"}}</span>{{/if}}{{#unless (eq visibility "listed")}} · <span data-visibility="{{visibility}}">{{t (concat "admin.catalog.visibility." visibility)}}</span>{{/unless}}</td>
<td>${enableButton('/admin/catalog/product/{{id}}/enabled', '/admin/catalog?category={{@root.category.id}}')}</td></tr>
{{else}}<tr><td colspan="6">{{t "admin.none"}}</td></tr>{{/each}}
</tbody></table>
<h3>{{t "admin.catalog.addProduct"}}</h3>
<form method="post" action="/admin/catalog/products" class="row"><input type="hidden" name="_csrf" value="{{csrf}}"><input type="hidden" name="categoryId" value="{{category.id}}">
<input type="text" name="name" required placeholder="{{t "admin.catalog.name"}}" aria-label="{{t "admin.catalog.name"}}" style="max-width:200px">
<input type="text" name="slug" required placeholder="{{t "admin.catalog.slug"}}" aria-label="{{t "admin.catalog.slug"}}" style="max-width:160px">
<select name="type" aria-label="{{t "admin.catalog.type"}}" style="max-width:160px">{{#each types}}<option value="{{this}}">{{this}}</option>{{/each}}</select>
<input type="hidden" name="enabled" value="1"><button class="small" type="submit">{{t "admin.add"}}</button></form>
<p class="hint">{{t "admin.catalog.typeHint"}}</p>
</section>{{else}}<p class="hint">{{t "admin.catalog.pickCategory"}}</p>{{/if}}`);

const FIELD_TYPES = ['text', 'phone', 'email', 'number', 'select'] as const;
const NEW_FIELD_ROWS = 2;

const productPage = consoleTemplate(`{{#*inline "skuFormBack"}}<input type="hidden" name="_csrf" value="{{@root.csrf}}"><input type="hidden" name="back" value="/admin/catalog/products/{{@root.product.id}}">{{/inline}}${notices}
<p><a href="/admin/catalog?category={{product.categoryId}}">{{t "admin.catalog.back"}}</a></p>
<section aria-labelledby="p-h"><h2 id="p-h">{{product.name}} <small><code>{{product.type}}</code></small></h2>
<form method="post" action="/admin/catalog/products/{{product.id}}"><input type="hidden" name="_csrf" value="{{csrf}}"><input type="hidden" name="type" value="{{product.type}}">
<div class="cols"><div>
<label for="p-name">{{t "admin.catalog.name"}}</label><input id="p-name" type="text" name="name" value="{{product.name}}" required>
<label for="p-slug">{{t "admin.catalog.slug"}}</label><input id="p-slug" type="text" name="slug" value="{{product.slug}}" required>
<label for="p-cat">{{t "admin.catalog.category"}}</label><select id="p-cat" name="categoryId">{{#each categories}}<option value="{{id}}"{{#if (eq id @root.product.categoryId)}} selected{{/if}}>{{name}}</option>{{/each}}</select>
</div><div>
<label for="p-img">{{t "admin.catalog.image"}}</label><input id="p-img" type="text" name="imageUrl" value="{{product.imageUrl}}">
<label for="p-sort">{{t "admin.catalog.sort"}}</label><input id="p-sort" type="number" name="sort" value="{{product.sort}}">
<label><input type="checkbox" name="enabled" value="1"{{#if product.enabled}} checked{{/if}}> {{t "admin.catalog.onSale"}}</label>
</div></div>
<label for="p-desc">{{t "admin.catalog.description"}}</label><textarea id="p-desc" name="description" rows="4">{{product.description}}</textarea>
<h3>{{t "admin.catalog.fields"}}</h3><p class="hint">{{t "admin.catalog.fieldsHint"}}</p>
<table><thead><tr><th>{{t "admin.catalog.fieldName"}}</th><th>中文</th><th>English</th><th>{{t "admin.catalog.fieldType"}}</th><th>{{t "admin.catalog.fieldRequired"}}</th><th>{{t "admin.catalog.fieldMax"}}</th><th>{{t "admin.catalog.fieldOptions"}}</th></tr></thead><tbody>
{{#each fieldRows}}<tr><td><input type="text" name="f{{@index}}_name" value="{{name}}" aria-label="{{t "admin.catalog.fieldName"}}"></td>
<td><input type="text" name="f{{@index}}_zh" value="{{zh}}" aria-label="中文"></td><td><input type="text" name="f{{@index}}_en" value="{{en}}" aria-label="English"></td>
<td><select name="f{{@index}}_type" aria-label="{{t "admin.catalog.fieldType"}}">{{#each @root.fieldTypes}}<option{{#if (eq this ../type)}} selected{{/if}}>{{this}}</option>{{/each}}</select></td>
<td><input type="checkbox" name="f{{@index}}_required" value="1"{{#if required}} checked{{/if}} aria-label="{{t "admin.catalog.fieldRequired"}}"></td>
<td><input type="number" name="f{{@index}}_max" value="{{maxLength}}" style="max-width:80px" aria-label="{{t "admin.catalog.fieldMax"}}"></td>
<td><input type="text" name="f{{@index}}_options" value="{{options}}" aria-label="{{t "admin.catalog.fieldOptions"}}"></td></tr>{{/each}}
</tbody></table>
<button type="submit">{{t "admin.save"}}</button></form>
<h3>{{t "admin.catalog.visibility"}}</h3>{{#with product}}${visibilityForm('/admin/catalog/product/{{id}}/visibility', '/admin/catalog/products/{{id}}')}{{/with}}
<p class="hint">{{t "admin.catalog.visibilityHint"}}</p>
</section>

<section aria-labelledby="s-h"><h2 id="s-h">SKU</h2>
<form id="bulk" method="post" action="/admin/catalog/bulk-price" class="row"><input type="hidden" name="_csrf" value="{{csrf}}"><input type="hidden" name="back" value="/admin/catalog/products/{{product.id}}">
<label for="bulk-percent" class="hint">{{t "admin.catalog.bulkSkuHint"}}</label>
<input id="bulk-percent" type="text" name="percent" required placeholder="+10 / -5.5" style="max-width:110px" inputmode="decimal">
<button class="small" type="submit">{{t "admin.catalog.bulkApply"}}</button></form>
<table><thead><tr><th></th><th>SKU</th><th>{{t "admin.catalog.skuFields"}}</th><th>{{t "admin.catalog.stock"}}</th><th>{{t "admin.catalog.state"}}</th></tr></thead><tbody>
{{#each product.skus}}<tr data-sku="{{code}}"><td><input type="checkbox" name="sku" value="{{id}}" form="bulk" aria-label="{{code}}"></td><td><code>{{code}}</code><br><span data-price>{{money price}}</span></td>
<td><form method="post" action="/admin/catalog/skus/{{id}}" class="row">{{> skuFormBack}}
<input type="text" name="name" value="{{name}}" aria-label="{{t "admin.catalog.name"}}" style="max-width:140px">
<input type="text" name="price" value="{{shownPrice}}" aria-label="{{t "admin.catalog.price"}}" style="max-width:100px" inputmode="decimal">
<input type="number" name="minQuantity" value="{{minQuantity}}" aria-label="{{t "admin.catalog.min"}}" title="{{t "admin.catalog.min"}}" style="max-width:80px">
<input type="number" name="maxQuantity" value="{{maxQuantity}}" aria-label="{{t "admin.catalog.max"}}" title="{{t "admin.catalog.max"}}" placeholder="{{t "admin.catalog.max"}}" style="max-width:80px">
<input type="number" name="sort" value="{{sort}}" aria-label="{{t "admin.catalog.sort"}}" style="max-width:70px">
{{#if enabled}}<input type="hidden" name="enabled" value="1">{{/if}}
<button class="small" type="submit">{{t "admin.save"}}</button></form></td>
<td>{{#if (eq @root.product.type "card")}}<a href="/admin/inventory/{{code}}">{{stock}}</a>{{else}}–{{/if}}</td>
<td>{{#if enabled}}<span class="ok-cell">{{t "admin.catalog.onSale"}}</span>{{else}}<span class="bad-cell">{{t "admin.catalog.offSale"}}</span>{{/if}} ${enableButton('/admin/catalog/sku/{{id}}/enabled', '/admin/catalog/products/{{@root.product.id}}')}
${visibilityForm('/admin/catalog/sku/{{id}}/visibility', '/admin/catalog/products/{{@root.product.id}}')}</td></tr>
{{else}}<tr><td colspan="5">{{t "admin.none"}}</td></tr>{{/each}}
</tbody></table>
<h3>{{t "admin.catalog.addSku"}}</h3>
<form method="post" action="/admin/catalog/products/{{product.id}}/skus" class="row"><input type="hidden" name="_csrf" value="{{csrf}}">
<input type="text" name="code" required placeholder="{{t "admin.catalog.code"}}" aria-label="{{t "admin.catalog.code"}}" style="max-width:160px">
<input type="text" name="name" required placeholder="{{t "admin.catalog.name"}}" aria-label="{{t "admin.catalog.name"}}" style="max-width:140px">
<input type="text" name="price" required placeholder="{{t "admin.catalog.price"}}" aria-label="{{t "admin.catalog.price"}}" style="max-width:100px" inputmode="decimal">
<input type="number" name="minQuantity" value="1" aria-label="{{t "admin.catalog.min"}}" style="max-width:80px">
<input type="number" name="maxQuantity" placeholder="{{t "admin.catalog.max"}}" aria-label="{{t "admin.catalog.max"}}" style="max-width:80px">
<input type="hidden" name="enabled" value="1"><button class="small" type="submit">{{t "admin.add"}}</button></form>
</section>

<section aria-labelledby="w-h"><h2 id="w-h">{{t "admin.wholesale.title"}}</h2>
<p class="hint">{{t "admin.wholesale.hint"}}</p>
<table><thead><tr><th>SKU</th><th>{{t "admin.wholesale.tiers"}}</th></tr></thead><tbody>
{{#each product.skus}}<tr data-tiers="{{code}}"><td><code>{{code}}</code></td>
<td><form method="post" action="/admin/catalog/skus/{{id}}/tiers" class="row">{{> skuFormBack}}
<input type="text" name="tiers" value="{{shownTiers}}" placeholder="10:5, 50:10" aria-label="{{t "admin.wholesale.tiers"}}" style="max-width:260px">
<button class="small" type="submit">{{t "admin.save"}}</button></form></td></tr>{{/each}}
</tbody></table>
</section>

<section aria-labelledby="l-h"><h2 id="l-h">{{t "admin.limit.title"}}</h2>
<p class="hint">{{t "admin.limit.hint"}}</p>
<table><thead><tr><th>SKU</th><th>{{t "admin.limit.units"}}</th></tr></thead><tbody>
{{#each product.skus}}<tr data-limit="{{code}}"><td><code>{{code}}</code></td>
<td><form method="post" action="/admin/catalog/skus/{{id}}/limit" class="row">{{> skuFormBack}}
<input type="number" name="units" min="1" value="{{buyerLimit.units}}" aria-label="{{t "admin.limit.units"}}" style="max-width:90px">
<select name="per" aria-label="{{t "admin.limit.units"}}" style="max-width:100px"><option value="day"{{#if (eq buyerLimit.per "day")}} selected{{/if}}>{{t "admin.limit.per.day"}}</option><option value="ever"{{#if (eq buyerLimit.per "ever")}} selected{{/if}}>{{t "admin.limit.per.ever"}}</option></select>
<button class="small" type="submit">{{t "admin.save"}}</button></form></td></tr>{{/each}}
</tbody></table>
</section>

<section aria-labelledby="f-h"><h2 id="f-h">{{t "admin.flash.title"}}</h2>
<p class="hint">{{t "admin.flash.hint"}}</p>
<table><thead><tr><th>SKU</th><th>{{t "admin.flash.now"}}</th><th>{{t "admin.flash.set"}}</th></tr></thead><tbody>
{{#each product.skus}}<tr data-flash="{{code}}"><td><code>{{code}}</code></td>
<td>{{#if flash}}{{money flash.price}} · {{t "admin.flash.sold" sold=flash.sold cap=flash.cap}}{{#if flash.perBuyer}} · {{t "admin.flash.perBuyerShown" count=flash.perBuyer}}{{/if}}<br><small>{{date flash.startsAt}} – {{date flash.endsAt}}</small>
<form method="post" action="/admin/catalog/skus/{{id}}/flash">{{> skuFormBack}}<input type="hidden" name="end" value="1"><button class="small" type="submit">{{t "admin.flash.end"}}</button></form>{{else}}{{t "admin.flash.none"}}{{/if}}</td>
<td><form method="post" action="/admin/catalog/skus/{{id}}/flash" class="row">{{> skuFormBack}}
<input type="text" name="price" required value="{{shownFlash.price}}" placeholder="{{t "admin.flash.price"}}" aria-label="{{t "admin.flash.price"}}" inputmode="decimal" style="max-width:90px">
<input type="datetime-local" name="startsAt" required value="{{shownFlash.startsAt}}" aria-label="{{t "admin.flash.startsAt"}}">
<input type="datetime-local" name="endsAt" required value="{{shownFlash.endsAt}}" aria-label="{{t "admin.flash.endsAt"}}">
<input type="number" name="cap" min="1" required value="{{shownFlash.cap}}" placeholder="{{t "admin.flash.cap"}}" aria-label="{{t "admin.flash.cap"}}" style="max-width:80px">
<input type="number" name="perBuyer" min="1" value="{{shownFlash.perBuyer}}" placeholder="{{t "admin.flash.perBuyer"}}" aria-label="{{t "admin.flash.perBuyer"}}" style="max-width:80px">
<button class="small" type="submit">{{t "admin.save"}}</button></form></td></tr>{{/each}}
</tbody></table>
</section>

<section aria-labelledby="r-h"><h2 id="r-h">{{t "admin.catalog.routes"}}</h2>
<p class="hint">{{t "admin.catalog.routesHint"}}</p>
{{#each routes}}<h3><code>{{code}}</code></h3>
<table><thead><tr><th>{{t "admin.catalog.supplier"}}</th><th>{{t "admin.catalog.supplierSku"}}</th><th>{{t "admin.catalog.priority"}}</th><th>{{t "admin.catalog.cost"}}</th><th>{{t "admin.catalog.supplierStock"}}</th><th>{{t "admin.catalog.state"}}</th></tr></thead><tbody>
{{#each list}}<tr><td>{{supplier}}</td><td><code>{{supplierSku}}</code></td><td>{{priority}}</td><td>{{money cost}}</td><td>{{stock}}</td><td>{{#if enabled}}<span class="ok-cell">{{t "admin.catalog.onSale"}}</span>{{else}}{{t "admin.catalog.offSale"}}{{/if}}</td></tr>
{{else}}<tr><td colspan="6">{{t "admin.none"}}</td></tr>{{/each}}</tbody></table>
{{#if @root.suppliers.length}}<form method="post" action="/admin/catalog/skus/{{id}}/routes" class="row">{{> skuFormBack}}
<select name="supplier" aria-label="{{t "admin.catalog.supplier"}}" style="max-width:160px">{{#each @root.suppliers}}<option>{{this}}</option>{{/each}}</select>
<input type="text" name="supplierSku" required placeholder="{{t "admin.catalog.supplierSku"}}" aria-label="{{t "admin.catalog.supplierSku"}}" style="max-width:160px">
<input type="number" name="priority" value="0" aria-label="{{t "admin.catalog.priority"}}" style="max-width:80px">
<input type="text" name="cost" placeholder="{{t "admin.catalog.cost"}}" aria-label="{{t "admin.catalog.cost"}}" style="max-width:100px" inputmode="decimal">
<label class="row" style="margin:0;font-weight:400"><input type="checkbox" name="enabled" value="1" checked> {{t "admin.catalog.onSale"}}</label>
<button class="small" type="submit">{{t "admin.save"}}</button></form>{{/if}}
{{/each}}
{{#unless suppliers.length}}<p class="hint">{{t "admin.catalog.noSuppliers"}}</p>{{/unless}}
</section>

<section aria-labelledby="wt-h" data-watches><h2 id="wt-h">{{t "admin.watches.title"}}</h2>
<table><thead><tr><th>SKU</th><th>{{t "admin.watches.email"}}</th><th>{{t "admin.catalog.state"}}</th><th>{{t "admin.watches.price"}}</th><th>{{t "admin.watches.created"}}</th><th></th></tr></thead><tbody>
{{#each watches}}<tr data-watch="{{kind}}:{{email}}"><td><code>{{sku}}</code></td><td>{{email}}</td><td>{{#if (eq kind "stock")}}{{t "admin.watches.kind.stock"}}{{else}}{{t "admin.watches.kind.price"}}{{/if}}</td><td>{{money price}}</td><td>{{date createdAt}}</td>
<td>{{#if sentAt}}<span class="ok-cell">{{t "admin.watches.sent"}} {{date sentAt}}</span>{{else}}{{t "admin.watches.waiting"}}{{/if}}</td></tr>
{{else}}<tr><td colspan="6">{{t "admin.watches.none"}}</td></tr>{{/each}}</tbody></table>
</section>`);

const productTypes = (ctx: ShopContext) => [...PRODUCT_TYPES, ...ctx.shop.plugins.productTypes.keys()];

async function renderCatalog(ctx: ShopContext, failure?: ShopError) {
  const categories = await catalogTree(ctx.shop);
  const categoryId = Number(ctx.query.category) || categories[0]?.id || null;
  const body = catalogPage({
    ...consoleData(ctx),
    saved: ctx.query.saved === '1',
    repriced: Number(ctx.query.repriced) || null,
    error: failure && failureText(ctx, failure),
    categories,
    categoryId,
    category: categories.find((c) => c.id === categoryId),
    types: productTypes(ctx),
  });
  renderConsole(ctx, { title: translate(ctx.state.locale, 'admin.catalog.page'), body, status: failure?.status });
}

async function renderProduct(ctx: ShopContext, failure?: ShopError, id = idParam(ctx)) {
  const [product, categories] = await Promise.all([productForAdmin(ctx.shop, id), catalogTree(ctx.shop)]);
  const routes = await Promise.all(product.skus.map(async (s) => ({ id: s.id, code: s.code, list: await listRoutes(ctx.shop, s.code) })));
  const watches = await listWatches(ctx.shop, { productId: id });
  const fieldRows = [
    ...product.fields.map((f) => ({ name: f.name, zh: f.label['zh-CN'], en: f.label.en, type: f.type, required: f.required, maxLength: f.maxLength, options: f.options?.join(', ') ?? '' })),
    ...Array.from({ length: NEW_FIELD_ROWS }, () => ({ name: '', zh: '', en: '', type: 'text', required: true, maxLength: 120, options: '' })),
  ];
  const body = productPage({
    ...consoleData(ctx),
    saved: ctx.query.saved === '1',
    repriced: Number(ctx.query.repriced) || null,
    error: failure && failureText(ctx, failure),
    product: {
      ...product,
      skus: product.skus.map((s) => ({
        ...s,
        shownPrice: toDecimalString(s.price),
        shownTiers: s.tiers.map((t) => `${t.minQuantity}:${t.percentOff / 100}`).join(', '),
        shownFlash: s.flash && { price: toDecimalString(s.flash.price), startsAt: localInput(s.flash.startsAt), endsAt: localInput(s.flash.endsAt), cap: s.flash.cap, perBuyer: s.flash.perBuyer ?? '' },
      })),
    },
    categories,
    fieldRows,
    fieldTypes: FIELD_TYPES,
    routes,
    suppliers: [...ctx.shop.plugins.suppliers.keys()],
    visibilities: VISIBILITY,
    watches,
  });
  renderConsole(ctx, { title: product.name, body, status: failure?.status });
}

/** The buyer input fields as typed into the editor's rows; a row without a name is left out. */
function fieldsOf(f: Form): InputField[] {
  const fields: InputField[] = [];
  for (let i = 0; f[`f${i}_name`] !== undefined; i++) {
    const name = one(f[`f${i}_name`]);
    if (!name) continue;
    const options = one(f[`f${i}_options`]).split(/[,，]/).map((o) => o.trim()).filter(Boolean);
    fields.push({
      name,
      label: { 'zh-CN': one(f[`f${i}_zh`]) || name, en: one(f[`f${i}_en`]) || name },
      type: one(f[`f${i}_type`]) as InputField['type'],
      required: one(f[`f${i}_required`]) === '1',
      maxLength: whole(f[`f${i}_max`]) ?? 120,
      ...(options.length ? { options } : {}),
    });
  }
  return fields;
}

const optional = (v: string | string[] | undefined) => one(v) || undefined;

export function adminCatalog(): ShopRouter {
  const r = consoleRouter();

  r.get('/catalog', (ctx) => renderCatalog(ctx));
  r.get('/catalog/products/:id', (ctx) => renderProduct(ctx));

  const category = (f: Form) => ({ name: one(f.name), slug: one(f.slug), sort: whole(f.sort) ?? 0, enabled: one(f.enabled) === '1' });
  consolePost(r, '/catalog/categories', renderCatalog, async (ctx, f) => `/admin/catalog?category=${await saveCategory(ctx.shop, null, category(f), actorOf(ctx))}&saved=1`);
  consolePost(r, '/catalog/categories/:id', renderCatalog, async (ctx, f) => {
    const id = idParam(ctx);
    // The inline form edits name, slug and order; the rest stays as it is.
    const current = (await catalogTree(ctx.shop)).find((c) => c.id === id);
    if (!current) throw errors.notFound();
    await saveCategory(ctx.shop, id, { ...category(f), description: current.description, imageUrl: current.imageUrl, enabled: current.enabled }, actorOf(ctx));
    return `/admin/catalog?category=${id}&saved=1`;
  });

  consolePost(r, '/catalog/products', renderCatalog, async (ctx, f) => {
    const id = await saveProduct(ctx.shop, null, { categoryId: whole(f.categoryId) ?? NaN, name: one(f.name), slug: one(f.slug), type: one(f.type), enabled: true }, actorOf(ctx));
    return `/admin/catalog/products/${id}?saved=1`;
  });
  consolePost(r, '/catalog/products/:id', renderProduct, async (ctx, f) => {
    const id = idParam(ctx);
    await saveProduct(
      ctx.shop,
      id,
      {
        categoryId: whole(f.categoryId) ?? NaN,
        name: one(f.name),
        slug: one(f.slug),
        type: one(f.type),
        description: optional(f.description),
        imageUrl: optional(f.imageUrl),
        sort: whole(f.sort) ?? 0,
        enabled: one(f.enabled) === '1',
        fields: fieldsOf(f),
      },
      actorOf(ctx),
    );
    return `/admin/catalog/products/${id}?saved=1`;
  });

  const sku = (f: Form) => ({ name: one(f.name), price: yuan(f.price), minQuantity: whole(f.minQuantity) ?? 1, maxQuantity: whole(f.maxQuantity), sort: whole(f.sort) ?? 0, enabled: one(f.enabled) === '1' });
  consolePost(r, '/catalog/products/:id/skus', renderProduct, async (ctx, f) => {
    const productId = idParam(ctx);
    await addSku(ctx.shop, { ...sku(f), productId, code: one(f.code) }, actorOf(ctx));
    return `/admin/catalog/products/${productId}?saved=1`;
  });
  // Forms on the product page name it in `back`; the page comes back, with the error if refused.
  consolePost(r, '/catalog/skus/:id', showBack, async (ctx, f) => {
    await updateSku(ctx.shop, idParam(ctx), sku(f), actorOf(ctx));
    return withQuery(backOf(f), 'saved=1');
  });
  // Tiers typed as `quantity:percent` pairs, "10:5, 50:10"; an empty field removes them.
  consolePost(r, '/catalog/skus/:id/tiers', showBack, async (ctx, f) => {
    const tiers = one(f.tiers).split(/[,，\s]+/).filter(Boolean).map((pair) => {
      const [quantity, percent] = pair.split(/[:：]/);
      return { minQuantity: whole(quantity) ?? NaN, percentOff: percentBp(percent) };
    });
    await setTiers(ctx.shop, await skuCodeOf(ctx.shop, idParam(ctx)), { tiers }, actorOf(ctx));
    return withQuery(backOf(f), 'saved=1');
  });
  // A flash sale typed in yuan and the console's time (Asia/Shanghai); `end` ends it.
  consolePost(r, '/catalog/skus/:id/flash', showBack, async (ctx, f) => {
    const flash = one(f.end) === '1' ? null : { price: yuan(f.price), startsAt: instantOf(one(f.startsAt)) ?? NaN, endsAt: instantOf(one(f.endsAt)) ?? NaN, cap: whole(f.cap) ?? NaN, perBuyer: whole(f.perBuyer) ?? null };
    await setFlash(ctx.shop, await skuCodeOf(ctx.shop, idParam(ctx)), { flash }, actorOf(ctx));
    return withQuery(backOf(f), 'saved=1');
  });
  // An empty number lifts the limit.
  consolePost(r, '/catalog/skus/:id/limit', showBack, async (ctx, f) => {
    const units = one(f.units) ? (whole(f.units) ?? NaN) : null;
    await setBuyerLimit(ctx.shop, await skuCodeOf(ctx.shop, idParam(ctx)), { limit: units === null ? null : { units, per: one(f.per) } }, actorOf(ctx));
    return withQuery(backOf(f), 'saved=1');
  });
  consolePost(r, '/catalog/skus/:id/routes', showBack, async (ctx, f) => {
    const code = await skuCodeOf(ctx.shop, idParam(ctx));
    const cost = one(f.cost) ? yuan(f.cost) : undefined;
    await setRoute(ctx.shop, code, { supplier: one(f.supplier), supplierSku: one(f.supplierSku), priority: whole(f.priority) ?? 0, cost, enabled: one(f.enabled) === '1' }, actorOf(ctx));
    return withQuery(backOf(f), 'saved=1');
  });

  consolePost(r, '/catalog/:kind/:id/enabled', showBack, async (ctx, f) => {
    const kind = param(ctx, 'kind') as CatalogKind;
    if (!['category', 'product', 'sku'].includes(kind)) throw errors.notFound();
    await setCatalogEnabled(ctx.shop, kind, idParam(ctx), one(f.enabled) === '1', actorOf(ctx));
    return withQuery(backOf(f), 'saved=1');
  });

  consolePost(r, '/catalog/:kind/:id/visibility', showBack, async (ctx, f) => {
    const kind = param(ctx, 'kind');
    if (kind !== 'product' && kind !== 'sku') throw errors.notFound();
    await setVisibility(ctx.shop, kind, idParam(ctx), one(f.visibility), actorOf(ctx));
    return withQuery(backOf(f), 'saved=1');
  });

  consolePost(r, '/catalog/bulk-price', showBack, async (ctx, f) => {
    const productIds = many(f.product).map(Number);
    const skuIds = [...many(f.sku).map(Number), ...(productIds.length ? await skuIdsOfProducts(ctx.shop, productIds) : [])];
    const changes = await bulkPrice(ctx.shop, { skuIds, percentBp: percentBp(f.percent) }, actorOf(ctx));
    return withQuery(backOf(f), `repriced=${changes.length}`);
  });

  return r;
}

const withQuery = (path: string, query: string) => `${path}${path.includes('?') ? '&' : '?'}${query}`;

/** The console page a form came from (`back`), else the catalog: never another site. */
function backOf(f: Form): string {
  const back = one(f.back);
  return /^\/admin\/catalog(\/products\/\d+|\?category=\d+)?$/.test(back) ? back : '/admin/catalog';
}

/** The page a refused form came from, with the error. */
function showBack(ctx: ShopContext, failure: ShopError): Promise<void> {
  const product = /^\/admin\/catalog\/products\/(\d+)$/.exec(backOf(formOf(ctx)));
  if (product) return renderProduct(ctx, failure, Number(product[1]));
  return renderCatalog(ctx, failure);
}
