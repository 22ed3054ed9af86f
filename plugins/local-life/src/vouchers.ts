import type { Knex } from 'knex';
import { z } from 'zod';
import type { CardKey, PluginContext } from '@cardshop/core';
import { codeTail, hashPin, newCode, normalizeCode, pinMatches } from './codes.js';

/**
 * Vouchers: issued on delivery (codes of our own, or a supplier's), shown to the buyer, redeemed
 * by a store's staff, settled when they expire. Every change that counts (a use, an expiry, a
 * refund) is one guarded UPDATE whose row count decides, so parallel requests cannot use a
 * voucher twice or refund a used one.
 */

const DAY = 86_400_000;

export class VoucherError extends Error {
  override name = 'VoucherError';
  constructor(
    readonly code: VoucherErrorCode,
    readonly status: number,
    readonly fields?: Record<string, string>,
  ) {
    super(code);
  }
}

export type VoucherErrorCode =
  | 'validation_failed'
  | 'not_found'
  | 'used_up'
  | 'insufficient_uses'
  | 'expired'
  | 'not_yet_valid'
  | 'void'
  | 'bad_pin'
  | 'too_many_tries'
  | 'merchant_exists';

export type VoucherStatus = 'active' | 'expired' | 'refunding' | 'refunded' | 'void';

export interface VoucherView {
  code: string;
  orderNo: string;
  title: string;
  merchant: { code: string; name: string; address: string | null };
  usesTotal: number;
  usesLeft: number;
  validFrom: number;
  validUntil: number;
  rules: string | null;
  refundExpired: boolean;
  status: VoucherStatus;
  /** What a buyer or a cashier reads: usable now, or why not. */
  state: 'usable' | 'used_up' | 'expired' | 'not_yet_valid' | 'void';
  redemptions: Array<{ uses: number; at: number; staff: string }>;
}

export interface Staff {
  id: number;
  name: string;
  merchantId: number;
  merchantCode: string;
  merchantName: string;
}

/** Not every voucher of an order could be settled together: rolled back, settled next time. */
class Mismatch extends Error {}

const field = (fields: Record<string, string>) => new VoucherError('validation_failed', 400, fields);

function parse<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  throw field(Object.fromEntries(r.error.issues.map((i) => [String(i.path[0] ?? 'body'), i.message])));
}

export const merchantSchema = z.object({
  code: z.string().trim().toLowerCase().regex(/^[a-z0-9][a-z0-9-]{1,31}$/, 'field.invalid'),
  name: z.string().trim().min(1, 'field.required').max(120, 'field.too_long'),
  address: z.string().trim().max(255, 'field.too_long').optional(),
});

export const staffSchema = z.object({
  name: z.string().trim().min(1, 'field.required').max(60, 'field.too_long'),
  // Six digits at least: with the tries allowed per window, guessing takes months.
  pin: z.string().regex(/^\d{6,12}$/, 'field.pin'),
});

const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'field.date');
/** Midnight at the start of a day, China time (the shops' and their stores' day). */
const startOf = (d: string) => Date.parse(`${d}T00:00:00+08:00`);

export const skuSchema = z
  .object({
    merchant: z.string().trim().toLowerCase().min(1, 'field.required'),
    title: z.string().trim().min(1, 'field.required').max(120, 'field.too_long'),
    uses: z.number().int('field.integer').min(1, 'field.min').max(1000, 'field.max').default(1),
    /** Valid for this many days from purchase, or… */
    validDays: z.number().int('field.integer').min(1, 'field.min').max(3650, 'field.max').optional(),
    /** …from one day to another (inclusive), China time. */
    validFrom: day.optional(),
    validUntil: day.optional(),
    rules: z.string().trim().max(2000, 'field.too_long').optional(),
    refundExpired: z.boolean().default(true),
  })
  .refine((s) => (s.validDays === undefined) !== (s.validUntil === undefined), { message: 'field.validity', path: ['validDays'] })
  .refine((s) => !s.validFrom || (s.validUntil !== undefined && s.validFrom <= s.validUntil), { message: 'field.validity', path: ['validFrom'] });

interface VoucherRow {
  id: number;
  order_no: string;
  code_sealed: string;
  merchant_id: number;
  title: string;
  uses_total: number;
  uses_left: number;
  valid_from: number | string;
  valid_until: number | string;
  rules: string | null;
  refund_expired: number | boolean;
  status: VoucherStatus;
}

