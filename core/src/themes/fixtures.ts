import Handlebars from 'handlebars';
import { LOCALES, type Locale } from '../i18n/messages.js';
import type { TemplateName } from './renderer.js';

/**
 * Page data shaped as themes/README.md documents it, for `cardshop theme check` to render every
 * template with. Small, but every documented key is there, so a template that reads one works.
 */

const AT = Date.UTC(2025, 0, 15, 8, 30);

const phoneField = {
  name: 'phone',
  label: { 'zh-CN': '手机号', en: 'Phone number' },
  type: 'phone',
  required: true,
  pattern: '1[3-9][0-9]{9}',
  maxLength: 11,
  options: null,
  placeholder: '13800000000',
};

const skus = [
  {
    id: 1,
    code: 'GC-50',
    name: '50 元',
    price: 4_900,
    stock: 10,
    stockPlus: true,
    inStock: true,
    minQuantity: 1,
    maxQuantity: 10,
    tiers: [{ minQuantity: 5, percentOff: 200, price: 4_802 }],
    flash: { price: 4_500, startsAt: 1_764_547_200_000, endsAt: 1_764_633_600_000, left: 20, perBuyer: 2 },
    buyerLimit: { units: 3, per: 'day' },
  },
  { id: 2, code: 'GC-100', name: '100 元', price: 9_800, stock: 0, stockPlus: false, inStock: false, minQuantity: 1, maxQuantity: null, buyerLimit: { units: 1, per: 'ever' } },
];

const product = {
  id: 1,
  slug: 'gift-card',
  name: 'Gift card',
  description: 'Delivered as a card number and password right after payment.',
  imageUrl: null,
  type: 'card',
  fields: [phoneField],
  skus,
  priceFrom: 4_900,
  inStock: true,
};

const category = { id: 1, slug: 'cards', name: 'Gift cards', description: 'Prepaid cards.', imageUrl: null, products: [product] };

/** An order as `account` lists it: without its keys. */
const orderSummary = {
  no: 'CS20250115A1B2C3',
  status: 'delivered',
  title: 'Gift card - 50 元',
  quantity: 2,
  unitPrice: 5_000,
  amount: 9_800,
  coupon: 'WELCOME',
  discount: 200,
  payment: 'wallet',
  contact: 'buyer@example.com',
  fields: { phone: '13800000000' },
  createdAt: AT,
  paidAt: AT,
  deliveredAt: AT,
  reason: null,
  delivery: null,
};
/** A receipt as `receipt` and `verify-receipt` get it. */
const receipt = {
  shop: { name: 'Demo shop', url: 'https://shop.example.com' },
  no: orderSummary.no,
  title: orderSummary.title,
  quantity: 2,
  unitPrice: 5_000,
  amount: 9_800,
  coupon: 'WELCOME',
  discount: 200,
  currency: 'CNY',
  payment: 'wallet',
  status: 'delivered',
  createdAt: AT,
  paidAt: AT,
  deliveredAt: AT,
  code: '3F9A-12C0-77DE-A0B1-C2D3',
  verifyUrl: `https://shop.example.com/receipt/verify?no=${orderSummary.no}&code=3F9A-12C0-77DE-A0B1-C2D3`,
};
const order = { ...orderSummary, keys: [{ card: 'AAAA-1111-BBBB', password: 'pw-1' }, { card: 'CCCC-2222-DDDD' }] };

const user = { id: 7, email: 'buyer@example.com', role: 'customer', balance: 50_000 };

/** An article as lists show it, and as its page does (`html` is marked safe, as the shop sends it). */
const articleSummary = { id: 3, title: '春节发货安排', excerpt: '除夕至初三自动发货照常，人工订单顺延。', pinned: true, announcement: true, published: true, publishedAt: AT, updatedAt: AT };
const article = {
  ...articleSummary,
  siteId: null,
  format: 'markdown',
  body: '## 发货\n\n- 自动发货照常',
  html: new Handlebars.SafeString('<h2>发货</h2>\n<ul>\n<li>自动发货照常</li>\n</ul>\n'),
  createdAt: AT,
};

