import { Secret } from '@cardshop/core';
import { z } from 'zod';

export const settingsSchema = z
  .object({
    /** The connector's id: SKU routes name it, the upstream's webhooks arrive at /supplier/<id>/callback. */
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'lowercase letters, digits and dashes').default('upstream'),
    label: z.string().min(1).max(60).default('Upstream shop'),
    /** The upstream shop's address, e.g. https://up.example.com (its API is at /api/v1). */
    url: z.url({ protocol: /^https?$/, error: "the upstream shop's address, e.g. https://up.example.com" }).transform((u) => u.replace(/\/+$/, '')),
    /** An API key made on the upstream shop (its account page, or `cardshop apikey create`). */
    key: z.string({ error: 'required: the API key (ck_…) from the upstream shop' }).regex(/^ck_[A-Za-z0-9_-]{4,37}$/, 'an API key id such as ck_…'),
    secret: z
      .string({ error: "required: the API key's secret (cs_…)" })
      .min(8)
      .transform((v) => new Secret(v))
      .meta({ secret: true }),
    /** Import the upstream catalog as local SKUs; `false` to route SKUs by hand only. */
    import: z
      .union([
        z.literal(false),
        z.object({
          /** Upstream category slugs; all when empty. */
          categories: z.array(z.string()).default([]),
          /** Our price = upstream price × (1 + markupPercent/100) + markupFixed (fen). */
          markupPercent: z.number().min(0).max(1000).default(10),
          markupFixed: z.number().int().min(0).default(0),
          /** Our SKU codes are prefix + the upstream's code. */
          skuPrefix: z.string().max(20).default(''),
          syncMinutes: z.number().int().min(0).max(1440).default(10),
        }),
      ])
      .prefault({}),
    /** A balance at the upstream below this (fen) raises the low-balance alert. */
    lowBalance: z.number().int().min(0).default(10_000),
    timeoutMs: z.number().int().min(200).max(120_000).default(10_000),
  })
  .strict();

export type CardshopSupplierSettings = z.output<typeof settingsSchema>;
export type CardshopSupplierSettingsInput = z.input<typeof settingsSchema>;
