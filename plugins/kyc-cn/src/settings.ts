import { Secret } from '@cardshop/core';
import { z } from 'zod';

/** A request or response field name: letters, digits, `_`, `.` (a path into the answer), `-`. */
const fieldName = z.string().trim().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/, 'a field name such as idcard or result.res');

const secret = (what: string) =>
  z
    .string()
    .trim()
    .min(1, `required: ${what}`)
    .transform((v) => new Secret(v))
    .meta({ secret: true })
    .optional();

const values = (defaults: string[]) => z.array(z.string().trim().min(1)).default(defaults);

/**
 * One HTTP verification API of the common 二要素 (name + ID number) or 三要素 (+ phone) kind, as
 * sold on the Aliyun and Tencent Cloud markets and by the verification vendors: where to send the
 * person, how the request is authenticated, and where the answer says match or not. Then the
 * operator's rules: what needs a verified identity.
 */
export const settingsSchema = z
  .object({
    apiUrl: z.url({ protocol: /^https?$/, error: 'required: the verification API address, e.g. https://idcert.market.example.com/idcard' }).describe('verification API address / 接口地址'),
    method: z.enum(['get', 'form', 'json']).default('get').describe('request: GET query, POST form or POST JSON / 请求方式'),
    auth: z.enum(['appcode', 'md5', 'hmac-sha256']).default('appcode').describe('authentication: AppCode header, or MD5 / HMAC-SHA256 signature / 鉴权方式'),
    appCode: secret('the AppCode of your API subscription').describe('AppCode (auth appcode) / 云市场 AppCode'),
    appId: z.string().trim().max(64).optional().describe('app id, sent in appIdField (auth md5, hmac-sha256) / 应用 ID'),
    appSecret: secret('the app secret the requests are signed with').describe('app secret (auth md5, hmac-sha256) / 应用密钥'),
    appIdField: fieldName.default('appid'),
    timestampField: fieldName.default('timestamp'),
    nonceField: fieldName.default('nonce'),
    signField: fieldName.default('sign'),
    signCase: z.enum(['lower', 'upper']).default('lower').describe('signature hex case / 签名大小写'),
    nameField: fieldName.default('name'),
    idField: fieldName.default('idcard'),
    phoneField: fieldName.default('mobile'),
    requirePhone: z.boolean().default(false).describe('three factors: a phone number is required / 三要素（必须填写手机号）'),
    resultPath: fieldName.default('result.res').describe('where the answer says the outcome / 结果字段'),
    verifiedValues: values(['1']).describe('outcome values meaning "match" / 一致'),
    mismatchValues: values(['2']).describe('outcome values meaning "does not match" / 不一致'),
    noRecordValues: values(['3']).describe('outcome values meaning "no such ID number" / 无记录'),
    messagePath: fieldName.default('message').describe('where the answer explains itself / 说明字段'),
    timeoutMs: z.number().int().min(1000).max(60_000).default(10_000),
    requireForAgent: z.boolean().default(true).describe('verified identity required to become an agent / 成为代理需实名'),
    requireForSite: z.boolean().default(true).describe('verified identity required to open a sub-shop / 开分站需实名'),
    requireForWithdraw: z.boolean().default(true).describe('verified identity required to withdraw / 提现需实名'),
    requireAboveTopup: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe('verified identity required for a top-up of this many fen or more; 0: never / 单笔充值达到此金额（分）需实名，0 为不限'),
  })
  .superRefine((s, ctx) => {
    if (s.auth === 'appcode' && !s.appCode) ctx.addIssue({ code: 'custom', path: ['appCode'], message: 'required with auth "appcode": the AppCode of your API subscription' });
    if (s.auth !== 'appcode' && !s.appSecret) ctx.addIssue({ code: 'custom', path: ['appSecret'], message: `required with auth "${s.auth}": the app secret the requests are signed with` });
  });

export type KycCnSettingsInput = z.input<typeof settingsSchema>;
export type KycCnSettings = z.output<typeof settingsSchema>;
