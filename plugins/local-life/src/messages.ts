/** The plugin's words for buyers, store staff and API errors, in the shop's two languages. */
export type Locale = 'zh-CN' | 'en';

const MESSAGES = {
  'zh-CN': {
    voucher: '到店券',
    code: '券码',
    show_qr: '到店出示二维码，或报券码',
    store: '适用门店',
    valid: '有效期',
    valid_range: '{from} 至 {until}',
    uses: '可用次数',
    uses_left: '剩余 {left} / 共 {total} 次',
    rules: '使用规则',
    history: '使用记录',
    used_times: '{at} 使用 {uses} 次',
    page_link: '券页面',
    state_usable: '可使用',
    state_used_up: '已用完',
    state_expired: '已过期',
    state_not_yet_valid: '尚未生效',
    state_void: '已作废（订单已退款）',
    refund_rule_yes: '过期未使用自动退款',
    refund_rule_no: '过期不退',
    staff_title: '门店核销',
    merchant: '门店代码',
    pin: '店员 PIN',
    sign_in: '登录',
    sign_out: '退出',
    signed_in_as: '{staff} · {store}',
    enter_code: '输入券码，或用手机相机扫描顾客的二维码',
    look_up: '查询',
    redeem_uses: '本次使用次数',
    redeem: '确认核销',
    redeemed: '已核销 {uses} 次，剩余 {left} 次。',
    not_found: '找不到这张券（或不是本店的券）。',
    used_up: '这张券已经用完了。',
    insufficient_uses: '剩余次数不足。',
    expired: '这张券已过期。',
    not_yet_valid: '这张券尚未生效。',
    void: '这张券已作废（订单已退款）。',
    bad_pin: '门店代码或 PIN 不正确。',
    too_many_tries: '尝试次数过多，请稍后再试。',
    validation_failed: '请检查填写的内容。',
    merchant_exists: '门店代码已存在。',
    csrf_failed: '页面已过期，请刷新后重试。',
  },
  en: {
    voucher: 'Voucher',
    code: 'Code',
    show_qr: 'Show the QR code at the store, or tell them the code',
    store: 'Store',
    valid: 'Valid',
    valid_range: '{from} to {until}',
    uses: 'Uses',
    uses_left: '{left} of {total} left',
    rules: 'Rules',
    history: 'Used',
    used_times: '{at}: {uses} used',
    page_link: 'Voucher page',
    state_usable: 'Ready to use',
    state_used_up: 'Used up',
    state_expired: 'Expired',
    state_not_yet_valid: 'Not valid yet',
    state_void: 'Void (the order was refunded)',
    refund_rule_yes: 'refunded if it expires unused',
    refund_rule_no: 'not refunded when it expires',
    staff_title: 'Redeem vouchers',
    merchant: 'Store code',
    pin: 'Staff PIN',
    sign_in: 'Sign in',
    sign_out: 'Sign out',
    signed_in_as: '{staff} · {store}',
    enter_code: 'Type the code, or scan the customer\'s QR code with the phone\'s camera',
    look_up: 'Look up',
    redeem_uses: 'Uses now',
    redeem: 'Redeem',
    redeemed: 'Redeemed {uses}; {left} left.',
    not_found: 'No such voucher (or not one of this store\'s).',
    used_up: 'This voucher is used up.',
    insufficient_uses: 'Not that many uses left.',
    expired: 'This voucher has expired.',
    not_yet_valid: 'This voucher is not valid yet.',
    void: 'This voucher is void (its order was refunded).',
    bad_pin: 'Wrong store code or PIN.',
    too_many_tries: 'Too many tries; please wait and try again.',
    validation_failed: 'Please check what you entered.',
    merchant_exists: 'That store code is taken.',
    csrf_failed: 'This page has expired; reload it and try again.',
  },
} as const;

export type MessageKey = keyof (typeof MESSAGES)['en'];

export const isLocale = (v: unknown): v is Locale => v === 'zh-CN' || v === 'en';

export function text(locale: Locale, key: MessageKey, params: Record<string, string | number> = {}): string {
  const s: string = (MESSAGES[locale] ?? MESSAGES.en)[key];
  return s.replace(/\{(\w+)\}/g, (_, name: string) => String(params[name] ?? ''));
}

/** A day as the stores count them (China time). */
export const dayOf = (ms: number, locale: Locale) => new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeZone: 'Asia/Shanghai' }).format(ms);
export const timeOf = (ms: number, locale: Locale) => new Intl.DateTimeFormat(locale, { dateStyle: 'short', timeStyle: 'short', timeZone: 'Asia/Shanghai' }).format(ms);
