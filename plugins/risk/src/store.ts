import type { Knex } from 'knex';
import type { PluginMigration } from '@cardshop/core';
import { modeOf, type Attempt, type Decision, type Facts, type Rule, type Signal } from './rules.js';
import type { RiskSettings } from './settings.js';

export const migrations: PluginMigration[] = [
  {
    name: '20261203_001_risk_decisions',
    async up(knex) {
      if (await knex.schema.hasTable('risk_decisions')) return;
      await knex.schema.createTable('risk_decisions', (t) => {
        t.bigIncrements('id');
        t.string('kind', 8).notNullable(); // checkout | topup
        t.integer('user_id').unsigned();
        t.string('ip', 64);
        t.string('device', 32);
        t.string('contact', 120);
        t.integer('sku_id').unsigned();
        t.integer('quantity').notNullable();
        t.bigInteger('amount').notNullable();
        t.string('outcome', 8).notNullable(); // pending (being decided) | allow | block
        t.string('rule', 16); // the rule that blocked
        t.string('flagged', 120); // rules in dry-run that would have blocked, comma-separated
        t.bigInteger('created_at').notNullable();
        t.index(['ip', 'created_at']);
        t.index(['device', 'created_at']);
        t.index(['contact', 'created_at']);
        t.index(['user_id', 'created_at']);
        t.index(['created_at']);
      });
    },
    async down(knex) {
      await knex.schema.dropTableIfExists('risk_decisions');
    },
  },
  {
    // The review score: what each checkout scored and the signals it showed (outcome `hold`).
    name: '20261203_002_risk_score',
    async up(knex) {
      if (await knex.schema.hasColumn('risk_decisions', 'score')) return;
      await knex.schema.alterTable('risk_decisions', (t) => {
        t.integer('score');
        t.string('signals', 120);
        t.index(['outcome', 'id']);
      });
    },
    async down(knex) {
      await knex.schema.alterTable('risk_decisions', (t) => {
        t.dropIndex(['outcome', 'id']);
        t.dropColumn('score');
        t.dropColumn('signals');
      });
    },
  },
];

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/**
 * Writes the attempt first, as `pending`, and counts with it: each attempt counts the ones with a
 * lower id, so a burst of parallel attempts is decided as if they came one after another, and the
 * tenth of ten simultaneous requests sees the nine before it.
 */
export async function recordAttempt(db: Knex, a: Attempt, now: number): Promise<number> {
  const [id] = await db('risk_decisions').insert({
    kind: a.kind,
    user_id: a.userId,
    ip: a.ip?.slice(0, 64) ?? null,
    device: a.device,
    contact: a.contact?.slice(0, 120) ?? null,
    sku_id: a.skuId,
    quantity: a.quantity,
    amount: a.amount,
    outcome: 'pending',
    created_at: now,
  });
  return Number(id);
}

