/**
 * @cardshop/plugin-risk: risk control (风控) on checkout and wallet top-up. Every attempt is
 * recorded with the decision and the rule that made it; each rule blocks, runs dry (records what it
 * would have blocked) or is off, from the plugin's settings in the admin.
 *
 * ```ts
 * import risk from '@cardshop/plugin-risk';
 * plugins: [risk({ ipMaxOrders: 20, newAccountMode: 'dry-run', blockIps: ['203.0.113.0/24'] })]
 * ```
 *
 * Checkouts no rule refuses add up a review score from signals (a client without cookies, half a
 * velocity limit, one identity across many IPs, one browser for many contacts, a new account); at
 * `reviewScore` the order is taken but its delivery waits for an admin at /plugins/risk/review.
 */
import { definePlugin } from '@cardshop/core';
import { isAdmin, reviewRoutes } from './review.js';
import { evaluate, REASONS, type Attempt } from './rules.js';
import { settingsSchema } from './settings.js';
import { gatherFacts, listDecisions, migrations, recordAttempt, recordDecision } from './store.js';

export const VERSION = '0.1.0';

const risk = definePlugin({
  name: 'risk',
  version: VERSION,
  core: '>=0.1.0 <1.0.0',
  settings: settingsSchema,
  migrations,
  setup(ctx) {
    const s = ctx.settings;
    const blockedIds = new Set(s.blockIdNumbers.map((id) => ctx.kyc.fingerprint(id)));
    const fingerprintOf = async (userId: number) => (await ctx.kyc.status(userId)).fingerprint;

    const decide = async (a: Attempt) => {
      const now = Date.now();
      const id = await recordAttempt(ctx.db, a, now);
      const decision = evaluate(s, a, await gatherFacts(ctx.db, s, a, { id, now }, fingerprintOf), blockedIds);
      await recordDecision(ctx.db, id, decision);
      if (decision.flagged.length) ctx.log.info(`dry run: ${decision.flagged.join(', ')} would have refused or held ${a.kind} #${id}`);
      return { id, decision };
    };

    ctx.veto('before.checkout', async (p) => {
      const { id, decision } = await decide({
        kind: 'checkout',
        userId: p.buyer?.id ?? null,
        ip: p.ip,
        device: p.device,
        contact: p.contact?.trim().toLowerCase() || null,
        skuId: p.skuId,
        quantity: p.quantity,
        amount: p.amount,
        api: p.api,
      });
      if (decision.block) return REASONS[decision.block];
      // The admin reads this beside the order in the review queue.
      if (decision.hold) return { hold: `risk decision #${id}: score ${decision.score} (${decision.signals.join(', ')})` };
    });
    ctx.veto('before.topup', async (p) => {
      const { decision } = await decide({ kind: 'topup', userId: p.buyer.id, ip: p.ip, device: p.device, contact: null, skuId: null, quantity: 1, amount: p.amount });
      return decision.block ? REASONS[decision.block] : undefined;
    });

    ctx.routes((r) => {
      // For the admin: GET /plugins/risk/decisions?outcome=block&rule=ip&before=<id>
      r.get('/decisions', async (c) => {
        if (!isAdmin(c)) return;
        const q = c.query as Record<string, string | undefined>;
        const before = Number(q.before);
        c.body = { decisions: await listDecisions(ctx.db, { outcome: q.outcome, rule: q.rule, beforeId: Number.isInteger(before) ? before : undefined }) };
      });
      reviewRoutes(r, ctx.orders);
    });
  },
});

export default risk;
export { evaluate, ipListed, REASONS, RULES, score, SIGNALS, type Attempt, type Decision, type Facts, type Rule, type Signal } from './rules.js';
export { listDecisions, type DecisionView } from './store.js';
export { settingsSchema, type RiskSettings, type RiskSettingsInput } from './settings.js';