/** A bot-defence challenge as guests' checkout and registration forms get it (security/bot-defence.ts). */
const botCheck = {
  provider: 'pow',
  purpose: 'checkout',
  kind: 'pow',
  script: '/challenge/pow.js',
  token: 'p1.checkout.m5x2k1.18.c2FsdHNhbHQ.dGFndGFn',
  bits: 18,
  expiresAt: AT,
  fallback: { kind: 'captcha', token: 'c1.checkout.m5x2k1.c2FsdA.dGFn', image: 'data:image/svg+xml;base64,PHN2Zy8+' },
};

/** What each template receives on top of the common keys; guests differ where the README says so. */
const PAGES: Record<TemplateName, (signedIn: boolean) => Record<string, unknown>> = {
  home: (signedIn) => ({ path: '/', title: '', categories: [category], announcements: signedIn ? [articleSummary, { ...articleSummary, id: 2, pinned: false }] : [] }),
  category: () => ({ path: '/category/cards', title: category.name, category }),
  product: (signedIn) => ({ path: '/product/gift-card', title: product.name, product, defaultSku: 'GC-50', notify: signedIn }),
  checkout: (signedIn) => ({
    path: '/checkout',
    title: product.name,
    product,
    sku: skus[0],
    quantity: 2,
    unitPrice: 5_000,
    total: 9_800,
    // Signed in: a code applied; a guest: one refused.
    couponCode: 'WELCOME',
    coupon: signedIn ? { code: 'WELCOME', subtotal: 10_000, discount: 200, amount: 9_800, currency: 'CNY' } : null,
    values: { phone: '1380000' },
    contact: '',
    balance: signedIn ? user.balance : null,
    fieldRows: [{ ...phoneField, value: '1380000', error: 'Invalid format' }],
    gateways: [
      { id: 'epay', label: 'Alipay' },
      { id: 'stripe', label: 'Card' },
    ],
    errors: { quantity: 'At most 10', contact: 'Enter an e-mail or phone number', 'fields.phone': 'Invalid format', payment: 'Not available', challenge: 'The bot check expired', ...(signedIn ? {} : { coupon: 'This coupon has expired' }) },
    error: 'Some fields are not right',
    botCheck: signedIn ? null : botCheck,
  }),
  order: (signedIn) =>
    signedIn
      ? { path: `/order/${order.no}`, title: order.title, order, token: null, fieldLabels: { phone: 'Phone number' }, justPlaced: true }
      : {
          // a guest's unpaid order: how to pay, by QR code
          path: `/order/${order.no}`,
          title: order.title,
          order: { ...order, status: 'pending_payment', keys: [], payAction: { kind: 'qr', content: 'weixin://pay/1' }, expiresAt: AT, refundDue: false, backorder: false },
          payQr: 'data:image/png;base64,iVBORw0KGgo=',
          token: 'guest-token-123',
          fieldLabels: { phone: 'Phone number' },
          justPlaced: true,
        },
  query: (signedIn) => ({
    path: '/query',
    title: 'Find an order',
    no: order.no,
    error: 'Order not found',
    // The look-up by number or contact: its answer (orders found, a code sent, or why not).
    lookup: signedIn
      ? { q: 'buyer@example.com', codeSent: true, found: [{ no: order.no, title: order.title, status: 'delivered', amount: order.amount, createdAt: AT }] }
      : { q: order.no, error: 'No order matches' },
  }),
  account: () => ({
    path: '/account',
    title: 'My account',
    orders: [orderSummary, { ...orderSummary, no: 'CS20250115Z9Y8X7', status: 'paid', deliveredAt: null }],
    balance: user.balance,
    gateways: [{ id: 'epay', label: 'Alipay' }],
    topup: { amount: '0.5', errors: { amount: 'Must be at least 1.00' } },
    apiKeys: [{ key: 'ck_AbCdEfGhIjKlMnOp', label: 'downstream shop', createdAt: AT, lastUsedAt: AT, revokedAt: null }],
    newApiKey: { key: 'ck_QrStUvWxYz012345', secret: 'cs_secret-shown-once', label: null },
  }),
  login: () => ({
    path: '/login',
    title: 'Log in',
    values: { email: user.email },
    errors: { email: 'Enter a valid e-mail address', password: 'Required' },
    error: 'Wrong e-mail or password',
    next: '/account',
  }),
  register: () => ({
    path: '/register',
    title: 'Sign up',
    values: { email: user.email },
    errors: { email: 'Already registered', password: 'At least 8 characters', challenge: 'The bot check was used already' },
    error: 'Some fields are not right',
    botCheck: { ...botCheck, purpose: 'register' },
  }),
  error: () => ({ path: '/missing', title: 'Not found', status: 404, code: 'not_found', message: 'That page does not exist' }),
  kyc: (signedIn) => ({
    path: '/account/kyc',
    title: 'Identity verification',
    // signed in: verified; the other case shows the form after a rejection, with errors
    kyc: signedIn
      ? { status: 'verified', name: '*三', idNumber: '1*************002X', phone: null, provider: 'kyc-cn', reason: null, verifiedAt: AT }
      : { status: 'rejected', name: '*三', idNumber: '1*************002X', phone: '138****0000', provider: 'kyc-cn', reason: 'mismatch', verifiedAt: null },
    offered: true,
    rejection: signedIn ? null : 'The name does not match the ID number',
    values: { name: '张三', phone: '13800000000' },
    errors: signedIn ? {} : { idNumber: 'The check digit of this ID number is wrong' },
    error: signedIn ? null : 'Some fields are not right',
  }),
  receipt: (signedIn) => ({ path: `/order/${order.no}/receipt`, title: 'Receipt', receipt: signedIn ? receipt : { ...receipt, status: 'refunded' }, verifyQr: 'data:image/png;base64,iVBORw0KGgo=', token: signedIn ? null : 'guest-token-123' }),
  agent: agentPage,
  search: (signedIn) => ({ path: '/search', title: 'Search', search: signedIn ? { q: 'gift', products: [product], error: null } : { q: '', products: [], error: 'Too long' } }),
  articles: (signedIn) => ({ path: '/articles', title: 'Articles', articles: signedIn ? [articleSummary, { ...articleSummary, id: 2, pinned: false, announcement: false }] : [], page: 1, pages: signedIn ? 2 : 1, total: signedIn ? 21 : 0 }),
  article: () => ({ path: '/articles/3', title: article.title, article }),
  // The subscribe form (a guest's, with an error), and a signed-in buyer's answer.
  notify: (signedIn) => ({
    path: '/notify',
    title: 'E-mail notices',
    notify: signedIn ? { product, sku: skus[1], kind: 'price', email: 'me@example.com', done: true, price: 9_800 } : { product, sku: skus[1], kind: 'stock', email: 'me@', done: false },
    errors: signedIn ? {} : { email: 'Enter a valid e-mail address' },
    error: signedIn ? null : 'Some fields are not right',
  }),
  'verify-receipt': (signedIn) => ({
    path: '/receipt/verify',
    title: 'Verify a receipt',
    no: order.no,
    code: receipt.code,
    checked: true,
    valid: signedIn,
    receipt: signedIn ? receipt : null,
  }),
};