/** Gathers what the enabled rules and the score need, in parallel; a rule that is off costs no query. */
export async function gatherFacts(
  db: Knex,
  s: RiskSettings,
  a: Attempt,
  at: { id: number; now: number },
  kycFingerprint: (userId: number) => Promise<string | null>,
): Promise<Facts> {
  // The review score reads the same counts as the rules, and a few of its own.
  const review = s.reviewMode !== 'off' && a.kind === 'checkout';
  const on = (rule: Rule) => modeOf(s, rule) !== 'off';
  /** The counts of the velocity and new-account rules: wanted by the rule, or by the score. */
  const counts = (rule: Rule) => on(rule) || review;
  const upTo = () => db('risk_decisions').where('id', '<=', at.id);
  const since = (q: Knex.QueryBuilder, windowMinutes: number) => q.andWhere('created_at', '>=', at.now - windowMinutes * MINUTE);
  const counted = async (q: Knex.QueryBuilder) => Number(((await q) as Array<{ n: number | string }>)[0]?.n ?? 0);
  const attempts = (column: string, value: string | number | null, windowMinutes: number, wanted: boolean) =>
    wanted && value !== null ? counted(since(upTo().where(column, value), windowMinutes).count({ n: '*' })) : Promise.resolve(0);
  /** Distinct IPs or contacts of the attempts sharing `value`. */
  const distinct = (column: string, value: string | number | null, of: string, windowMinutes: number, wanted: boolean) =>
    wanted && value !== null ? counted(since(upTo().where(column, value), windowMinutes).countDistinct({ n: of })) : Promise.resolve(0);
  const accepted = () => db('risk_decisions').where('id', '<', at.id).andWhere('user_id', a.userId!).andWhereNot('outcome', 'block');

  const user = a.userId !== null;
  const newAccount = user && counts('new-account') && a.kind === 'checkout';
  const [ipAttempts, deviceAttempts, contactAttempts, contactIps, userAttempts, userDailyAmount, account, userOrders, idFingerprint, deviceIps, userIps, deviceContacts] = await Promise.all([
    attempts('ip', a.ip, s.ipWindowMinutes, counts('ip')),
    attempts('device', a.device, s.deviceWindowMinutes, counts('device')),
    attempts('contact', a.contact, s.contactWindowMinutes, counts('contact')),
    distinct('contact', a.contact, 'ip', s.contactWindowMinutes, counts('contact')),
    attempts('user_id', a.userId, s.userWindowMinutes, counts('user')),
    user && on('daily')
      ? db('risk_decisions')
          .where('id', '<', at.id)
          .andWhere({ user_id: a.userId, kind: a.kind })
          .andWhereNot('outcome', 'block')
          .andWhere('created_at', '>=', at.now - DAY)
          .sum({ n: 'amount' })
          .then((rows) => Number(rows[0]?.n ?? 0))
      : Promise.resolve(0),
    // Account age is the core's: read from its users table, the one core table this plugin reads.
    newAccount ? db('users').where('id', a.userId!).first('created_at') : Promise.resolve(undefined),
    newAccount ? counted(accepted().andWhere('kind', 'checkout').count({ n: '*' })) : Promise.resolve(0),
    user && on('blacklist') ? kycFingerprint(a.userId!) : Promise.resolve(null),
    distinct('device', a.device, 'ip', s.deviceWindowMinutes, review),
    distinct('user_id', a.userId, 'ip', s.userWindowMinutes, review),
    distinct('device', a.device, 'contact', s.deviceWindowMinutes, review),
  ]);
  return {
    ipAttempts,
    deviceAttempts,
    contactAttempts,
    contactIps,
    userAttempts,
    userDailyAmount,
    accountAgeMs: account ? at.now - Number(account.created_at) : null,
    userOrders,
    idFingerprint,
    deviceIps,
    userIps,
    deviceContacts,
  };
}

export async function recordDecision(db: Knex, id: number, decision: Decision): Promise<void> {
  await db('risk_decisions')
    .where('id', id)
    .update({
      outcome: decision.block ? 'block' : decision.hold ? 'hold' : 'allow',
      rule: decision.block,
      flagged: decision.flagged.join(',') || null,
      score: decision.score,
      signals: decision.signals.join(',') || null,
    });
}

export interface DecisionView {
  id: number;
  kind: 'checkout' | 'topup';
  userId: number | null;
  ip: string | null;
  device: string | null;
  contact: string | null;
  skuId: number | null;
  quantity: number;
  amount: number;
  outcome: 'pending' | 'allow' | 'block' | 'hold';
  rule: Rule | null;
  flagged: Array<Rule | 'review'>;
  score: number | null;
  signals: Signal[];
  createdAt: number;
}

/** Newest first, filtered by outcome or by a rule that blocked or was flagged. */
export async function listDecisions(db: Knex, filter: { outcome?: string; rule?: string; beforeId?: number; limit?: number } = {}): Promise<DecisionView[]> {
  const q = db('risk_decisions').orderBy('id', 'desc').limit(Math.min(filter.limit ?? 100, 500));
  if (filter.outcome) q.where('outcome', filter.outcome);
  if (filter.rule) q.where((w) => w.where('rule', filter.rule!).orWhere('flagged', 'like', `%${filter.rule}%`));
  if (filter.beforeId) q.where('id', '<', filter.beforeId);
  const rows: Array<Record<string, unknown>> = await q;
  return rows.map((r) => ({
    id: Number(r.id),
    kind: r.kind as DecisionView['kind'],
    userId: r.user_id === null ? null : Number(r.user_id),
    ip: r.ip as string | null,
    device: r.device as string | null,
    contact: r.contact as string | null,
    skuId: r.sku_id === null ? null : Number(r.sku_id),
    quantity: Number(r.quantity),
    amount: Number(r.amount),
    outcome: r.outcome as DecisionView['outcome'],
    rule: r.rule as Rule | null,
    flagged: r.flagged ? (String(r.flagged).split(',') as DecisionView['flagged']) : [],
    score: r.score === null || r.score === undefined ? null : Number(r.score),
    signals: r.signals ? (String(r.signals).split(',') as Signal[]) : [],
    createdAt: Number(r.created_at),
  }));
}
