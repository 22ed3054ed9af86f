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
 * Holding an order for review (a score that queues delivery until an admin approves) waits for the
 * delivery engine's hold; today a rule blocks or lets through.
 */
import { definePlugin, type VetoReason } from '@cardshop/core';
import { evaluate, REASONS, type Attempt } from './rules.js';
import { settingsSchema } from './settings.js';
import { gatherFacts, listDecisions, migrations, recordAttempt, recordDecision } from './store.js';

export const VERSION = '0.1.0';

const risk = definePlugin({
  name: 'risk',
  version: VERSION,
  core: '^0.1.0',
  settings: settingsSchema,
  migrations,
  setup(ctx) {
    const s = ctx.settings;
    const blockedIds = new Set(s.blockIdNumbers.map((id) => ctx.kyc.fingerprint(id)));
    const fingerprintOf = async (userId: number) => (await ctx.kyc.status(userId)).fingerprint;

    const decide = async (a: Attempt): Promise<VetoReason | undefined> => {
      const now = Date.now();
      const id = await recordAttempt(ctx.db, a, now);
      const decision = evaluate(s, a, await gatherFacts(ctx.db, s, a, { id, now }, fingerprintOf), blockedIds);
      await recordDecision(ctx.db, id, decision);
      if (decision.flagged.length) ctx.log.info(`dry run: ${decision.flagged.join(', ')} would have refused ${a.kind} #${id}`);
      return decision.block ? REASONS[decision.block] : undefined;
    };

    ctx.veto('before.checkout', (p) =>
      decide({
        kind: 'checkout',
        userId: p.buyer?.id ?? null,
        ip: p.ip,
        device: p.device,
        contact: p.contact?.trim().toLowerCase() || null,
        skuId: p.skuId,
        quantity: p.quantity,
        amount: p.amount,
      }),
    );
    ctx.veto('before.topup', (p) =>
      decide({ kind: 'topup', userId: p.buyer.id, ip: p.ip, device: p.device, contact: null, skuId: null, quantity: 1, amount: p.amount }),
    );

    // For the admin: GET /plugins/risk/decisions?outcome=block&rule=ip&before=<id>
    ctx.routes((r) => {
      r.get('/decisions', async (c) => {
        if (c.state.user?.role !== 'admin') {
          c.status = c.state.user ? 403 : 401;
          c.body = { error: { code: c.state.user ? 'forbidden' : 'unauthorized' } };
          return;
        }
        const q = c.query as Record<string, string | undefined>;
        const before = Number(q.before);
        c.body = { decisions: await listDecisions(ctx.db, { outcome: q.outcome, rule: q.rule, beforeId: Number.isInteger(before) ? before : undefined }) };
      });
    });
  },
});

export default risk;
export { evaluate, ipListed, REASONS, RULES, type Attempt, type Facts, type Rule } from './rules.js';
export { listDecisions, type DecisionView } from './store.js';
export { settingsSchema, type RiskSettings, type RiskSettingsInput } from './settings.js';
