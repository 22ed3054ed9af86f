import type { Knex } from 'knex';
import { z } from 'zod';
import { audit } from '../audit/audit.js';
import type { Deps } from '../context.js';
import { affected, isUniqueViolation, transaction } from '../db/dialect.js';
import { errors, fromZod, ShopError } from '../errors.js';
import { formatMoney } from '../money/money.js';
import type { MarginShare } from '../pricing/margins.js';
import { buyerKey } from '../orders/buyer.js';
import { randomPooled } from '../security/keys.js';

/**
 * Coupons (优惠券): a code the buyer types at checkout for a percent or fixed discount on the whole
 * order, on a category's goods or on one SKU, from a minimum order amount, within a validity window,
 * with limits per code (`maxUses`) and per buyer (`perBuyer`).
 *
 * The discount is taken off what the buyer pays after level pricing (the order's amount), and
 * never leaves less than one minor unit to pay. Who funds it:
 * - a shop coupon (`ownerId` null) comes out of the shop's share: the agents keep their margins,
 *   so it is capped at the order's amount less those margins;
 * - an agent's coupon comes out of that agent's margin on the order, capped there, so the agent
 *   never sells below its own cost; it applies only to orders that pay that agent a margin (its
 *   sub-shop's and its downline's).
 *
 * A use is counted only by a guarded UPDATE in the order's own transaction (orders/batch.ts for
 * wallet checkouts, `redeemCoupon` here for gateway orders), never by a read followed by a write;
 * an order refunded, or expired or cancelled unpaid, gives its use back (`returnCoupons`).
 */

export const COUPON_KINDS = ['percent', 'fixed'] as const;
export const COUPON_SCOPES = ['order', 'category', 'sku'] as const;
export type CouponKind = (typeof COUPON_KINDS)[number];
export type CouponScope = (typeof COUPON_SCOPES)[number];

const CODE = /^[A-Z0-9][A-Z0-9_-]{3,31}$/;
export const couponCode = z.string({ error: 'field.required' }).trim().toUpperCase().regex(CODE, 'coupon.code_format');

const count = (max: number) => z.number({ error: 'field.integer' }).int('field.integer').min(1, 'field.min').max(max, 'field.max');
const instant = z.number({ error: 'field.integer' }).int('field.integer').min(0, 'field.min').nullable().default(null);

/** What a coupon gives and where, shared by one coupon and a batch of generated ones. */
const rules = z.object({
  kind: z.enum(COUPON_KINDS, { error: 'field.invalid' }),
  /** Percent off (1–100), or minor units off. */
  value: count(1_000_000_000),
  scope: z.enum(COUPON_SCOPES, { error: 'field.invalid' }).default('order'),
  /** The category's id (scope `category`) or the SKU's id (scope `sku`). */
  scopeId: z.number({ error: 'field.integer' }).int('field.integer').positive('field.invalid').nullable().default(null),
  minAmount: z.number({ error: 'field.integer' }).int('field.integer').min(0, 'field.min').default(0),
  /** Redemptions in all (null: no limit). */
  maxUses: count(10_000_000).nullable().default(null),
  /** Redemptions by one buyer (null: no limit). */
  perBuyer: count(10_000).nullable().default(null),
  /** Unix milliseconds; null: from now / for ever. */
  startsAt: instant,
  endsAt: instant,
});

const checked = <T extends z.ZodType<z.infer<typeof rules>>>(schema: T) =>
  schema
    .refine((c) => c.kind !== 'percent' || c.value <= 100, { path: ['value'], message: 'coupon.percent_max' })
    .refine((c) => (c.scope === 'order') === (c.scopeId === null), { path: ['scopeId'], message: 'field.required' })
    .refine((c) => c.startsAt === null || c.endsAt === null || c.endsAt > c.startsAt, { path: ['endsAt'], message: 'coupon.window' });

