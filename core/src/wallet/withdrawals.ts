import { z } from 'zod';
import { audit } from '../audit/audit.js';
import type { User } from '../agents/users.js';
import type { Deps } from '../context.js';
import { affected, transaction } from '../db/dialect.js';
import { errors, fromZod, ShopError } from '../errors.js';
import { decrypt, encrypt } from '../security/keys.js';
import { holdAccountId, postJournal, SYSTEM_ACCOUNTS, systemAccountId, walletAccountId } from './ledger.js';

/**
 * Withdrawals (提现). Asking moves the amount from the wallet to the user's hold account in one
 * journal transaction (the wallet debit is guarded, so a wallet never goes negative and two
 * requests cannot spend the same money). The operator then pays it out by bank or Alipay and
 * records the transfer's reference (hold → platform:payouts), or refuses it with a reason (hold →
 * wallet). Each decision is a guarded `pending →` UPDATE: an approval racing a refusal, or a
 * double click, decides once.
 */

export const WITHDRAWAL_METHODS = ['alipay', 'wechat', 'bank'] as const;
export type WithdrawalStatus = 'pending' | 'paid' | 'rejected';

export const withdrawalInput = z
  .object({
    amount: z.number({ error: 'field.integer' }).int('field.integer').min(100, 'field.min').max(1e11, 'field.max'),
    method: z.enum(WITHDRAWAL_METHODS, { error: 'field.invalid' }),
    /** The account to pay to: an Alipay login, a WeChat id, or bank, card number and name. */
    payee: z.string({ error: 'field.required' }).trim().min(3, 'field.required').max(200, 'field.too_long'),
  })
  .strict();

export interface Withdrawal {
  id: number;
  userId: number;
  amount: number;
  method: (typeof WITHDRAWAL_METHODS)[number];
  /** Shown to everyone: the account with its middle hidden. The full text only to admins. */
  payee: string;
  status: WithdrawalStatus;
  reason: string | null;
  payoutRef: string | null;
  createdAt: number;
  decidedAt: number | null;
}

const mask = (payee: string) => (payee.length <= 6 ? `${payee.slice(0, 1)}***` : `${payee.slice(0, 3)}***${payee.slice(-3)}`).slice(0, 80);

function toWithdrawal(r: Record<string, any>): Withdrawal {
  return {
    id: Number(r.id),
    userId: Number(r.user_id),
    amount: Number(r.amount),
    method: r.method,
    payee: r.payee_masked,
    status: r.status,
    reason: r.reason,
    payoutRef: r.payout_ref,
    createdAt: Number(r.created_at),
    decidedAt: r.decided_at === null ? null : Number(r.decided_at),
  };
}

export async function requestWithdrawal(deps: Deps, user: User, input: unknown, ip?: string): Promise<Withdrawal> {
  const parsed = withdrawalInput.safeParse(input);
  if (!parsed.success) throw fromZod(parsed.error);
  const w = parsed.data;
  await deps.hooks.check('before.withdraw', { user, amount: w.amount });
  const id = await transaction(deps.db, async (trx) => {
    const [id] = await trx('withdrawals').insert({
      user_id: user.id,
      amount: w.amount,
      method: w.method,
      payee: encrypt(deps.keys.encryption, w.payee),
      payee_masked: mask(w.payee),
      status: 'pending',
      created_at: deps.now(),
    });
    const wallet = await walletAccountId(deps, trx, user.id);
    const entries = [
      { accountId: wallet, amount: -w.amount },
      { accountId: await holdAccountId(deps, trx, user.id), amount: w.amount },
    ];
    await postJournal(deps, trx, [{ id: `withdraw:${id}:hold`, kind: 'withdrawal', memo: `withdrawal #${id}`, actorId: user.id, entries }], new Set([wallet]));
    await audit(deps, trx, { actorId: user.id, action: 'withdrawal.request', targetType: 'withdrawal', targetId: Number(id), after: { amount: w.amount, method: w.method }, ip });
    return Number(id);
  });
  return getWithdrawal(deps, id);
}

