import Router from '@koa/router';
import type { NotifyReply, NotifyRequest } from '../plugins/payment.js';
import { confirmByQuery, markPaid, PaymentRefused } from '../orders/payments.js';
import type { ShopContext, ShopRouter } from './context.js';

const MAX_NOTIFY_BYTES = 64 * 1024;

/** The body exactly as sent: gateways sign the raw bytes, so nothing may parse it first. */
async function rawBody(ctx: ShopContext): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_NOTIFY_BYTES) ctx.throw(413);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Form or JSON, whichever the gateway sent (some send JSON where their docs say form). */
function parseBody(raw: string, type: string): Record<string, unknown> {
  const text = raw.trim();
  if (!text) return {};
  if (type.includes('json') || text.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(text);
      return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
    } catch {
      return {};
    }
  }
  if (type.includes('x-www-form-urlencoded') || /^[^=&\s]+=/.test(text)) return Object.fromEntries(new URLSearchParams(text));
  return {};
}

function reply(ctx: ShopContext, r: NotifyReply): void {
  ctx.status = r.status ?? 200;
  ctx.type = r.type ?? 'text/plain';
  ctx.body = r.body;
}

/**
 * `/pay/<gateway>/notify` and `/pay/<gateway>/return`. A notify is verified by its gateway, then
 * every "paid" goes through markPaid, the one path by which a gateway order becomes paid. A notify
 * that cannot be recorded now (the database is busy) is answered with the gateway's failure reply
 * and a 5xx, so the gateway sends it again; one that does not fit the order is refused and logged.
 */
export function payRoutes(): ShopRouter {
  const r: ShopRouter = new Router({ prefix: '/pay' });

  r.all('/:gateway/notify', async (ctx) => {
    const gateway = ctx.shop.plugins.gateways.get(ctx.params.gateway!);
    if (!gateway) return;
    const raw = await rawBody(ctx);
    const request: NotifyRequest = {
      method: ctx.method,
      headers: ctx.headers as Record<string, string | undefined>,
      query: Object.fromEntries(Object.entries(ctx.query).map(([k, v]) => [k, Array.isArray(v) ? v[0]! : (v ?? '')])),
      rawBody: raw,
      body: parseBody(raw, ctx.get('content-type')),
    };
    const log = ctx.shop.log;
    const result = await gateway.verifyNotify(request);
    if (result.action === 'invalid') {
      log.warn(`pay ${gateway.id}: refused a notify from ${ctx.ip}: ${result.reason}`);
      return reply(ctx, result.reply);
    }
    if (result.action !== 'paid') {
      log.info(`pay ${gateway.id}: ${result.action} for ${result.orderNo ?? '(no order)'}`);
      return reply(ctx, result.reply);
    }
    try {
      const outcome = await markPaid(ctx.shop, { gatewayId: gateway.id, orderNo: result.orderNo, amount: result.amount, tradeNo: result.tradeNo });
      log.info(`pay ${gateway.id}: order ${result.orderNo} ${outcome} (trade ${result.tradeNo})`);
      reply(ctx, result.reply);
    } catch (err) {
      if (err instanceof PaymentRefused) {
        log.warn(`pay ${gateway.id}: refused a verified notify: ${err.message}`);
        return reply(ctx, result.failReply);
      }
      log.error(`pay ${gateway.id}: could not record the payment of ${result.orderNo}; the gateway will retry`, err);
      reply(ctx, { ...result.failReply, status: 503 });
    }
  });

  // The buyer's browser, back from the gateway: if the notify has not arrived yet, ask the gateway,
  // then show the order (guests find their token in a cookie).
  r.get('/:gateway/return', async (ctx) => {
    const no = typeof ctx.query.no === 'string' ? ctx.query.no : '';
    const gateway = ctx.shop.plugins.gateways.get(ctx.params.gateway!);
    const order = no && gateway ? await ctx.shop.db.read('orders').where({ no, payment: gateway.id, status: 'pending_payment' }).first('no', 'amount') : undefined;
    if (order) {
      await confirmByQuery(ctx.shop, gateway!, { no: order.no, amount: Number(order.amount) }).catch((err: unknown) => {
        ctx.shop.log.warn(`pay ${gateway!.id}: could not confirm ${no} on return`, err);
      });
    }
    ctx.redirect(no ? `/order/${encodeURIComponent(no)}` : '/');
  });

  return r;
}
