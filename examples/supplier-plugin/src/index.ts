/**
 * cardshop-plugin-supplier-acme: a shop buys card keys and top-ups from the Acme wholesale API.
 * A template: copy this folder, rename Acme, and replace connector.ts with your supplier's API.
 *
 * ```ts
 * import acme from 'cardshop-plugin-supplier-acme';
 * plugins: [acme({ apiUrl: 'https://api.acme.example', merchantId: 'M1001', apiKey: process.env.ACME_KEY!, import: { markupPercent: 12 } })]
 * ```
 */
import { definePlugin, Secret } from '@cardshop/core';
import { z } from 'zod';
import { createAcmeConnector } from './connector.js';

/**
 * What the operator sets, checked when the shop starts (an error names the key) and shown as a
 * form in the console (/admin/plugins): `.meta({ secret: true })` fields are never sent back to a browser.
 */
export const settingsSchema = z
  .object({
    /** The connector's id: SKU routes name it, and callbacks arrive at /supplier/<id>/callback. */
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/).default('acme'),
    apiUrl: z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, '')),
    merchantId: z.string().min(1),
    apiKey: z
      .string()
      .min(16)
      .transform((v) => new Secret(v))
      .meta({ secret: true }),
    /** Import Acme's catalog as this shop's SKUs, priced at cost plus the markup; `false` to route SKUs by hand. */
    import: z
      .union([
        z.literal(false),
        z.object({
          markupPercent: z.number().min(0).max(1000).default(10),
          skuPrefix: z.string().max(20).default(''),
          syncMinutes: z.number().int().min(0).max(1440).default(10),
        }),
      ])
      .prefault({}),
    /** Below this balance at Acme (minor units) the shop raises `supplier.balance_low`. */
    lowBalance: z.number().int().min(0).default(10_000),
    timeoutMs: z.number().int().min(200).max(60_000).default(10_000),
  })
  .strict();

export type AcmeSettings = z.output<typeof settingsSchema>;

const acme = definePlugin({
  name: 'supplier-acme',
  version: '0.1.0',
  // Every 0.x core from 0.1.0: the same range as peerDependencies in package.json.
  core: '>=0.1.0 <1.0.0',
  settings: settingsSchema,
  setup(ctx) {
    ctx.supplier(createAcmeConnector(ctx.settings));
  },
});

export default acme;
export { createAcmeConnector } from './connector.js';
