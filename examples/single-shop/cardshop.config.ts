import { defineConfig } from '@cardshop/core';

// One shop on SQLite. Every key can also come from the environment (CARDSHOP_DATABASE, PORT, …),
// which wins; the secret should only come from there: CARDSHOP_SECRET=$(openssl rand -hex 32).
export default defineConfig({
  shop: { name: '星河数卡', locale: 'zh-CN', currency: 'CNY' },
  database: 'sqlite:./data/shop.db',
  port: 3100,
  theme: '@cardshop/theme-default',
  checkout: { maxQuantity: 50 },
});