export async function getWithdrawal(deps: Deps, id: number): Promise<Withdrawal> {
  const row = await deps.db.knex('withdrawals').where('id', id).first();
  if (!row) throw errors.notFound();
  return toWithdrawal(row);
}

/** The full payee, for the admin who pays it out; reading it is audited. */
export async function payeeOf(deps: Deps, id: number, actor: { id: number; ip?: string }): Promise<string> {
  return transaction(deps.db, async (trx) => {
    const row = await trx('withdrawals').where('id', id).first('payee');
    if (!row) throw errors.notFound();
    await audit(deps, trx, { actorId: actor.id, action: 'withdrawal.reveal', targetType: 'withdrawal', targetId: id, ip: actor.ip });
    return decrypt(deps.keys.encryption, row.payee);
  });
}

export async function listWithdrawals(deps: Deps, filter: { userId?: number; status?: WithdrawalStatus; beforeId?: number; limit?: number } = {}) {
  const q = deps.db.read('withdrawals').orderBy('id', 'desc').limit(Math.min(filter.limit ?? 50, 200));
  if (filter.userId) q.where('user_id', filter.userId);
  if (filter.status) q.where('status', filter.status);
  if (filter.beforeId) q.where('id', '<', filter.beforeId);
  return (await q).map(toWithdrawal);
}

export const decisionInput = z.discriminatedUnion('decision', [
  z.object({ decision: z.literal('paid'), payoutRef: z.string({ error: 'field.required' }).trim().min(1, 'field.required').max(100, 'field.too_long') }).strict(),
  z.object({ decision: z.literal('rejected'), reason: z.string({ error: 'field.required' }).trim().min(1, 'field.required').max(255, 'field.too_long') }).strict(),
], { error: 'field.invalid' });

/** The operator pays a pending withdrawal out (with the transfer's reference) or refuses it. */
export async function decideWithdrawal(deps: Deps, id: number, input: unknown, actor: { id: number; ip?: string }): Promise<Withdrawal> {
  const parsed = decisionInput.safeParse(input);
  if (!parsed.success) throw fromZod(parsed.error);
  const d = parsed.data;
  await transaction(deps.db, async (trx) => {
    const row = await trx('withdrawals').where('id', id).first('user_id', 'amount', 'status');
    if (!row) throw errors.notFound();
    const now = deps.now();
    const moved = affected(
      await trx('withdrawals')
        .where({ id, status: 'pending' })
        .update({ status: d.decision, payout_ref: d.decision === 'paid' ? d.payoutRef : null, reason: d.decision === 'rejected' ? d.reason : null, decided_by: actor.id, decided_at: now }),
    );
    if (!moved) throw new ShopError('invalid_state', 409, 'error.invalid_state', undefined, { status: row.status });
    const amount = Number(row.amount);
    const hold = await holdAccountId(deps, trx, row.user_id);
    const to = d.decision === 'paid' ? await systemAccountId(deps, trx, SYSTEM_ACCOUNTS.payouts) : await walletAccountId(deps, trx, row.user_id);
    const entries = [
      { accountId: hold, amount: -amount },
      { accountId: to, amount },
    ];
    const kind = d.decision === 'paid' ? 'payout' : 'withdrawal_refused';
    const memo = d.decision === 'paid' ? `payout ${d.payoutRef}` : d.reason;
    await postJournal(deps, trx, [{ id: `withdraw:${id}:${d.decision}`, kind, memo: memo.slice(0, 255), actorId: actor.id, entries }], new Set([hold]));
    await audit(deps, trx, { actorId: actor.id, action: `withdrawal.${d.decision}`, targetType: 'withdrawal', targetId: id, before: { status: 'pending' }, after: d, ip: actor.ip });
  });
  return getWithdrawal(deps, id);
}
