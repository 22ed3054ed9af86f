/**
 * Messages the core itself produces (errors, CLI output). Themes carry their own page texts in
 * locales/<lang>.json; both go through the same lookup so zh-CN is the default everywhere.
 */
export const LOCALES = ['zh-CN', 'en'] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = 'zh-CN';

const zh = {
  'error.validation_failed': '提交的内容有误，请检查标出的字段',
  'error.not_found': '找不到该页面或资源',
  'error.order_not_found': '找不到该订单',
  'error.sku_not_found': '找不到该商品规格',
  'error.unauthorized': '请先登录',
  'error.forbidden': '没有权限执行此操作',
  'error.csrf': '页面已过期，请刷新后重试',
  'error.out_of_stock': '库存不足，当前可售 {available} 件',
  'error.insufficient_balance': '余额不足',
  'error.price_changed': '价格刚刚调整，请刷新后确认新价格',
  'error.vetoed': '该操作被拒绝：{reason}',
  'error.gateway_unavailable': '支付通道暂时不可用，请换一种支付方式或稍后再试',
  'error.refund_pending': '退款已提交给支付通道，正在处理，请稍后再试',
  'error.refund_failed': '支付通道拒绝了退款：{reason}',
  'error.invalid_state': '订单当前状态（{status}）不允许此操作',
  'error.email_taken': '该邮箱已注册',
  'error.invalid_credentials': '邮箱或密码错误',
  'error.account_disabled': '账号已被停用',
  'error.payload_too_large': '提交的内容过大',
  'error.unsupported_media_type': '请以 JSON 提交',
  'error.bad_json': '请求体不是合法的 JSON',
  'error.payment_unsupported': '不支持该支付方式',
  'error.guest_wallet': '余额支付需要先登录',
  'error.busy': '系统繁忙，请稍后重试',
  'error.internal': '服务器内部错误',
  'field.required': '必填',
  'field.invalid': '格式不正确',
  'field.too_long': '内容过长',
  'field.integer': '必须是整数',
  'field.min': '不能小于 {min}',
  'field.max': '不能大于 {max}',
  'field.email': '请输入有效的邮箱地址',
  'field.password_short': '密码至少 8 位',
  'field.pattern': '格式不符合要求',
  'field.unknown': '不是可识别的字段',
  'field.contact': '请填写邮箱或手机号',
  'page.login': '登录',
  'page.register': '注册',
  'page.query': '订单查询',
  'page.account': '我的账户',
} as const;

export type MessageKey = keyof typeof zh;

const en: Record<MessageKey, string> = {
  'error.validation_failed': 'Some fields are not right; please check them',
  'error.not_found': 'That page or resource does not exist',
  'error.order_not_found': 'Order not found',
  'error.sku_not_found': 'No such product option',
  'error.unauthorized': 'Please log in first',
  'error.forbidden': 'You are not allowed to do that',
  'error.csrf': 'This page has expired; reload it and try again',
  'error.out_of_stock': 'Not enough stock: {available} available',
  'error.insufficient_balance': 'Insufficient balance',
  'error.price_changed': 'The price has just changed; reload to see the new price',
  'error.vetoed': 'Refused: {reason}',
  'error.gateway_unavailable': 'The payment service is unavailable; try another way to pay or try again later',
  'error.refund_pending': 'The refund is being processed by the payment service; try again later',
  'error.refund_failed': 'The payment service refused the refund: {reason}',
  'error.invalid_state': 'Not allowed while the order is {status}',
  'error.email_taken': 'That e-mail is already registered',
  'error.invalid_credentials': 'Wrong e-mail or password',
  'error.account_disabled': 'This account is disabled',
  'error.payload_too_large': 'The request body is too large',
  'error.unsupported_media_type': 'Send the request body as JSON',
  'error.bad_json': 'The request body is not valid JSON',
  'error.payment_unsupported': 'That payment method is not available',
  'error.guest_wallet': 'Log in to pay with your balance',
  'error.busy': 'The shop is busy; please try again',
  'error.internal': 'Internal server error',
  'field.required': 'Required',
  'field.invalid': 'Invalid value',
  'field.too_long': 'Too long',
  'field.integer': 'Must be a whole number',
  'field.min': 'Must be at least {min}',
  'field.max': 'Must be at most {max}',
  'field.email': 'Enter a valid e-mail address',
  'field.password_short': 'At least 8 characters',
  'field.pattern': 'Does not match the required format',
  'field.unknown': 'Unknown field',
  'field.contact': 'Enter an e-mail address or phone number',
  'page.login': 'Log in',
  'page.register': 'Register',
  'page.query': 'Find an order',
  'page.account': 'My account',
};

const CATALOG: Record<Locale, Record<string, string>> = { 'zh-CN': zh, en };

export function isLocale(x: unknown): x is Locale {
  return typeof x === 'string' && (LOCALES as readonly string[]).includes(x);
}

/** Picks a supported locale from an Accept-Language header. */
export function negotiateLocale(header: string | undefined): Locale {
  for (const part of (header ?? '').split(',')) {
    const tag = part.split(';')[0]!.trim().toLowerCase();
    if (tag.startsWith('zh')) return 'zh-CN';
    if (tag.startsWith('en')) return 'en';
  }
  return DEFAULT_LOCALE;
}

export function interpolate(text: string, params?: Record<string, unknown>): string {
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (all, name: string) => (name in params ? String(params[name]) : all));
}

/** Translates a core message key; unknown keys come back unchanged (they may already be text). */
export function translate(locale: Locale, key: string, params?: Record<string, unknown>): string {
  return interpolate(CATALOG[locale][key] ?? CATALOG[DEFAULT_LOCALE][key] ?? key, params);
}
