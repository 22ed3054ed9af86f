import { createCategory, createProduct, createSku } from '@cardshop/core';
import { createDummySupplier, startTestShop, TEST_DIALECTS, type TestClient, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

type Listing = { products: Array<{ skus: Array<{ code: string; price: number }> }> };
const priceOf = (body: Listing, code: string) => body.products.flatMap((p) => p.skus).find((s) => s.code === code)?.price;

describe.each(TEST_DIALECTS)('markup templates (%s)', (dialect) => {
  let t: TestShop;
  let admin: TestClient;
  let gold: TestClient;
  let categoryId: number;
  let templateId: number;
  const supplier = createDummySupplier();
  // The supplier's catalog is imported at cost + 10 %, synced on demand.
  supplier.connector.catalog = { markupPercent: 10, syncMinutes: 0 };

  const guestPrice = async (code: string) => priceOf((await t.client().get('/api/store/products')).body, code);
  const goldPrice = async (code: string) => priceOf((await gold.get('/api/store/products')).body, code);
  const template = { name: 'standard', retail: { kind: 'percent', value: 2000 }, levels: { gold: { kind: 'percent', value: 1000 } }, rounding: { step: 100, ending: 90, mode: 'up' } };

  beforeAll(async () => {
    t = await startTestShop({ dialect, config: { plugins: [supplier.plugin] } });
    categoryId = await createCategory(t.shop, { slug: 'cards', name: 'Cards' });
    const product = await createProduct(t.shop, { categoryId, slug: 'card', name: 'Card', type: 'manual' });
    await createSku(t.shop, { productId: product, code: 'A', name: 'A', price: 1500 });
    await createSku(t.shop, { productId: product, code: 'B', name: 'B (no cost)', price: 800 });
    const a = await t.createUser({ role: 'admin' });
    admin = await t.client().login(a.email, a.password);
    expect((await admin.put('/api/admin/levels/gold', { name: 'Gold', rank: 10, ruleKind: 'retail_percent', ruleValue: 9000 })).status).toBe(200);
    expect((await admin.put('/api/admin/skus/A/pricing', { cost: 1000, floor: null, ceiling: null })).status).toBe(204);
    const g = await t.createUser();
    await admin.post(`/api/admin/users/${g.id}/level`, { level: 'gold' });
    gold = await t.client().login(g.email, g.password);
    expect((await admin.post(`/api/admin/suppliers/${supplier.id}/sync`)).status).toBe(200);
  });
  afterAll(() => t?.close());

  it('refuses a bad template, naming the field', async () => {
    for (const [body, field] of [
      [{ ...template, rounding: { step: 100, ending: 100, mode: 'up' } }, 'rounding.ending'],
      [{ ...template, rounding: { step: 7, ending: 0, mode: 'up' } }, 'rounding.step'],
      [{ ...template, levels: { platinum: { kind: 'percent', value: 100 } } }, 'levels.platinum'],
      [{ name: 'empty', levels: {} }, 'levels'],
      [{ ...template, retail: { kind: 'percent', value: -1 } }, 'retail.value'],
    ] as const) {
      const r = await admin.post('/api/admin/markup-templates', body);
      expect(r.status, field).toBe(400);
      expect(Object.keys(r.body.error.fields)).toEqual([field]);
    }
    expect((await admin.get('/api/admin/markup-templates')).body.templates).toEqual([]);
  });

  it('previews each SKU per level before anything is written, then applies to a category', async () => {
    const created = await admin.post('/api/admin/markup-templates', template);
    expect(created.status).toBe(201);
    templateId = created.body.template.id;
    const preview = await admin.post('/api/admin/markup-templates/preview', { id: templateId, category: 'cards' });
    expect(preview.status).toBe(200);
    const [a, b] = preview.body.rows;
    // Retail: 1000 + 20 % = 12.00, up to a .90 ending: 12.90; gold: 11.00 → 11.90; member (retail_percent 100 %) follows retail.
    expect(a).toMatchObject({ code: 'A', cost: 1000, retail: { now: 1500, then: 1290 } });
    expect(a.levels).toEqual([
      { level: 'member', name: 'Member', now: 1500, then: 1290 },
      { level: 'gold', name: 'Gold', now: 1350, then: 1190 },
    ]);
    expect(b).toMatchObject({ code: 'B', cost: null, retail: { now: 800, then: 800 } });
    expect(await t.shop.db.knex('price_overrides').count({ n: '*' }).first()).toMatchObject({ n: 0 });
    expect(await guestPrice('A')).toBe(1500);

    // The console: the same preview as a table, and the apply button.
    const page = await admin.get(`/admin/markup-templates/${templateId}?preview=${categoryId}`);
    expect(page.text).toContain('data-preview');
    expect(page.text).toMatch(/data-level="gold">¥13\.50 → <strong>¥11\.90<\/strong>/);
    const csrf = await admin.csrf(`/admin/markup-templates/${templateId}`);
    const applied = await admin.post(`/admin/markup-templates/${templateId}/apply`, new URLSearchParams({ _csrf: csrf, category: String(categoryId) }));
    expect(applied.status).toBe(303);
    expect(applied.headers.get('location')).toContain('applied=1');
    expect(await guestPrice('A')).toBe(1290);
    expect(await goldPrice('A')).toBe(1190);
    expect(await guestPrice('B')).toBe(800);
    const audit = await t.shop.db.knex('audit_log').where({ action: 'sku.template_price', target_id: 'A' }).first();
    expect(JSON.parse(audit.after)).toEqual({ gold: 1190, retail: 1290 });
    expect(JSON.parse(audit.before)).toEqual({ retail: 1500 });
  });

  it('reprices when the cost changes, leaving an override set by hand alone', async () => {
    expect((await admin.put('/api/admin/price-overrides', { level: 'gold', scope: 'sku', target: 'A', ruleKind: 'fixed', ruleValue: 999 })).status).toBe(204);
    expect((await admin.put('/api/admin/skus/A/pricing', { cost: 2000, floor: null, ceiling: null })).status).toBe(204);
    expect(await guestPrice('A')).toBe(2490);
    expect(await goldPrice('A')).toBe(999);
    // The hand-set override removed: the template's price comes back.
    expect((await admin.post('/api/admin/price-overrides/delete', { level: 'gold', scope: 'sku', target: 'A' })).status).toBe(204);
    expect(await goldPrice('A')).toBe(2290);
  });

  it('reprices a supplier SKU when the catalog sync brings a new cost, and only then', async () => {
    const code = 'DUMMY-1';
    expect(await guestPrice(code)).toBe(110);
    const r = await admin.post(`/api/admin/markup-templates/${templateId}/apply`, { skus: [code] });
    expect(r.body.repriced).toHaveLength(1);
    expect(await guestPrice(code)).toBe(190); // 1.20 up to 1.90
    supplier.cost = 500;
    expect((await admin.post(`/api/admin/suppliers/${supplier.id}/sync`)).status).toBe(200);
    expect(await guestPrice(code)).toBe(690); // 6.00 → 6.90, not the import's 5.50
    expect(await goldPrice(code)).toBe(590); // 5.50 → 5.90
    const rows = await t.shop.db.knex('audit_log').where({ action: 'sku.template_price', target_id: code }).orderBy('id');
    expect(rows).toHaveLength(2);
    expect(rows[1].actor_id).toBeNull(); // the shop itself, in the sync
    // A sync without a new cost changes nothing and writes nothing.
    expect((await admin.post(`/api/admin/suppliers/${supplier.id}/sync`)).status).toBe(200);
    expect(await t.shop.db.knex('audit_log').where({ action: 'sku.template_price', target_id: code }).count({ n: '*' }).first()).toMatchObject({ n: 2 });
    expect(await guestPrice(code)).toBe(690);
  });

  it('a changed template reprices its SKUs; a deleted one gives them back to the level rules', async () => {
    const changed = await admin.put(`/api/admin/markup-templates/${templateId}`, { ...template, rounding: { step: 100, ending: 90, mode: 'down' } });
    expect(changed.status).toBe(200);
    expect(changed.body.template.skus).toBe(3);
    expect(await guestPrice('A')).toBe(2390);
    expect((await admin.request('DELETE', `/api/admin/markup-templates/${templateId}`)).status).toBe(204);
    expect(await t.shop.db.knex('price_overrides').whereNotNull('template_id').count({ n: '*' }).first()).toMatchObject({ n: 0 });
    expect(await goldPrice('A')).toBe(Math.round(2390 * 0.9)); // gold's rule: 90 % of retail
    expect((await t.shop.db.knex('skus').where('code', 'A').first('markup_template_id')).markup_template_id).toBeNull();
    expect(await t.shop.db.knex('audit_log').where('action', 'template.delete').count({ n: '*' }).first()).toMatchObject({ n: 1 });
  });

  it('the console writes a template from its form, and shows a refusal with what was typed', async () => {
    const csrf = await admin.csrf('/admin/markup-templates');
    const form = (fields: Record<string, string>) => admin.post('/admin/markup-templates', new URLSearchParams({ _csrf: csrf, name: 'console', step: '100', mode: 'nearest', ...fields }));
    const refused = await form({ ending: '1.00', lv_gold_kind: 'percent', lv_gold_value: '12.5' });
    expect(refused.status).toBe(400);
    expect(refused.text).toContain('尾数必须小于取整单位');
    expect(refused.text).toContain('value="12.5"');
    const saved = await form({ ending: '0.90', lv_gold_kind: 'percent', lv_gold_value: '12.5', retail_kind: 'fixed', retail_value: '3' });
    expect(saved.status).toBe(303);
    const made = (await admin.get('/api/admin/markup-templates')).body.templates.find((x: { name: string }) => x.name === 'console');
    expect(made).toMatchObject({ retail: { kind: 'fixed', value: 300 }, levels: { gold: { kind: 'percent', value: 1250 } }, rounding: { step: 100, ending: 90, mode: 'nearest' }, skus: 0 });
    expect((await admin.get(saved.headers.get('location')!)).text).toContain('value="console"');
  });
});
