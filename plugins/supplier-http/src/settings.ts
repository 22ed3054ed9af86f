import { Secret } from '@cardshop/core';
import { z } from 'zod';

const names = (list: string[]) => z.array(z.string().min(1)).min(1).default(list);

/**
 * Everything that differs between top-up suppliers of the common shape: where to send, how to
 * encode and sign, what the parameters are called and where the answer keeps its fields (dot
 * paths such as `data.status`). The defaults fit the most common shape.
 */
export const settingsSchema = z
  .object({
    /** The connector's id: SKU routes name it, callbacks arrive at /supplier/<id>/callback. */
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'lowercase letters, digits and dashes').default('http-supplier'),
    label: z.string().min(1).max(60).default('Supplier'),
    baseUrl: z.url({ protocol: /^https?$/, error: 'the supplier API address, e.g. https://api.supplier.example' }).transform((u) => u.replace(/\/+$/, '')),
    merchantId: z.union([z.string().min(1), z.number().int()]).transform(String),
    secret: z
      .string({ error: 'required: the key the supplier gave you' })
      .min(1)
      .transform((v) => new Secret(v))
      .meta({ secret: true }),
    /** How requests are sent: an HTML form body or JSON. */
    encoding: z.enum(['form', 'json']).default('form'),
    signature: z.enum(['md5', 'hmac-sha256']).default('md5'),
    /** MD5 only: what follows the sorted parameters (`{secret}` is replaced by the secret). */
    md5Suffix: z.string().default('&key={secret}'),
    signUppercase: z.boolean().default(false),
    timeoutMs: z.number().int().min(200).max(120_000).default(10_000),
    paths: z
      .object({ order: z.string().default('/api/order'), query: z.string().default('/api/query'), balance: z.string().optional() })
      .prefault({}),
    /** Names of the request parameters. The buyer's input fields are sent under their own names. */
    params: z
      .object({
        merchant: z.string().default('merchant_id'),
        reference: z.string().default('out_trade_no'),
        product: z.string().default('product_id'),
        quantity: z.string().default('quantity'),
        notifyUrl: z.string().default('notify_url'),
        timestamp: z.string().default('timestamp'),
        sign: z.string().default('sign'),
      })
      .prefault({}),
    /** Where the answer (JSON) keeps its fields; a callback carries the same names, flat. */
    response: z
      .object({
        code: z.string().default('code'),
        okCodes: names(['0']),
        /** Codes that mean "not now" (busy, maintenance): the order is offered again later. */
        retryCodes: z.array(z.string()).default([]),
        /** Codes a query answers for an order it never received. */
        notFoundCodes: z.array(z.string()).default([]),
        message: z.string().default('msg'),
        status: z.string().default('data.status'),
        orderNo: z.string().default('data.order_no'),
        cards: z.string().default('data.cards'),
        receipt: z.string().default('data.receipt'),
        /** What the order cost, in yuan ("8.50"). */
        cost: z.string().default('data.cost'),
        balance: z.string().default('data.balance'),
        success: names(['success']),
        pending: names(['pending', 'processing']),
        failed: names(['failed']),
      })
      .prefault({}),
    /** What a callback is answered: the supplier stops sending on `ok`. */
    callbackReply: z.object({ ok: z.string().default('success'), fail: z.string().default('fail') }).prefault({}),
    /** A balance below this (minor units) raises the low-balance alert. */
    lowBalance: z.number().int().min(0).default(0),
  })
  .strict();

export type HttpSupplierSettings = z.output<typeof settingsSchema>;
export type HttpSupplierSettingsInput = z.input<typeof settingsSchema>;