export const couponInput = checked(rules.extend({ code: couponCode }).strict());
/** `count` random codes, each single-use unless `maxUses` says otherwise. */
export const couponBatchInput = checked(
  rules
    .extend({
      count: count(1000),
      prefix: z.string().trim().toUpperCase().regex(/^[A-Z0-9]{0,8}$/, 'coupon.prefix_format').default(''),
      maxUses: count(10_000_000).nullable().default(1),
    })
    .strict(),
);

export interface CouponView {
  id: number;
  code: string;
  kind: CouponKind;
  value: number;
  scope: CouponScope;
  scopeId: number | null;
  minAmount: number;
  maxUses: number | null;
  used: number;
  perBuyer: number | null;
  startsAt: number | null;
  endsAt: number | null;
  active: boolean;
  /** The agent funding it; null: the shop. */
  ownerId: number | null;
  /** The generated batch it belongs to. */
  batch: string | null;
  createdAt: number;
}

type Row = Record<string, unknown>;
const numOrNull = (v: unknown) => (v === null || v === undefined ? null : Number(v));

function view(r: Row): CouponView {
  return {
    id: Number(r.id),
    code: String(r.code),
    kind: r.kind as CouponKind,
    value: Number(r.value),
    scope: r.scope as CouponScope,
    scopeId: numOrNull(r.scope_id),
    minAmount: Number(r.min_amount),
    maxUses: numOrNull(r.max_uses),
    used: Number(r.used),
    perBuyer: numOrNull(r.per_buyer),
    startsAt: numOrNull(r.starts_at),
    endsAt: numOrNull(r.ends_at),
    active: Boolean(r.active),
    ownerId: numOrNull(r.owner_id),
    batch: (r.batch as string | null) ?? null,
    createdAt: Number(r.created_at),
  };
}

type Rules = z.infer<typeof rules>;

function row(c: Rules, code: string, ownerId: number | null, batch: string | null, now: number) {
  return {
    code,
    kind: c.kind,
    value: c.value,
    scope: c.scope,
    scope_id: c.scopeId,
    min_amount: c.minAmount,
    max_uses: c.maxUses,
    used: 0,
    per_buyer: c.perBuyer,
    starts_at: c.startsAt,
    ends_at: c.endsAt,
    active: true,
    owner_id: ownerId,
    batch,
    created_at: now,
    updated_at: now,
  };
}

async function checkScope(trx: Knex, c: Rules): Promise<void> {
  if (c.scope === 'order') return;
  const table = c.scope === 'category' ? 'categories' : 'skus';
  if (!(await trx(table).where('id', c.scopeId!).first('id'))) throw errors.validation({ scopeId: 'field.invalid' });
}

/** Who issues: an admin for the shop, or an agent for itself (`agentId`). */
export interface Issuer {
  actorId: number;
  agentId: number | null;
  ip?: string;
}

const codeTaken = () => new ShopError('coupon_taken', 409, 'coupon.code_taken', { code: 'coupon.code_taken' });