/** The agent centre: an agent with a downline, markups and a sub-shop; else a customer's offer to join. */
function agentPage(isAgent: boolean): Record<string, unknown> {
  const base = {
    path: '/agent',
    title: 'Agent centre',
    balance: user.balance,
    level: { code: 'silver', name: 'Silver' },
    levels: [
      { code: 'member', name: 'Member', upgradeSpend: null, upgradePrice: null, current: false, buyable: false },
      { code: 'silver', name: 'Silver', upgradeSpend: 100_000, upgradePrice: null, current: true, buyable: false },
      { code: 'gold', name: 'Gold', upgradeSpend: 500_000, upgradePrice: 29_900, current: false, buyable: true },
    ],
    wallet: [
      { id: 3, amount: 700, kind: 'purchase', memo: null, orderNo: order.no, createdAt: AT },
      { id: 2, amount: -9_800, kind: 'purchase', memo: null, orderNo: 'CS20250115Z9Y8X7', createdAt: AT },
      { id: 1, amount: 150, kind: 'rebate', memo: 'rebate 2025-01', orderNo: null, createdAt: AT },
    ],
    withdrawals: [
      { id: 2, amount: 10_000, method: 'alipay', payee: 'abc***com', status: 'pending', reason: null, createdAt: AT },
      { id: 1, amount: 5_000, method: 'bank', payee: '招商银***张三', status: 'rejected', reason: 'name does not match', createdAt: AT },
    ],
    withdraw: { amount: isAgent ? '' : '0.5', method: 'alipay', payee: '' },
    methods: ['alipay', 'wechat', 'bank'],
    isAgent,
    form: isAgent ? 'markups' : null,
    saved: isAgent ? null : 'join',
    errors: isAgent ? { 'markups.0.value': 'A markup cannot be negative' } : {},
    error: isAgent ? 'Some fields are not right' : null,
  };
  if (!isAgent) return base;
  return {
    ...base,
    invite: { code: 'K7Q2XW', url: 'https://shop.example.com/i/K7Q2XW' },
    downline: {
      parentId: 7,
      nested: false,
      page: 1,
      pages: 2,
      pageSize: 50,
      total: 51,
      members: [{ id: 12, email: 'ag***@example.com', level: 'Member', joinedAt: AT, members: 3, volume: 129_900, margin: 9_100 }],
    },
    markups: [
      { scope: 'all', target: '', level: '', kind: 'percent', shown: '-5', error: 'A markup cannot be negative' },
      { scope: 'sku', target: 'GC-50', level: 'member', kind: 'fixed', shown: '1.50' },
      { scope: 'all', target: '', level: '', kind: 'fixed', shown: '' },
    ],
    earnings: {
      credited: 9_100,
      pending: 700,
      reversed: 0,
      margins: [{ no: order.no, title: order.title, quantity: 2, sale: 9_800, amount: 700, status: 'credited', createdAt: AT }],
      rebates: [{ month: '2025-01', volume: 129_900, percentBp: 150, amount: 1_949 }],
    },
    site: { code: 'my-shop', name: 'My card shop', host: 'cards.example.com', hostApproved: false, logoUrl: null, notice: 'Open 24/7', theme: null, enabled: true },
    siteUrl: '/s/my-shop/',
    siteOrders: [{ no: order.no, title: order.title, quantity: 2, amount: 9_800, status: 'delivered', margin: 700, marginStatus: 'credited', createdAt: AT }],
    themes: ['@cardshop/theme-default', '@cardshop/theme-wholesale'],
    // The sub-shop's articles, drafts too, and the article form (`articleForm.id` set: editing one).
    articles: [articleSummary, { ...articleSummary, id: 2, published: false, pinned: false, publishedAt: null }],
    articleForm: { id: 3, title: article.title, body: article.body, format: 'markdown', pinned: true, published: true, announcement: true },
  };
}

function common(locale: Locale, signedIn: boolean): Record<string, unknown> {
  return {
    shop: { name: 'Demo shop', currency: 'CNY', locale: 'zh-CN' },
    locale,
    otherLocale: locale === 'zh-CN' ? 'en' : 'zh-CN',
    user: signedIn ? user : null,
    csrf: 'fixture-csrf-token',
    flash: signedIn ? { kind: 'ok', text: 'Saved' } : null,
  };
}

/** The data sets `template` is rendered with: each locale, signed in and as a guest. */
export function fixtureCases(template: TemplateName): Array<Record<string, unknown>> {
  return LOCALES.flatMap((locale) =>
    [true, false].map((signedIn) => ({ ...common(locale, signedIn), ...PAGES[template](signedIn) })),
  );
}
