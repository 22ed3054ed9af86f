import Router from '@koa/router';
import { z } from 'zod';
import { apiOrderOf, apiProducts, apiSchemas, apiWalletOf, IDEMPOTENCY_KEY, placeApiOrder } from '../agents/api.js';
import { SIGNATURE_WINDOW_S, verifyRequest } from '../agents/api-keys.js';
import { errors } from '../errors.js';
import { pickableKeys } from '../inventory/picks.js';
import { CORE_VERSION } from '../plugins/host.js';
import type { ShopContext, ShopRouter } from './context.js';

/**
 * The Agent API, `/api/v1`: for downstream shops and integrators. Every route but the OpenAPI
 * document needs a signed request (agents/api-keys.ts); the caller pays from its wallet.
 */

const caller = (ctx: ShopContext) => ({ user: ctx.state.user!, apiKeyId: ctx.state.apiKeyId! });

export function agentApi(): ShopRouter {
  const r: ShopRouter = new Router({ prefix: '/api/v1' });

  r.get('/openapi.json', (ctx) => {
    ctx.body = openApiDocument();
  });

  r.use(async (ctx, next) => {
    const who = await verifyRequest(ctx.shop, { method: ctx.method, path: ctx.originalUrl, headers: ctx.headers, body: ctx.request.rawBody ?? '' });
    ctx.state.user = who.user;
    ctx.state.apiKeyId = who.apiKeyId;
    await next();
  });

  r.get('/products', async (ctx) => {
    const category = typeof ctx.query.category === 'string' ? ctx.query.category : undefined;
    ctx.body = { products: await apiProducts(ctx.shop, ctx.state.user!, { category }) };
  });

  r.get('/products/:sku', async (ctx) => {
    ctx.body = { product: (await apiProducts(ctx.shop, ctx.state.user!, { sku: ctx.params.sku! }))[0] };
  });

  // A SKU's keys to pick from (卡密预选), as previews; `?after=` the last id for the next page.
  r.get('/products/:sku/picks', async (ctx) => {
    ctx.body = await pickableKeys(ctx.shop, ctx.params.sku!, { after: Number(ctx.query.after) || undefined });
  });

  r.post('/orders', async (ctx) => {
    const { order, replayed } = await placeApiOrder(ctx.shop, ctx.shop.checkout, caller(ctx), ctx.get('idempotency-key'), ctx.request.body ?? {});
    if (replayed) ctx.set('Idempotent-Replayed', 'true');
    ctx.status = replayed ? 200 : 201;
    ctx.body = { order };
  });

  // By the Idempotency-Key it was placed with: how a caller whose request timed out finds out.
  r.get('/orders', async (ctx) => {
    const key = typeof ctx.query.idempotency_key === 'string' ? ctx.query.idempotency_key : '';
    if (!IDEMPOTENCY_KEY.test(key)) throw errors.notFound('error.order_not_found');
    ctx.body = { order: await apiOrderOf(ctx.shop, ctx.state.user!, { idempotencyKey: key }) };
  });

  r.get('/orders/:no', async (ctx) => {
    ctx.body = { order: await apiOrderOf(ctx.shop, ctx.state.user!, { no: ctx.params.no! }) };
  });

  r.get('/wallet', async (ctx) => {
    ctx.body = { wallet: await apiWalletOf(ctx.shop, ctx.state.user!) };
  });

  return r;
}

let document: object | undefined;

