import { randomBytes } from 'node:crypto';
import type { Deps } from '../context.js';
import { importKeys } from '../inventory/keys.js';
import { createCategory, createProduct, createSku } from './catalog.js';

const DEMO_KEYS_PER_SKU = 50;

const demoKey = (prefix: string) =>
  `${prefix}-${randomBytes(8).toString('hex').toUpperCase().match(/.{4}/g)!.join('-')}`;

/**
 * The demo catalog: game point cards and software keys in stock, a phone top-up (direct, with a
 * phone field) and a manual membership top-up. Returns false when the catalog is not empty.
 */
export async function seedDemoCatalog(deps: Deps, onSku?: (sku: { code: string; keys: number }) => void): Promise<boolean> {
  // The hidden top-up product is always there; anything else means the operator has a catalog.
  const any = await deps.db.knex('products').whereNot('type', 'topup').first('id');
  if (any) return false;

  const games = await createCategory(deps, { slug: 'game-cards', name: '游戏点卡 Game cards', sort: 1 });
  const software = await createCategory(deps, { slug: 'software', name: '软件激活码 Software keys', sort: 2 });
  const topups = await createCategory(deps, { slug: 'top-ups', name: '话费充值 Top-ups', sort: 3 });

  const cards: Array<{ category: number; slug: string; name: string; description: string; skus: Array<[string, string, number]> }> = [
    {
      category: games,
      slug: 'steam-wallet',
      name: 'Steam 钱包充值卡',
      description: '购买后立即发卡，在 Steam 客户端「兑换钱包充值码」中使用。',
      skus: [
        ['STEAM-50', '¥50 面值', 4850],
        ['STEAM-100', '¥100 面值', 9650],
        ['STEAM-200', '¥200 面值', 19200],
      ],
    },
    {
      category: games,
      slug: 'netease-card',
      name: '网易一卡通',
      description: '网易游戏通用点卡，卡号与密码一同发放。',
      skus: [
        ['NETEASE-30', '30 元', 2880],
        ['NETEASE-100', '100 元', 9500],
      ],
    },
    {
      category: software,
      slug: 'office-key',
      name: 'Office 专业增强版激活码',
      description: '一机一码，终身授权。',
      skus: [['OFFICE-PRO', '单设备', 8900]],
    },
  ];
  for (const c of cards) {
    const product = await createProduct(deps, { categoryId: c.category, slug: c.slug, name: c.name, description: c.description, type: 'card' });
    for (const [code, name, price] of c.skus) {
      await createSku(deps, { productId: product, code, name, price, maxQuantity: 20 });
      const withPassword = c.slug === 'netease-card';
      const lines = Array.from({ length: DEMO_KEYS_PER_SKU }, () =>
        withPassword ? `${demoKey(code)},${randomBytes(4).toString('hex')}` : demoKey(code),
      );
      await importKeys(deps, { sku: code, lines });
      onSku?.({ code, keys: DEMO_KEYS_PER_SKU });
    }
  }

  const phone = await createProduct(deps, {
    categoryId: topups,
    slug: 'mobile-topup',
    name: '手机话费直充',
    description: '三网通用，充值到账后短信通知。',
    type: 'direct',
    fields: [{ name: 'phone', label: { 'zh-CN': '手机号码', en: 'Phone number' }, type: 'phone', placeholder: '13800138000' }],
  });
  await createSku(deps, { productId: phone, code: 'MOBILE-50', name: '50 元', price: 4980 });
  await createSku(deps, { productId: phone, code: 'MOBILE-100', name: '100 元', price: 9950 });

  const vip = await createProduct(deps, {
    categoryId: topups,
    slug: 'video-vip',
    name: '视频会员代充（人工）',
    description: '人工充值，工作时间 10 分钟内完成。',
    type: 'manual',
    fields: [{ name: 'account', label: { 'zh-CN': 'QQ 号 / 手机号', en: 'QQ or phone' }, pattern: '[0-9]{5,12}', maxLength: 12 }],
  });
  await createSku(deps, { productId: vip, code: 'VIP-MONTH', name: '月卡', price: 1500 });
  return true;
}
