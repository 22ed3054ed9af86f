/**
 * @cardshop/plugin-supplier-http: connects a top-up supplier of the common shape by configuration
 * alone (form or JSON requests, MD5 or HMAC-SHA256 of the sorted parameters, a result at once or
 * by callback, queries by our order number).
 *
 * ```ts
 * import httpSupplier from '@cardshop/plugin-supplier-http';
 * plugins: [httpSupplier({ id: 'kachong', baseUrl: 'https://api.supplier.example', merchantId: '10086', secret: process.env.SUPPLIER_KEY! })]
 * ```
 * Then route SKUs to it: `POST /api/admin/skus/<code>/suppliers { supplier: 'kachong', supplierSku: '<their product id>' }`.
 */
import { definePlugin } from '@cardshop/core';
import { createHttpSupplier } from './connector.js';
import { settingsSchema } from './settings.js';

export const VERSION = '0.1.0';

const httpSupplier = definePlugin({
  name: 'supplier-http',
  version: VERSION,
  core: '>=0.1.0 <1.0.0',
  settings: settingsSchema,
  setup(ctx) {
    ctx.supplier(createHttpSupplier(ctx.settings, ctx.log));
    ctx.log.info(`supplier ${ctx.settings.id} at ${ctx.settings.baseUrl} (${ctx.settings.encoding}, ${ctx.settings.signature})`);
  },
});

export default httpSupplier;
export { createHttpSupplier, HttpSupplierError } from './connector.js';
export { settingsSchema, type HttpSupplierSettings, type HttpSupplierSettingsInput } from './settings.js';
export { sign, signString, verify, type SignOptions } from './sign.js';