/** OpenAPI 3.1, its schemas generated from the same zod schemas the routes use. */
function openApiDocument(): object {
  if (document) return document;
  const { schemas } = z.toJSONSchema(apiSchemas, { uri: (id) => `#/components/schemas/${id}`, io: 'input' }) as { schemas: Record<string, Record<string, unknown>> };
  for (const s of Object.values(schemas)) {
    delete s.$schema;
    delete s.$id;
  }
  const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
  const json = (schema: object) => ({ content: { 'application/json': { schema } } });
  const wrapped = (key: string, name: string) => json({ type: 'object', properties: { [key]: ref(name) }, required: [key] });
  const errorsOf = (...codes: number[]) =>
    Object.fromEntries(codes.map((c) => [String(c), { description: ERROR_TEXT[c], ...json(ref('Error')) }]));
  const signed = [{ key: [], timestamp: [], nonce: [], signature: [] }];
  document = {
    openapi: '3.1.0',
    info: {
      title: 'cardshop Agent API',
      version: CORE_VERSION,
      description:
        'Signed requests: X-Cardshop-Key (key id), X-Cardshop-Timestamp (unix seconds), X-Cardshop-Nonce (8-64 of A-Z a-z 0-9 _ -, never reused), ' +
        'X-Cardshop-Signature = lowercase hex HMAC-SHA256(secret, METHOD + "\\n" + PATH_AND_QUERY + "\\n" + TIMESTAMP + "\\n" + NONCE + "\\n" + hex SHA-256 of the raw body). ' +
        `A timestamp more than ${SIGNATURE_WINDOW_S} s off is refused. Webhooks to callback_url are signed the same way with the key that placed the order. Amounts are integers in minor units.`,
    },
    servers: [{ url: '/api/v1' }],
    components: {
      schemas,
      securitySchemes: {
        key: { type: 'apiKey', in: 'header', name: 'X-Cardshop-Key' },
        timestamp: { type: 'apiKey', in: 'header', name: 'X-Cardshop-Timestamp' },
        nonce: { type: 'apiKey', in: 'header', name: 'X-Cardshop-Nonce' },
        signature: { type: 'apiKey', in: 'header', name: 'X-Cardshop-Signature' },
      },
    },
    security: signed,
    paths: {
      '/products': {
        get: {
          summary: "Everything on sale, at the caller's prices",
          parameters: [{ name: 'category', in: 'query', schema: { type: 'string' }, description: 'A category slug' }],
          responses: { '200': { description: 'The products', ...json({ type: 'object', properties: { products: { type: 'array', items: ref('Product') } }, required: ['products'] }) }, ...errorsOf(401) },
        },
      },
      '/products/{sku}': {
        get: {
          summary: 'One SKU',
          parameters: [{ name: 'sku', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '200': { description: 'The product', ...wrapped('product', 'Product') }, ...errorsOf(401, 404) },
        },
      },
      '/products/{sku}/picks': {
        get: {
          summary: 'The keys of a SKU that lets buyers pick them (卡密预选), as masked previews, 50 at a time',
          parameters: [
            { name: 'sku', in: 'path', required: true, schema: { type: 'string' } },
            { name: 'after', in: 'query', schema: { type: 'integer' }, description: 'The `next` of the page before' },
          ],
          responses: {
            '200': {
              description: 'Previews: pick keys by id in POST /orders (`pick`), each at `surcharge` on top of the price',
              ...json({
                type: 'object',
                properties: {
                  sku: { type: 'string' },
                  surcharge: { type: 'integer' },
                  picks: { type: 'array', items: { type: 'object', properties: { id: { type: 'integer' }, preview: { type: 'string' } }, required: ['id', 'preview'] } },
                  next: { type: ['integer', 'null'] },
                },
                required: ['sku', 'surcharge', 'picks', 'next'],
              }),
            },
            ...errorsOf(401, 404),
          },
        },
      },
      '/orders': {
        post: {
          summary: "Places an order paid from the caller's wallet",
          description: 'A repeat with the same Idempotency-Key answers 200 with the same order (header Idempotent-Replayed: true), never a second one.',
          parameters: [{ name: 'Idempotency-Key', in: 'header', required: true, schema: { type: 'string', pattern: IDEMPOTENCY_KEY.source } }],
          requestBody: { required: true, ...json(ref('OrderInput')) },
          callbacks: {
            orderFinished: { '{$request.body#/callback_url}': { post: { requestBody: json(ref('Webhook')), responses: { '200': { description: 'Any 2xx stops the retries' } } } } },
          },
          responses: {
            '201': { description: 'Placed (and, for keys in stock, already delivered)', ...wrapped('order', 'Order') },
            '200': { description: 'A repeat of an earlier request: the same order', ...wrapped('order', 'Order') },
            ...errorsOf(400, 401, 402, 404, 409),
          },
        },
        get: {
          summary: 'The order placed with an Idempotency-Key',
          parameters: [{ name: 'idempotency_key', in: 'query', required: true, schema: { type: 'string' } }],
          responses: { '200': { description: 'The order', ...wrapped('order', 'Order') }, ...errorsOf(401, 404) },
        },
      },
      '/orders/{no}': {
        get: {
          summary: "One of the caller's orders, with its keys once delivered",
          parameters: [{ name: 'no', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '200': { description: 'The order', ...wrapped('order', 'Order') }, ...errorsOf(401, 404) },
        },
      },
      '/wallet': {
        get: { summary: "The caller's balance", responses: { '200': { description: 'The wallet', ...wrapped('wallet', 'Wallet') }, ...errorsOf(401) } },
      },
      '/openapi.json': { get: { summary: 'This document', security: [], responses: { '200': { description: 'OpenAPI 3.1' } } } },
    },
  };
  return document;
}

const ERROR_TEXT: Record<number, string> = {
  400: 'validation_failed (fields named), idempotency_key_required',
  401: 'signature_required, invalid_key, bad_signature, stale_timestamp, nonce_reused',
  402: 'insufficient_balance: nothing was charged',
  404: 'unknown_sku, not_found',
  409: 'out_of_stock, price_changed, idempotency_conflict: nothing was charged',
};
