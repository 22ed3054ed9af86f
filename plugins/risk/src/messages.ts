/** The review page's words, in the shop's two languages. */
export type Locale = 'zh-CN' | 'en';

const MESSAGES = {
  'zh-CN': {
    title: '风控审核',
    intro: '以下订单已付款，因风险评分达到阈值暂停发货。通过后立即发货；拒绝后订单退款，不会发货。',
    console: '控制台',
    order: '订单',
    goods: '商品与金额',
    buyer: '买家',
    why: '原因',
    approve: '通过',
    reject: '拒绝并退款',
    reason: '退款原因（买家可见）',
    default_reason: '订单未通过审核，已退款',
    empty: '没有待审核的订单。',
    approved: '订单 {no} 已通过，正在发货。',
    rejected: '订单 {no} 已拒绝，正在退款。',
    not_held: '订单 {no} 不在审核中（可能已被处理）。',
    reason_required: '请填写退款原因。',
  },
  en: {
    title: 'Risk review',
    intro: 'These orders are paid, but their risk score held their delivery. Approving delivers at once; rejecting refunds the order, which is never delivered.',
    console: 'Console',
    order: 'Order',
    goods: 'Goods and amount',
    buyer: 'Buyer',
    why: 'Why',
    approve: 'Approve',
    reject: 'Reject and refund',
    reason: 'Reason (the buyer reads it)',
    default_reason: 'Not approved in review; refunded',
    empty: 'No orders are waiting for review.',
    approved: 'Order {no} approved; it is being delivered.',
    rejected: 'Order {no} rejected; it is being refunded.',
    not_held: 'Order {no} is not waiting for review (decided already?).',
    reason_required: 'Give a reason for the refund.',
  },
} as const;

export type MessageKey = keyof (typeof MESSAGES)['en'];

export function text(locale: Locale, key: MessageKey, params: Record<string, string> = {}): string {
  const s: string = (MESSAGES[locale] ?? MESSAGES.en)[key];
  return s.replace(/\{(\w+)\}/g, (_, name: string) => params[name] ?? '');
}
