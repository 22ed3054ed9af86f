import { createCategory, createProduct, createSku, importKeys, type Shop } from '@cardshop/core';

/** A card SKU with `keys` keys in stock; returns its code and the keys. */
export async function cardSku(shop: Shop, opts: { code?: string; price?: number; keys?: number; maxQuantity?: number } = {}) {
  const code = opts.code ?? `CARD-${Math.random().toString(36).slice(2, 8).toUpperCase()}`;
  const slug = code.toLowerCase();
  const category = await createCategory(shop, { slug: `cat-${slug}`, name: `Category ${code}` });
  const product = await createProduct(shop, { categoryId: category, slug, name: `Product ${code}`, type: 'card' });
  await createSku(shop, { productId: product, code, name: code, price: opts.price ?? 1000, maxQuantity: opts.maxQuantity });
  const keys = Array.from({ length: opts.keys ?? 10 }, (_, i) => `${code}-KEY-${String(i).padStart(6, '0')}`);
  await importKeys(shop, { sku: code, lines: keys });
  return { code, keys, product };
}

/** A product of another type with input fields. */
export async function otherSku(shop: Shop, type: 'direct' | 'manual', code: string, price = 500) {
  const category = await createCategory(shop, { slug: `cat-${code.toLowerCase()}`, name: `Category ${code}` });
  const product = await createProduct(shop, {
    categoryId: category,
    slug: code.toLowerCase(),
    name: `Product ${code}`,
    type,
    fields: [
      { name: 'phone', label: { 'zh-CN': '手机号', en: 'Phone' }, type: 'phone' },
      { name: 'note', label: { 'zh-CN': '备注', en: 'Note' }, required: false, maxLength: 10 },
    ],
  });
  await createSku(shop, { productId: product, code, name: code, price });
  return { code, product };
}
