/**
 * @cardshop/plugin-supplier-cardshop: a shop that buys from another cardshop (对接) through the
 * upstream's Agent API.
 *
 * ```ts
 * import upstream from '@cardshop/plugin-supplier-cardshop';
 * plugins: [upstream({ id: 'up', url: 'https://up.example.com', key: 'ck_…', secret: process.env.UPSTREAM_SECRET!, import: { markupPercent: 15 } })]
 * ```
 */
import { definePlugin } from '@cardshop/core';
import { createCardshopSupplier } from './connector.js';
import { settingsSchema } from './settings.js';

export const VERSION = '0.1.0';

const cardshopSupplier = definePlugin({
  name: 'supplier-cardshop',
  version: VERSION,
  core: '>=0.1.0 <1.0.0',
  settings: settingsSchema,
  setup(ctx) {
    ctx.supplier(createCardshopSupplier(ctx.settings, ctx.log));
    ctx.log.info(`upstream shop ${ctx.settings.url} as supplier ${ctx.settings.id}${ctx.settings.import ? `, catalog imported at +${ctx.settings.import.markupPercent}%` : ''}`);
  },
});

export default cardshopSupplier;
export { createCardshopSupplier, UpstreamError } from './connector.js';
export { settingsSchema, type CardshopSupplierSettings, type CardshopSupplierSettingsInput } from './settings.js';
