import { lineParser } from '../inventory/parse.js';
import { byId, cents, EMAIL, millis, requireTables, type PaymentRecord, type Source, type Step } from './source.js';

/**
 * dujiaoka (assimon/dujiaoka, database/sql/install.sql): a guest shop. Buyers have no accounts:
 * they order with an e-mail and an optional query password, so their orders come over as guest
 * orders found by that e-mail and password (or a one-time code). The only accounts are the
 * laravel-admin `admin_users` (bcrypt), which become admins signing in as
 * `<username>@dujiaoka.local` with their old password.
 */

const parseKey = lineParser('text');

const ORDER_STATUS: Record<string, { status: 'delivered' | 'expired' | 'failed'; reason?: string }> = {
  '1': { status: 'expired' }, // 待支付
  '-1': { status: 'expired' }, // 已过期
  '2': { status: 'failed', reason: 'dujiaoka: paid, waiting to be processed (待处理)' },
  '3': { status: 'failed', reason: 'dujiaoka: processing (处理中)' },
  '4': { status: 'delivered' }, // 已完成
  '5': { status: 'failed', reason: 'dujiaoka: processing failed (处理失败)' },
  '6': { status: 'failed', reason: 'dujiaoka: abnormal (异常)' },
};

/** Payment handlers (pays.pay_handleroute) our plugins take over. */
function payPlugin(route: string, check: string): PaymentRecord['plugin'] {
  if (route.includes('yipay')) return 'epay';
  if (route.includes('alipay')) return 'alipay';
  if (route.includes('wepay')) return 'wechatpay';
  if ((route.includes('epusdt') || route.includes('tokenpay')) && check.includes('usdt')) return 'usdt';
  return null;
}

export function dujiaoka(): Source {
  const steps: Step[] = [
    {
      ...byId('goods_group'),
      map: (r) =>
        r.deleted_at
          ? { skip: 'import.skip.deleted' }
          : { kind: 'category', slug: `dujiaoka-${r.id}`, name: String(r.gp_name), sort: -Number(r.ord ?? 0), enabled: Number(r.is_open) === 1, createdAt: millis(r.created_at) ?? Date.now() },
    },
    {
      ...byId('goods'),
      map: (r) =>
        r.deleted_at
          ? { skip: 'import.skip.deleted' }
          : {
              kind: 'product',
              category: ['goods_group', String(r.group_id)],
              slug: `dujiaoka-${r.id}`,
              name: String(r.gd_name),
              description: r.description ?? r.gd_description ?? null,
              imageUrl: r.picture || null,
              // 1 自动发货 (keys from stock), 2 人工处理 (an admin delivers)
              type: Number(r.type) === 1 ? 'card' : 'manual',
              enabled: Number(r.is_open) === 1,
              createdAt: millis(r.created_at) ?? Date.now(),
              sku: { code: `DJ-${r.id}`, price: cents(r.actual_price), cost: null, minQuantity: 1, maxQuantity: Number(r.buy_limit_num) > 0 ? Number(r.buy_limit_num) : null },
              levelPrices: [],
            },
    },
    {
      ...byId('carmis', ['id', 'goods_id', 'status', 'carmi', 'deleted_at']),
      map: (r) => {
        if (r.deleted_at) return { skip: 'import.skip.deleted' };
        // 2 已售出: sold keys are in their orders' delivered text.
        if (Number(r.status) !== 1) return { skip: 'import.skip.sold' };
        const parsed = parseKey(String(r.carmi));
        if (!('key' in parsed)) return { skip: 'error' in parsed ? parsed.error : 'key.empty' };
        return { kind: 'key', product: ['goods', String(r.goods_id)], key: parsed.key };
      },
    },
    {
      ...byId('coupons'),
      read: (db, after, limit) =>
        db('coupons as c')
          .leftJoin('coupons_goods as g', 'g.coupons_id', 'c.id')
          .where('c.id', '>', after === null ? -1 : Number(after))
          .groupBy('c.id')
          .orderBy('c.id')
          .limit(limit)
          .select('c.*', db.raw('GROUP_CONCAT(g.goods_id) AS goods')),
      map: (r) => {
        if (r.deleted_at) return { skip: 'import.skip.deleted' };
        const goods = r.goods ? String(r.goods).split(',') : [];
        // Ours apply to the order, one category or one SKU: a code for several products cannot come over as it was.
        if (goods.length > 1) return { skip: 'import.skip.coupon_many' };
        if (String(r.coupon).length > 32) return { skip: 'import.skip.code_long' };
        const left = Math.max(Number(r.ret), 0);
        return {
          kind: 'coupon',
          code: String(r.coupon),
          type: 'fixed',
          value: cents(r.discount),
          scope: goods.length ? { to: 'sku', product: ['goods', goods[0]!] } : { to: 'order' },
          // `ret` is the uses left: they become the new code's limit.
          maxUses: left,
          used: 0,
          endsAt: null,
          active: Number(r.is_open) === 1 && Number(r.is_use) === 1 && left > 0,
          createdAt: millis(r.created_at) ?? Date.now(),
        };
      },
    },
    {
      ...byId('admin_users'),
      map: (r) => {
        const name = String(r.username).toLowerCase();
        const email = EMAIL.test(name) ? name : /^[a-z0-9._-]{1,64}$/.test(name) ? `${name}@dujiaoka.local` : `admin_users-${r.id}@dujiaoka.invalid`;
        return { kind: 'user', email, passwordHash: `legacy-bcrypt$${r.password}`, role: 'admin', displayName: r.name || null, disabled: false, createdAt: millis(r.created_at) ?? Date.now(), upline: null, level: null, balances: [] };
      },
    },
    {
      ...byId('orders'),
      map: (r) => {
        if (r.deleted_at) return { skip: 'import.skip.deleted' };
        if (String(r.order_sn).length > 32) return { skip: 'import.skip.order_no_long' };
        const state = ORDER_STATUS[String(r.status)] ?? { status: 'failed' as const, reason: `dujiaoka: status ${r.status}` };
        const email = String(r.email ?? '').trim();
        return {
          kind: 'order',
          no: String(r.order_sn),
          product: ['goods', String(r.goods_id)],
          user: null,
          title: r.title || null,
          quantity: Math.max(Number(r.buy_amount), 1),
          unitPrice: cents(r.goods_price),
          amount: cents(r.actual_price),
          discount: cents(r.coupon_discount_price) + cents(r.wholesale_discount_price),
          status: state.status,
          reason: state.reason ?? null,
          contact: email || null,
          queryPassword: r.search_pwd || null,
          // `info` holds what was delivered: the keys, one a line.
          delivered: state.status === 'delivered' ? r.info || null : null,
          createdAt: millis(r.created_at) ?? Date.now(),
          paidAt: state.status === 'expired' ? null : millis(r.updated_at),
        };
      },
    },
    {
      ...byId('pays'),
      map: (r) =>
        r.deleted_at
          ? { skip: 'import.skip.deleted' }
          : {
              kind: 'payment',
              name: String(r.pay_name),
              plugin: payPlugin(String(r.pay_handleroute), String(r.pay_check)),
              enabled: Number(r.is_open) === 1,
              detail: `${r.pay_check} (${r.pay_handleroute}), merchant ${r.merchant_id ?? '-'}`,
            },
    },
  ];
  return {
    name: 'dujiaoka',
    check: (db) => requireTables(db, steps.map((s) => s.table)),
    steps,
  };
}
