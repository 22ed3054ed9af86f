/**
 * @cardshop/plugin-payment-usdt: USDT (TRC20) payments in the manner of epusdt / TokenPay. Each order
 * gets its own amount on one of the shop's receiving addresses; a watcher reads confirmed
 * transfers from a TronGrid-compatible API and pays the order whose amount and address match.
 *
 * ```ts
 * import usdt from '@cardshop/plugin-payment-usdt';
 * plugins: [usdt({ addresses: ['T…'], rate: '7.2' })]
 * ```
 */
import { definePlugin } from '@cardshop/core';
import { consoleRoutes } from './console.js';
import { createEngine } from './engine.js';
import { migrations } from './migrations.js';
import { rateKeeper } from './rate.js';
import { settingsSchema } from './settings.js';
import { ensureAddresses, resolvedByHand } from './store.js';
import { tronGridWatcher } from './watcher.js';

export const VERSION = '0.1.0';

const usdt = definePlugin({
  name: 'usdt',
  version: VERSION,
  core: '>=0.1.0 <1.0.0',
  settings: settingsSchema,
  migrations,
  setup(ctx) {
    const s = ctx.settings;
    const watcher = tronGridWatcher({ apiUrl: s.apiUrl, apiKey: s.apiKey && (() => s.apiKey!.reveal()), contract: s.contract, timeoutMs: s.timeoutMs });
    const rates = rateKeeper(s, ctx.log, Date.now);
    const engine = createEngine({ db: ctx.db, settings: s, log: ctx.log, watcher, rates, payments: ctx.payments });
    ctx.paymentGateway(engine.gateway);
    // Once an order is paid (an admin's 补单 with a transfer's hash, or another transfer), its transfers under review are closed.
    ctx.on('order.paid', async ({ order }) => {
      if (order.payment === s.id) await resolvedByHand(ctx.db, order.no);
    });
    ctx.routes((r) => consoleRoutes(r, { db: ctx.db, addresses: s.addresses, places: engine.places, scan: engine.scan }));

    let timer: NodeJS.Timeout | undefined;
    ctx.onStart(async () => {
      await ensureAddresses(ctx.db, s.addresses);
      if (s.rateSource) await rates.refresh();
      if (s.pollSeconds > 0) timer = setInterval(() => void engine.scan().catch((err: unknown) => ctx.log.warn('a chain scan failed; the next one tries again', err)), s.pollSeconds * 1000).unref();
      ctx.log.info(`usdt: ${s.addresses.length} address(es), ${s.rateSource ? `rate from ${new URL(s.rateSource.url).host}` : `rate ${s.rate}`}, ${s.pollSeconds ? `reading ${new URL(s.apiUrl).host} every ${s.pollSeconds} s` : 'reading the chain only when asked'}`);
    });
    ctx.onStop(async () => {
      clearInterval(timer);
      await engine.idle();
    });
  },
});

export default usdt;
export { createEngine, judge, type EngineDeps, type Verdict } from './engine.js';
export { settingsSchema, type UsdtSettings, type UsdtSettingsInput, type Policy } from './settings.js';
export { tronGridWatcher, ChainError, type ChainWatcher, type IncomingTransfer } from './watcher.js';
export { isTronAddress, USDT_CONTRACT } from './tron.js';
export { fenFor, formatMicro, parseMicro, usdtFor } from './amounts.js';
