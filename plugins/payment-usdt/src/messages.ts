/** The console page's words, in the shop's two languages. */
export type Locale = 'zh-CN' | 'en';

const MESSAGES = {
  'zh-CN': {
    title: 'USDT 收款',
    intro: '链上读取到的转账及其去向。待处理的转账需要管理员决定：在订单的支付页面手动补单（交易号填转账哈希），或者不处理。',
    console: '控制台',
    scan: '立即读取链上转账',
    scanned: '已读取，共看到 {n} 笔转账。',
    addresses: '收款地址',
    review: '待处理',
    recent: '最近的转账',
    open: '等待付款的订单',
    empty: '没有。',
    time: '区块时间',
    tx: '交易',
    from: '付款地址',
    amount: '金额',
    order: '订单',
    outcome: '情况',
    action: '处理',
    expires: '截止',
    'outcome.paid': '按时足额',
    'outcome.late': '超时到账',
    'outcome.short': '少付',
    'outcome.over': '多付',
    'outcome.extra': '重复付款',
    'outcome.unmatched': '无法匹配',
    'action.paid': '已确认收款',
    'action.kept': '已存入买家余额（游客：待退款）',
    'action.review': '待管理员处理',
    'action.closed': '订单已另行付款（补单或另一笔转账）',
    unsettled: '（处理中）',
  },
  en: {
    title: 'USDT payments',
    intro: 'Transfers read from the chain and what became of them. Those waiting for review need an admin: confirm the order by hand on its payment page (the transfer hash as the trade number), or leave it.',
    console: 'Console',
    scan: 'Read the chain now',
    scanned: 'Read: {n} transfers seen.',
    addresses: 'Receiving addresses',
    review: 'Waiting for review',
    recent: 'Recent transfers',
    open: 'Orders waiting for payment',
    empty: 'None.',
    time: 'Block time',
    tx: 'Transaction',
    from: 'From',
    amount: 'Amount',
    order: 'Order',
    outcome: 'What came',
    action: 'Done',
    expires: 'Pay by',
    'outcome.paid': 'in time, exact',
    'outcome.late': 'after the window',
    'outcome.short': 'short',
    'outcome.over': 'over',
    'outcome.extra': 'paid twice',
    'outcome.unmatched': 'no order',
    'action.paid': 'payment confirmed',
    'action.kept': 'kept in the buyer\'s balance (a guest: refund due)',
    'action.review': 'waiting for an admin',
    'action.closed': 'its order was paid since (by hand or another transfer)',
    unsettled: '(in progress)',
  },
} as const;

export type MessageKey = keyof (typeof MESSAGES)['en'];

export function text(locale: Locale, key: MessageKey, params: Record<string, string | number> = {}): string {
  const table = MESSAGES[locale] ?? MESSAGES['zh-CN'];
  return table[key].replace(/\{(\w+)\}/g, (_, k: string) => String(params[k] ?? `{${k}}`));
}
