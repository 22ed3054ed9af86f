/**
 * @cardshop/plugin-local-life: 本地生活券, vouchers for movie tickets, food and drink.
 *
 * ```ts
 * import localLife from '@cardshop/plugin-local-life';
 * plugins: [localLife({ sweepMinutes: 10 })]
 * ```
 *
 * Adds the product type `voucher`. A paid voucher order gets one code per unit (or the codes its
 * SKU's supplier returns), each with a page that shows it as a QR code; the store's staff sign in
 * with a PIN and redeem it, once, or partly for a multi-use voucher; expired unused vouchers are
 * refunded when their SKU says so. See README.md.
 */
import { definePlugin } from '@cardshop/core';
import { receipt } from './pages.js';
import { routes } from './routes.js';
import { settingsSchema } from './settings.js';
import { migrations } from './store.js';
import { codesOf, VoucherError, vouchers } from './vouchers.js';

export const VERSION = '0.1.0';

const localLife = definePlugin({
  name: 'local-life',
  version: VERSION,
  core: '>=0.1.0 <1.0.0',
  settings: settingsSchema,
  migrations,
  setup(ctx) {
    const v = vouchers(ctx);
    const delivered = (issued: Awaited<ReturnType<typeof v.issue>>, input: { locale: 'zh-CN' | 'en'; shopUrl: string }) => ({
      keys: issued.map((x) => ({ card: x.code })),
      receipt: receipt(issued, input.locale, input.shopUrl),
    });

    ctx.productType({
      name: 'voucher',
      label: { 'zh-CN': '到店券', en: 'Voucher' },
      async deliver(input) {
        try {
          const issued = await v.issue({ orderNo: input.reference, sku: input.sku, quantity: input.quantity, source: 'issued' });
          return { status: 'delivered', ...delivered(issued, input) };
        } catch (err) {
          // A SKU nobody set up as a voucher cannot be delivered: the order is refunded.
          if (err instanceof VoucherError) return { status: 'failed', retryable: false, reason: `voucher: ${Object.values(err.fields ?? {}).join('; ') || err.code}` };
          throw err;
        }
      },
      // A SKU with supplier routes: the supplier's codes become the vouchers.
      async fromSupplier(input) {
        const issued = await v.issue({ orderNo: input.reference, sku: input.sku, quantity: input.quantity, source: 'supplier', codes: codesOf(input.keys) });
        return delivered(issued, input);
      },
    });

    // An order refunded any other way (an admin) takes its vouchers out of use.
    ctx.on('order.refunded', async ({ order }) => {
      if (order.productType === 'voucher') await v.voidOrder(order.no);
    });

    ctx.routes((r) => routes(r, v, ctx));

    let timer: NodeJS.Timeout | undefined;
    ctx.onStart(() => {
      timer = setInterval(() => {
        v.sweep().catch((err: unknown) => ctx.log.warn('settling expired vouchers failed; will retry', err));
      }, ctx.settings.sweepMinutes * 60_000).unref();
    });
    ctx.onStop(() => clearInterval(timer));
  },
});

export default localLife;
export { settingsSchema, type LocalLifeSettings, type LocalLifeSettingsInput } from './settings.js';
export { newCode, normalizeCode } from './codes.js';
export type { VoucherView } from './vouchers.js';
