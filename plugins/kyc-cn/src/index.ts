/**
 * @cardshop/plugin-kyc-cn: real-name verification (实名认证) against the common 二要素/三要素 APIs,
 * and the operator's rules for what needs a verified identity.
 *
 * ```ts
 * import kycCn from '@cardshop/plugin-kyc-cn';
 * plugins: [kycCn({ apiUrl: 'https://idcard.market.example.com/check', appCode: process.env.KYC_APPCODE!, requireAboveTopup: 100_000 })]
 * ```
 */
import { definePlugin, formatMoney, type User } from '@cardshop/core';
import { createKycProvider } from './provider.js';
import { settingsSchema } from './settings.js';

export const VERSION = '0.1.0';

const VERIFY_FIRST = { 'zh-CN': '请先完成实名认证（我的账户 → 实名认证）', en: 'Verify your identity first (My account → Identity verification)' };

const kycCn = definePlugin({
  name: 'kyc-cn',
  version: VERSION,
  core: '>=0.1.0 <1.0.0',
  settings: settingsSchema,
  setup(ctx) {
    const s = ctx.settings;
    ctx.kycProvider(createKycProvider(s, ctx.log));
    const verified = async (user: User) => (await ctx.kyc.status(user.id)).status === 'verified';
    const gate = (required: boolean) => async ({ user }: { user: User }) => (required && !(await verified(user)) ? VERIFY_FIRST : undefined);
    ctx.veto('before.agent.upgrade', gate(s.requireForAgent));
    ctx.veto('before.site.open', gate(s.requireForSite));
    ctx.veto('before.withdraw', gate(s.requireForWithdraw));
    if (s.requireAboveTopup > 0) {
      ctx.veto('before.topup', async ({ buyer, amount }) => {
        if (amount < s.requireAboveTopup || (await verified(buyer))) return undefined;
        const limit = formatMoney(s.requireAboveTopup);
        return { 'zh-CN': `单笔充值 ${limit} 及以上需先完成实名认证`, en: `Top-ups of ${limit} or more need a verified identity first` };
      });
    }
    ctx.log.info(`kyc-cn: ${new URL(s.apiUrl).host}, auth ${s.auth}${s.requirePhone ? ', three factors' : ''}`);
  },
});

export default kycCn;
export { createKycProvider, buildRequest } from './provider.js';
export { idCardProblem, checkCharacter } from './id-card.js';
export { sign, signString } from './sign.js';
export { settingsSchema, type KycCnSettings, type KycCnSettingsInput } from './settings.js';