export function vouchers(ctx: Pick<PluginContext<unknown>, 'db' | 'crypto' | 'orders' | 'log' | 'rateLimit'>, now: () => number = Date.now) {
  const db = ctx.db;
  const fp = (code: string) => ctx.crypto.fingerprint(`code:${normalizeCode(code)}`);

  async function merchantByCode(code: string, q: Knex = db) {
    return q('local_life_merchants').where('code', code.trim().toLowerCase()).first('id', 'code', 'name', 'address', 'enabled');
  }

  async function view(row: VoucherRow, at = now()): Promise<VoucherView> {
    const [merchant, redemptions] = await Promise.all([
      db('local_life_merchants').where('id', row.merchant_id).first('code', 'name', 'address'),
      db('local_life_redemptions')
        .join('local_life_staff', 'local_life_staff.id', 'local_life_redemptions.staff_id')
        .where('voucher_id', row.id)
        .orderBy('local_life_redemptions.id')
        .select('local_life_redemptions.uses', 'local_life_redemptions.created_at', 'local_life_staff.name'),
    ]);
    const validFrom = Number(row.valid_from);
    const validUntil = Number(row.valid_until);
    const state: VoucherView['state'] =
      row.status !== 'active' && row.status !== 'expired'
        ? 'void'
        : row.uses_left === 0
          ? 'used_up'
          : at >= validUntil || row.status === 'expired'
            ? 'expired'
            : at < validFrom
              ? 'not_yet_valid'
              : 'usable';
    return {
      code: ctx.crypto.open(row.code_sealed),
      orderNo: row.order_no,
      title: row.title,
      merchant: { code: merchant.code, name: merchant.name, address: merchant.address ?? null },
      usesTotal: row.uses_total,
      usesLeft: row.uses_left,
      validFrom,
      validUntil,
      rules: row.rules,
      refundExpired: Boolean(row.refund_expired),
      status: row.status,
      state,
      redemptions: redemptions.map((r: { uses: number; created_at: number | string; name: string }) => ({ uses: Number(r.uses), at: Number(r.created_at), staff: r.name })),
    };
  }

  const byCode = (code: string): Promise<VoucherRow | undefined> => db('local_life_vouchers').where('code_fp', fp(code)).first();

  return {
    /**
     * Issues an order's vouchers (its `quantity`), with codes of our own or the supplier's, once:
     * rows are keyed by (order, position), so a retried delivery finds and returns the same codes.
     * Throws a non-retryable VoucherError when the SKU is not set up or a supplier's code is taken.
     */
    async issue(input: { orderNo: string; sku: string; quantity: number; source: string; codes?: string[] }): Promise<VoucherView[]> {
      const rule = await db('local_life_skus').where('sku', input.sku).first();
      if (!rule) throw new VoucherError('not_found', 404, { sku: 'not set up as a voucher (PUT /plugins/local-life/admin/skus/:sku)' });
      const at = now();
      const validUntil = rule.valid_days ? at + Number(rule.valid_days) * DAY : Number(rule.valid_until) + DAY;
      const codes = input.codes ?? Array.from({ length: input.quantity }, newCode);
      const rows = codes.map((code, seq) => ({
        order_no: input.orderNo,
        seq,
        code_fp: fp(code),
        code_sealed: ctx.crypto.seal(code),
        code_tail: codeTail(code),
        sku: input.sku,
        merchant_id: rule.merchant_id,
        title: rule.title,
        uses_total: rule.uses,
        uses_left: rule.uses,
        valid_from: rule.valid_from === null ? at : Number(rule.valid_from),
        valid_until: validUntil,
        rules: rule.rules,
        refund_expired: rule.refund_expired,
        source: input.source,
        status: 'active',
        created_at: at,
        updated_at: at,
      }));
      // A second delivery of the same order keeps the first one's rows (and codes).
      if (rows.length) await db('local_life_vouchers').insert(rows).onConflict().ignore();
      const issued: VoucherRow[] = await db('local_life_vouchers').where('order_no', input.orderNo).orderBy('seq');
      if (issued.length !== codes.length) throw new VoucherError('validation_failed', 409, { code: 'a supplier\'s code is already a voucher of another order' });
      return Promise.all(issued.map((r) => view(r, at)));
    },

    /** A voucher by its code (as typed, scanned or in a link), or undefined. */
    async find(code: string): Promise<VoucherView | undefined> {
      const row = await byCode(code);
      return row && view(row);
    },

    /** The staff member a sign-in is for: store code and PIN, rate-limited per address and per store before the PIN is checked. */
    async signIn(input: { merchant: string; pin: string; ip: string }, limits: { perAddress: number; perMerchant: number; windowMs: number }): Promise<Staff> {
      const merchant = typeof input.merchant === 'string' ? input.merchant.trim().toLowerCase() : '';
      const pin = typeof input.pin === 'string' ? input.pin : '';
      if (!merchant || !pin) throw field({ ...(merchant ? {} : { merchant: 'field.required' }), ...(pin ? {} : { pin: 'field.required' }) });
      const allowed = await Promise.all([
        ctx.rateLimit({ scope: 'pin-ip', key: input.ip, limit: limits.perAddress, windowMs: limits.windowMs }),
        ctx.rateLimit({ scope: 'pin-merchant', key: merchant, limit: limits.perMerchant, windowMs: limits.windowMs }),
      ]);
      if (!allowed.every(Boolean)) throw new VoucherError('too_many_tries', 429);
      const m = await merchantByCode(merchant);
      const staff: Array<{ id: number; name: string; pin_hash: string }> = m?.enabled ? await db('local_life_staff').where({ merchant_id: m.id, enabled: true }).select('id', 'name', 'pin_hash') : [];
      for (const s of staff) {
        if (await pinMatches(pin, s.pin_hash)) return { id: s.id, name: s.name, merchantId: m.id, merchantCode: m.code, merchantName: m.name };
      }
      // The same answer for an unknown store as for a wrong PIN.
      throw new VoucherError('bad_pin', 401);
    },

    /** A signed-in staff member, still enabled; `pinHash` lets a session end when the PIN changes. */
    async staff(id: number): Promise<(Staff & { pinHash: string }) | undefined> {
      const s = await db('local_life_staff')
        .join('local_life_merchants', 'local_life_merchants.id', 'local_life_staff.merchant_id')
        .where({ 'local_life_staff.id': id, 'local_life_staff.enabled': true, 'local_life_merchants.enabled': true })
        .first('local_life_staff.id', 'local_life_staff.name', 'local_life_staff.pin_hash', 'local_life_merchants.id as merchant_id', 'local_life_merchants.code', 'local_life_merchants.name as merchant_name');
      return s && { id: s.id, name: s.name, pinHash: s.pin_hash, merchantId: s.merchant_id, merchantCode: s.code, merchantName: s.merchant_name };
    },

    /**
     * Uses `uses` of a voucher at the staff's store: one UPDATE guarded by the store, the status,
     * the validity and `uses_left >= uses`, and the redemption's row in the same transaction. Of
     * any number of parallel requests for the last use, exactly one gets it.
     */
    async redeem(staff: Staff, input: { code: unknown; uses?: unknown; ip?: string }): Promise<VoucherView> {
      const uses = input.uses === undefined || input.uses === '' ? 1 : Number(input.uses);
      if (typeof input.code !== 'string' || !normalizeCode(input.code)) throw field({ code: 'field.required' });
      if (!Number.isInteger(uses) || uses < 1 || uses > 1000) throw field({ uses: 'field.uses' });
      const row = await byCode(input.code);
      // Another store's voucher is not found here: staff learn nothing about other stores.
      if (!row || row.merchant_id !== staff.merchantId) throw new VoucherError('not_found', 404);
      const at = now();
      const done = await db.transaction(async (trx) => {
        const n = await trx('local_life_vouchers')
          .where({ id: row.id, merchant_id: staff.merchantId, status: 'active' })
          .andWhere('uses_left', '>=', uses)
          .andWhere('valid_from', '<=', at)
          .andWhere('valid_until', '>', at)
          .update({ uses_left: trx.raw('uses_left - ?', [uses]), updated_at: at });
        if (n !== 1) return false;
        await trx('local_life_redemptions').insert({ voucher_id: row.id, merchant_id: staff.merchantId, staff_id: staff.id, uses, ip: input.ip?.slice(0, 64) ?? null, created_at: at });
        return true;
      });
      const after = await view((await db('local_life_vouchers').where('id', row.id).first()) as VoucherRow, at);
      if (done) return after;
      const why = after.state === 'usable' ? 'insufficient_uses' : after.state;
      throw new VoucherError(why, 409);
    },

    /**
     * Settles vouchers past their end: an order whose vouchers are all unused and whose product
     * says so is refunded whole (the core refunds whole orders only, so an order with any use is
     * never refunded); the others just expire. The guarded UPDATE that marks them is what decides,
     * and no voucher past its end can be used any more. A refund that fails is tried next time.
     */
    async sweep(limit = 100): Promise<{ expired: number; refunded: number; failed: number }> {
      const at = now();
      const due: Array<{ order_no: string }> = await db('local_life_vouchers')
        .where((q) => q.where('status', 'active').andWhere('valid_until', '<=', at))
        .orWhere('status', 'refunding')
        .distinct('order_no')
        .limit(limit);
      const report = { expired: 0, refunded: 0, failed: 0 };
      for (const { order_no: orderNo } of due) {
        const refund = await db.transaction(async (trx) => {
          const rows: VoucherRow[] = await trx('local_life_vouchers').where('order_no', orderNo).select('uses_total', 'uses_left', 'refund_expired', 'status');
          if (rows.some((r) => r.status === 'refunding')) return true;
          const unused = rows.every((r) => r.status === 'active' && r.uses_left === r.uses_total && Boolean(r.refund_expired));
          const q = trx('local_life_vouchers').where({ order_no: orderNo, status: 'active' }).andWhere('valid_until', '<=', at);
          if (unused) q.andWhereRaw('uses_left = uses_total');
          const n = await q.update({ status: unused ? 'refunding' : 'expired', updated_at: at });
          // All or nothing: refunded only when every voucher of the order expired unused (a
          // mismatch, a clock between processes, rolls back and waits for the next sweep).
          if (unused && n !== rows.length) throw new Mismatch();
          report.expired += unused ? 0 : n;
          return unused;
        }).catch((err: unknown) => {
          if (err instanceof Mismatch) return false;
          throw err;
        });
        if (!refund) continue;
        try {
          await ctx.orders.refund({ no: orderNo, reason: 'voucher expired unused; refunded / 券过期未使用，已退款' });
        } catch (err) {
          // An order refunded already (by an admin) is settled; anything else is tried again next time.
          if ((err as { code?: string }).code !== 'invalid_state') {
            report.failed++;
            ctx.log.warn(`refund of expired vouchers of ${orderNo} failed; will retry`, err);
            continue;
          }
        }
        await db('local_life_vouchers').where({ order_no: orderNo, status: 'refunding' }).update({ status: 'refunded', updated_at: now() });
        report.refunded++;
      }
      return report;
    },

    /** An order refunded (by an admin, or expired): its vouchers can no longer be used. */
    async voidOrder(orderNo: string): Promise<number> {
      return db('local_life_vouchers').where({ order_no: orderNo, status: 'active' }).update({ status: 'void', updated_at: now() });
    },

    async addMerchant(input: unknown) {
      const m = parse(merchantSchema, input);
      if (await merchantByCode(m.code)) throw new VoucherError('merchant_exists', 409, { code: 'field.taken' });
      await db('local_life_merchants').insert({ code: m.code, name: m.name, address: m.address || null, enabled: true, created_at: now() });
      return merchantByCode(m.code);
    },

    async listMerchants() {
      return db('local_life_merchants').orderBy('id').select('code', 'name', 'address', 'enabled');
    },

    async addStaff(merchantCode: string, input: unknown) {
      const s = parse(staffSchema, input);
      const m = await merchantByCode(merchantCode);
      if (!m) throw new VoucherError('not_found', 404);
      const [id] = await db('local_life_staff').insert({ merchant_id: m.id, name: s.name, pin_hash: await hashPin(s.pin), enabled: true, created_at: now() });
      return { id: Number(id), name: s.name, merchant: m.code };
    },

    /** Sets how a SKU's vouchers are issued; applies to vouchers issued from now on. */
    async setSku(sku: string, input: unknown) {
      const s = parse(skuSchema, input);
      const m = await merchantByCode(s.merchant);
      if (!m) throw field({ merchant: 'field.unknown' });
      const row = {
        sku,
        merchant_id: m.id,
        title: s.title,
        uses: s.uses,
        valid_days: s.validDays ?? null,
        valid_from: s.validFrom ? startOf(s.validFrom) : null,
        valid_until: s.validUntil ? startOf(s.validUntil) : null,
        rules: s.rules || null,
        refund_expired: s.refundExpired,
        updated_at: now(),
      };
      await db('local_life_skus').insert(row).onConflict('sku').merge();
      return { ...s, sku };
    },

    /** An order's vouchers, for an admin (whole codes: the admin sees the order's goods anyway). */
    async ofOrder(orderNo: string): Promise<VoucherView[]> {
      const rows: VoucherRow[] = await db('local_life_vouchers').where('order_no', orderNo).orderBy('seq');
      return Promise.all(rows.map((r) => view(r)));
    },
  };
}

export type Vouchers = ReturnType<typeof vouchers>;

/** A supplier's keys as voucher codes: its card (and password, when it sends one). */
export const codesOf = (keys: CardKey[]) => keys.map((k) => (k.password ? `${k.card} ${k.password}` : k.card));
