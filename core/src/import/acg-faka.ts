import type { Knex } from 'knex';
import { lineParser } from '../inventory/parse.js';
import { byId, cents, EMAIL, millis, requireTables, type PaymentRecord, type Ref, type Source, type Step } from './source.js';

/**
 * acg-faka (lizhipay/acg-faka, kernel/Install/Install.sql, tables named with the prefix chosen at
 * install): members with balances, member levels (user_group, reached by cumulative top-ups),
 * merchants with sub-shops (business), and the platform's own goods (owner 0). Merchants' own
 * categories, goods and coupons stay behind: cardshop's agents resell the operator's catalog.
 * Passwords are sha1(md5(md5(password) . md5(salt))) (app/Util/Str.php): verified once on the
 * first login, then replaced by ours.
 */

const parseKey = lineParser('text');

/** Pay handlers (pay.handle, the plugin folder under app/Pay) our plugins take over. */
function payPlugin(handle: string): PaymentRecord['plugin'] {
  const h = handle.toLowerCase();
  if (h.includes('epay')) return 'epay';
  if (h.includes('alipay')) return 'alipay';
  if (h.includes('wechat') || h.includes('wxpay')) return 'wechatpay';
  if (h.includes('usdt') || h.includes('tokenpay')) return 'usdt';
  return null;
}

/** How an account signs in here: its e-mail, else its username on a stand-in domain. */
function loginEmail(table: string, r: Record<string, any>): string {
  const email = String(r.email ?? '').trim().toLowerCase();
  if (EMAIL.test(email) && email.length <= 254) return email;
  const name = String(r.username ?? '').toLowerCase();
  return table === 'user' && /^[a-z0-9._-]{1,64}$/.test(name) ? `${name}@acg-faka.local` : `${table}-${r.id}@acg-faka.invalid`;
}