export async function createCoupon(deps: Deps, issuer: Issuer, input: unknown): Promise<CouponView> {
  const parsed = couponInput.safeParse(input);
  if (!parsed.success) throw fromZod(parsed.error);
  const c = parsed.data;
  try {
    return await transaction(deps.db, async (trx) => {
      await checkScope(trx, c);
      const [id] = await trx('coupons').insert(row(c, c.code, issuer.agentId, null, deps.now()));
      await audit(deps, trx, { actorId: issuer.actorId, action: 'coupon.create', targetType: 'coupon', targetId: c.code, after: { ...c, ownerId: issuer.agentId }, ip: issuer.ip });
      return view(await trx('coupons').where('id', Number(id)).first());
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw codeTaken();
    throw err;
  }
}

// No 0/O or 1/I: codes are read off screens and typed by hand.
const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const randomCode = (prefix: string) => {
  const bytes = randomPooled(10);
  return `${prefix ? `${prefix}-` : ''}${[...bytes].map((b) => ALPHABET[b % ALPHABET.length]).join('')}`;
};

/** Generates `count` random codes with the same rules, in one transaction; answers the codes. */
export async function generateCoupons(deps: Deps, issuer: Issuer, input: unknown): Promise<{ batch: string; codes: string[] }> {
  const parsed = couponBatchInput.safeParse(input);
  if (!parsed.success) throw fromZod(parsed.error);
  const { count: n, prefix, ...c } = parsed.data;
  const now = deps.now();
  const batch = `${prefix || 'B'}${now.toString(36).toUpperCase()}`.slice(0, 32);
  const codes = [...new Set(Array.from({ length: n }, () => randomCode(prefix)))];
  // 32^10 codes: a repeat (in the set or in the table) fails the batch, and the operator asks again.
  try {
    await transaction(deps.db, async (trx) => {
      await checkScope(trx, c);
      const rows = codes.map((code) => row(c, code, issuer.agentId, batch, now));
      for (let i = 0; i < rows.length; i += 200) await trx('coupons').insert(rows.slice(i, i + 200));
      await audit(deps, trx, { actorId: issuer.actorId, action: 'coupon.generate', targetType: 'coupon', targetId: batch, after: { ...c, count: codes.length, ownerId: issuer.agentId }, ip: issuer.ip });
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw codeTaken();
    throw err;
  }
  return { batch, codes };
}

/** The shop's coupons (`ownerId` null) or one agent's, newest first. */
export async function listCoupons(deps: Deps, ownerId: number | null, opts: { limit?: number } = {}): Promise<CouponView[]> {
  const q = deps.db.read('coupons').orderBy('id', 'desc').limit(opts.limit ?? 500);
  const rows = await (ownerId === null ? q.whereNull('owner_id') : q.where('owner_id', ownerId));
  return rows.map(view);
}

/** Turns a coupon on or off; an agent only its own, an admin only the shop's. */
export async function setCouponActive(deps: Deps, issuer: Issuer, id: number, active: boolean): Promise<CouponView> {
  return transaction(deps.db, async (trx) => {
    const own = (q: Knex.QueryBuilder) => (issuer.agentId === null ? q.whereNull('owner_id') : q.where('owner_id', issuer.agentId));
    const before = await own(trx('coupons').where('id', id)).first();
    if (!before) throw errors.notFound('coupon.unknown');
    await trx('coupons').where('id', id).update({ active, updated_at: deps.now() });
    await audit(deps, trx, { actorId: issuer.actorId, action: active ? 'coupon.enable' : 'coupon.disable', targetType: 'coupon', targetId: String(before.code), ip: issuer.ip });
    return view({ ...before, active });
  });
}

/** A coupon as an order carries it: what it took off and whose use it counts as. */
export interface AppliedCoupon {
  id: number;
  code: string;
  discount: number;
  /** Whose use it is (see `buyerKey`). */
  buyer: string;
  perBuyer: number | null;
  /** The agent funding it, whose margin the discount came out of. */
  ownerId: number | null;
}

const invalid = (why: string, params?: Record<string, string | number>) => new ShopError('coupon_invalid', 422, 'coupon.invalid', { coupon: why }, params);
export const couponUsedUp = () => new ShopError('coupon_used_up', 409, 'coupon.invalid', { coupon: 'coupon.used_up' });
export const couponBuyerLimit = () => new ShopError('coupon_used_up', 409, 'coupon.invalid', { coupon: 'coupon.buyer_limit' });
export const couponDisabled = () => invalid('coupon.disabled');

/** What an order looks like to a coupon. */
export interface CouponTarget {
  userId: number | null;
  contact: string | null;
  skuId: number;
  categoryId: number;
  /** What the buyer pays before the coupon (after level pricing). */
  amount: number;
  /** The agents' margins on the order, which an agent's coupon is taken out of. */
  margins: MarginShare[];
}

/**
 * The discount `code` gives on `target`, with the margins as they stand after it; throws 422
 * `coupon_invalid` or 409 `coupon_used_up` naming the field `coupon` with the reason. The counts
 * read here only spare the buyer a checkout that would fail: the order's transaction decides.
 */
export async function applyCoupon(deps: Deps, code: string, target: CouponTarget): Promise<{ coupon: AppliedCoupon; margins: MarginShare[] }> {
  const parsed = couponCode.safeParse(code);
  if (!parsed.success) throw invalid('coupon.unknown');
  const r = await deps.db.read('coupons').where('code', parsed.data).first();
  if (!r) throw invalid('coupon.unknown');
  const c = view(r);
  const now = deps.now();
  if (!c.active) throw couponDisabled();
  if (c.startsAt !== null && now < c.startsAt) throw invalid('coupon.not_started');
  if (c.endsAt !== null && now >= c.endsAt) throw invalid('coupon.expired');
  if ((c.scope === 'sku' && c.scopeId !== target.skuId) || (c.scope === 'category' && c.scopeId !== target.categoryId)) throw invalid('coupon.not_applicable');
  if (target.amount < c.minAmount) throw invalid('coupon.min_amount', { min: formatMoney(c.minAmount, deps.config.shop.currency) });
  const share = c.ownerId === null ? null : target.margins.find((m) => m.agentId === c.ownerId);
  if (c.ownerId !== null && !share) throw invalid('coupon.not_applicable');
  if (c.maxUses !== null && c.used >= c.maxUses) throw couponUsedUp();
  const buyer = buyerKey(deps, target);
  if (c.perBuyer !== null) {
    const mine = await deps.db.read('coupon_buyers').where({ coupon_id: c.id, buyer }).first('uses');
    if (Number(mine?.uses ?? 0) >= c.perBuyer) throw couponBuyerLimit();
  }
  const wanted = c.kind === 'percent' ? Math.floor((target.amount * c.value) / 100) : c.value;
  const shopShare = target.amount - target.margins.reduce((s, m) => s + m.amount, 0);
  const cap = Math.min(target.amount - 1, share ? share.amount : shopShare);
  const discount = Math.min(wanted, cap);
  // Nothing left to give: the agent sells at cost here, or the shop keeps nothing of it.
  if (discount <= 0) throw invalid('coupon.not_applicable');
  const margins = share ? target.margins.map((m) => (m === share ? { ...m, amount: m.amount - discount } : m)) : target.margins;
  return { coupon: { id: c.id, code: c.code, discount, buyer, perBuyer: c.perBuyer, ownerId: c.ownerId }, margins };
}

/**
 * Counts a gateway order's use of its coupon, inside the transaction that inserts the order: one
 * guarded UPDATE of the code's counter and, where buyers are limited, one of the buyer's.
 */
export async function redeemCoupon(deps: Deps, trx: Knex, c: AppliedCoupon): Promise<void> {
  const took = await trx('coupons')
    .where({ id: c.id, active: true })
    .andWhere((q) => q.whereNull('max_uses').orWhere('used', '<', trx.ref('max_uses')))
    .increment('used', 1);
  if (affected(took) !== 1) throw (await trx('coupons').where('id', c.id).first('active'))?.active ? couponUsedUp() : couponDisabled();
  if (c.perBuyer === null) return;
  await trx('coupon_buyers').insert({ coupon_id: c.id, buyer: c.buyer, uses: 0 }).onConflict(['coupon_id', 'buyer']).ignore();
  const mine = await trx('coupon_buyers').where({ coupon_id: c.id, buyer: c.buyer }).andWhere('uses', '<', c.perBuyer).increment('uses', 1);
  if (affected(mine) !== 1) throw couponBuyerLimit();
}

/**
 * Gives back the uses of orders that will never be paid for or were refunded. The caller's guarded
 * transition of each order makes this run once per order.
 */
export async function returnCoupons(deps: Deps, trx: Knex, orders: Array<{ coupon_id?: number | null; user_id: number | null; contact: string | null }>): Promise<void> {
  const using = orders.filter((o) => o.coupon_id);
  for (const o of using) {
    await trx('coupons').where('id', o.coupon_id!).andWhere('used', '>', 0).decrement('used', 1);
    const buyer = buyerKey(deps, { userId: o.user_id, contact: o.contact });
    await trx('coupon_buyers').where({ coupon_id: o.coupon_id!, buyer }).andWhere('uses', '>', 0).decrement('uses', 1);
  }
}