export function acgFaka(options: { prefix: string }): Source {
  const t = (name: string) => `${options.prefix}${name}`;
  // Levels by the top-ups that reach them, highest first (UserGroup::get).
  let groups: Array<{ id: string; recharge: number }> = [];
  const groupOf = (recharge: number): Ref | null => {
    const g = groups.find((x) => recharge >= x.recharge);
    return g ? ['user_group', g.id] : null;
  };
  const owned = (r: Record<string, any>) => Number(r.owner) !== 0;
  const userStep = (table: string, role: 'customer' | 'admin'): Step => ({
    ...byId(t(table)),
    table,
    map: (r) => ({
      kind: 'user',
      email: loginEmail(table, r),
      passwordHash: `legacy-acg$${r.salt}$${r.password}`,
      role,
      displayName: (role === 'admin' ? r.nickname : r.username) || null,
      disabled: Number(r.status) !== 1,
      createdAt: millis(r.create_time) ?? Date.now(),
      upline: role === 'customer' && Number(r.pid) > 0 ? ['user', String(r.pid)] : null,
      level: role === 'customer' ? groupOf(cents(r.recharge)) : null,
      // 余额 and 硬币 (commission that may be withdrawn): both are the member's money, one wallet here.
      balances: role === 'customer' ? [{ name: 'balance', amount: cents(r.balance) }, { name: 'coin', amount: cents(r.coin) }] : [],
    }),
  });

  const steps: Step[] = [
    {
      ...byId(t('user_group')),
      table: 'user_group',
      map: (r) => ({ kind: 'level', code: `acg-faka-${r.id}`, name: String(r.name), upgradeAt: cents(r.recharge) }),
    },
    {
      ...byId(t('category')),
      table: 'category',
      map: (r) =>
        owned(r)
          ? { skip: 'import.skip.merchant' }
          : { kind: 'category', slug: `acg-faka-${r.id}`, name: String(r.name), sort: Number(r.sort), enabled: Number(r.status) === 1 && Number(r.hide) !== 1, createdAt: millis(r.create_time) ?? Date.now() },
    },
    {
      ...byId(t('commodity')),
      table: 'commodity',
      map: (r) => {
        if (owned(r)) return { skip: 'import.skip.merchant' };
        const price = cents(r.price);
        const member = cents(r.user_price);
        let levelPrice: Record<string, { amount?: unknown }> = {};
        try {
          levelPrice = r.level_price ? JSON.parse(String(r.level_price)) : {};
        } catch {
          levelPrice = {};
        }
        // A member pays the level's own price if set, else the member price (Bind/Order.php).
        const levelPrices = Number(r.level_disable)
          ? []
          : groups.flatMap((g) => {
              const own = levelPrice[g.id]?.amount;
              const p = own !== undefined && cents(own) > 0 ? cents(own) : member > 0 && member < price ? member : 0;
              return p ? [{ level: ['user_group', g.id] as Ref, price: p }] : [];
            });
        return {
          kind: 'product',
          category: ['category', String(r.category_id)],
          slug: `acg-faka-${r.id}`,
          name: String(r.name),
          description: r.description ?? null,
          imageUrl: r.cover || null,
          // delivery_way 0 自动发货 (keys from stock), 1 手动/插件发货
          type: Number(r.delivery_way) === 0 ? 'card' : 'manual',
          enabled: Number(r.status) === 1,
          createdAt: millis(r.create_time) ?? Date.now(),
          sku: {
            code: `ACG-${r.id}`,
            price,
            cost: Number(r.factory_price) > 0 ? cents(r.factory_price) : null,
            minQuantity: Math.max(Number(r.minimum) || 1, 1),
            maxQuantity: Number(r.maximum) > 0 ? Number(r.maximum) : null,
          },
          levelPrices,
        };
      },
    },
    userStep('user', 'customer'),
    userStep('manage', 'admin'),
    {
      ...byId(t('business')),
      table: 'business',
      map: (r) => ({
        kind: 'site',
        owner: ['user', String(r.user_id)],
        code: `acg-${r.id}`,
        host: (r.topdomain || r.subdomain || null)?.toLowerCase() ?? null,
        name: String(r.shop_name || r.title || `acg-${r.id}`),
        notice: r.notice || null,
        createdAt: millis(r.create_time) ?? Date.now(),
      }),
    },
    {
      ...byId(t('card'), ['id', 'commodity_id', 'status', 'secret']),
      table: 'card',
      map: (r) => {
        // 1 已出售: sold keys are in their orders' delivered text. 2 已锁定 (held for an unpaid order) is stock.
        if (Number(r.status) === 1) return { skip: 'import.skip.sold' };
        const parsed = parseKey(String(r.secret));
        if (!('key' in parsed)) return { skip: 'error' in parsed ? parsed.error : 'key.empty' };
        return { kind: 'key', product: ['commodity', String(r.commodity_id)], key: parsed.key };
      },
    },
    {
      ...byId(t('coupon')),
      table: 'coupon',
      map: (r) => {
        if (owned(r)) return { skip: 'import.skip.merchant' };
        // mode 0: money off; 1: a fraction of the price off (at most 1).
        const percent = Number(r.mode) === 1;
        const value = cents(r.money);
        if (!value || (percent && value > 100)) return { skip: 'import.skip.coupon_value' };
        const scope =
          Number(r.commodity_id) > 0
            ? { to: 'sku' as const, product: ['commodity', String(r.commodity_id)] as Ref }
            : Number(r.category_id) > 0
              ? { to: 'category' as const, category: ['category', String(r.category_id)] as Ref }
              : { to: 'order' as const };
        const life = Math.max(Number(r.life), 1);
        const used = Math.min(Number(r.use_life), life);
        return {
          kind: 'coupon',
          code: String(r.code),
          type: percent ? 'percent' : 'fixed',
          value,
          scope,
          maxUses: life,
          used,
          endsAt: millis(r.expire_time),
          // 2 锁定: switched off by the operator.
          active: Number(r.status) !== 2 && used < life,
          createdAt: millis(r.create_time) ?? Date.now(),
        };
      },
    },
    {
      ...byId(t('order')),
      table: 'order',
      read: (db: Knex, after, limit) =>
        db(`${t('order')} as o`)
          .leftJoin(`${t('commodity')} as c`, 'c.id', 'o.commodity_id')
          .where('o.id', '>', after === null ? -1 : Number(after))
          .orderBy('o.id')
          .limit(limit)
          .select('o.*', 'c.name as commodity_name'),
      map: (r) => {
        const paid = Number(r.status) === 1;
        const delivered = paid && Number(r.delivery_status) === 1;
        const quantity = Math.max(Number(r.card_num), 1);
        const amount = cents(r.amount);
        return {
          kind: 'order',
          no: String(r.trade_no),
          product: ['commodity', String(r.commodity_id)],
          user: Number(r.owner) > 0 ? ['user', String(r.owner)] : null,
          title: r.commodity_name || null,
          quantity,
          unitPrice: Math.round(amount / quantity),
          amount,
          discount: 0,
          status: delivered ? 'delivered' : paid ? 'failed' : 'expired',
          reason: paid && !delivered ? 'acg-faka: paid, not delivered (未发货)' : null,
          contact: r.contact || null,
          queryPassword: r.password || null,
          delivered: delivered ? r.secret || null : null,
          createdAt: millis(r.create_time) ?? Date.now(),
          paidAt: millis(r.pay_time),
        };
      },
    },
    {
      ...byId(t('pay')),
      table: 'pay',
      map: (r) =>
        r.handle === '#system'
          ? { skip: 'import.skip.wallet_pay' }
          : {
              kind: 'payment',
              name: String(r.name),
              plugin: payPlugin(String(r.handle)),
              enabled: Number(r.commodity) === 1 || Number(r.recharge) === 1,
              detail: `${r.handle} / ${r.code}${Number(r.pay_config_id) ? `, pay_config #${r.pay_config_id}` : ''}`,
            },
    },
  ];
  return {
    name: 'acg-faka',
    async check(db) {
      await requireTables(db, steps.map((s) => t(s.table)));
      const rows = await db(t('user_group')).orderBy('recharge', 'desc').select('id', 'recharge');
      groups = rows.map((g: { id: unknown; recharge: unknown }) => ({ id: String(g.id), recharge: cents(g.recharge) }));
    },
    steps,
  };
}
