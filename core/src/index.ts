/**
 * @cardshop/core: the public API. Build a shop with `createShop(config)` (or `openShop()` to read
 * cardshop.config.* and CARDSHOP_* from a folder), run `shop.ready()` (migrations, plugins), then `shop.listen()`.
 */
export { createShop, openShop, type Shop } from './shop.js';
export { defineConfig, loadConfig, parseConfig, configSchema, ConfigError, type Config, type ConfigInput } from './config/config.js';
export type { Deps, Logger } from './context.js';
export { connect, type Database, type Dialect } from './db/connect.js';
export { migrate } from './db/migrate.js';
export { ShopError } from './errors.js';
export { formatMoney, parseMoney, toDecimalString } from './money/money.js';
export { findSku, getProduct, listProducts, listStorefront } from './catalog/snapshot.js';
export { searchProducts } from './catalog/search.js';
export {
  createCategory,
  createProduct,
  createSku,
  setVisibility,
  VISIBILITY,
  type Visibility,
  type CategoryView,
  type ProductView,
  type SkuView,
  type ProductType,
} from './catalog/catalog.js';
export { inputFieldSchema, validateFields, type InputField } from './catalog/fields.js';
export { seedDemoCatalog } from './catalog/demo.js';
export { importKeys, keysOfOrder, previewImport, stockOf, type ImportPreview, type ImportReport } from './inventory/keys.js';
export type { CardKey } from './inventory/parse.js';
export { createUser, authenticate, findUserByEmail, pruneSessions, ROLES, type Role, type User } from './agents/users.js';
export { audit, listAudit, type AuditEntry, type AuditRecord } from './audit/audit.js';
export { becomeAgent, downline, inviteCodeOf, moveUser, type Member } from './agents/tree.js';
export { listSites, saveSite, setSiteDisabled, siteOf, type Site } from './agents/sites.js';
export { assignLevel, buyLevel, listLevels, listOverrides, saveLevel, setOverride, setSkuPricing } from './pricing/levels.js';
export { applyTemplate, deleteTemplate, detachSkus, listTemplates, previewTemplate, roundPrice, saveTemplate, templatePrice, type MarkupTemplate, type TemplateInput } from './pricing/templates.js';
export { announcementsOf, deleteArticle, getArticle, listArticles, saveArticle, type ArticleSummary, type ArticleView } from './articles/articles.js';
export { proofOfWork, type BotDefence, type ChallengePurpose, type ChallengeRefusal, type ChallengeView } from './security/bot-defence.js';
export { listMarkups, setMarkups, type MarkupInput, type MarkupView } from './pricing/markups.js';
export { priceList, priceProducts, type Buyer, type Level, type PriceList } from './pricing/pricing.js';
export { levelPrice, resolvePrice, type ChainLink, type PriceRule, type Resolution, type SkuPricing } from './pricing/resolver.js';
export { earningsOf, listTiers, rebatesOf, setTier, settleRebates, type Settlement } from './pricing/rebates.js';
export { adjustWallet, balanceOf, verifyLedger, type LedgerReport } from './wallet/ledger.js';
export { getOrder, listOrders, deliverManually, refundOrder, type OrderView } from './orders/orders.js';
export { ORDER_STATUSES, type OrderStatus } from './orders/state.js';
export { confirmByQuery, expireUnpaid, markPaid, PaymentRefused, PaymentUnconfirmed, sweepPending } from './orders/payments.js';
export { fillBackorders } from './orders/backorders.js';
export { approveHeld, heldOrders, rejectHeld, type HeldOrder } from './orders/review.js';
export { getCallback, handleNotify, listCallbacks, pruneCallbacks, replayCallback, type CallbackView } from './orders/callbacks.js';
export { checkNotifyUrl, type NotifyCheck } from './orders/notify-check.js';
export { lookupOrders, requestLookupCode } from './orders/lookup.js';
export { bulkAction, confirmOrder, raiseStuck, retryDelivery, stuckOrders } from './orders/repair.js';
export type { CheckoutInput, CheckoutResult } from './orders/checkout.js';
export { loadTheme, REQUIRED_TEMPLATES, type Theme } from './themes/renderer.js';
export { definePlugin, type Plugin, type PluginContext, type PluginDefinition, type PluginMigration, type ConfiguredPlugin } from './plugins/define.js';
export { CORE_VERSION, PluginError } from './plugins/host.js';
export { Secret } from './plugins/secret.js';
/** For plugins' routes (`ctx.routes`): the router and a request's context, with the shop's state (user, locale, csrf). */
export type { ShopContext, ShopRouter } from './http/context.js';
export type { HookEvents, ReviewHold, StuckReason, Verdict, VetoHooks, VetoReason } from './plugins/hooks.js';
export type * from './plugins/payment.js';
export type * from './plugins/kyc.js';
export { kycStatus, kycFingerprint, KYC_ATTEMPTS_PER_DAY, type KycStatus, type KycState } from './kyc/kyc.js';
export { getReceipt, verifyReceipt, receiptCode, type Receipt } from './orders/receipts.js';
export type * from './delivery/supplier.js';
export type { ProductTypeDefinition, DeliverInput } from './delivery/product-type.js';
export { listRoutes, setRoute, routeSchema, type RouteView } from './delivery/routes.js';
export { listJobs, retryJob, type JobView, type JobStatus } from './delivery/jobs.js';
export { PermanentJobError, type Worker } from './delivery/worker.js';
export type { BreakerState, SupplierHealthView } from './delivery/health.js';
export { neverSent } from './delivery/unsent.js';
export { ALERT_KINDS, alertSettings, type Alert, type AlertChannel, type AlertChannelFactory, type AlertKind, type AlertMessage, type AlertRules, type AlertSent } from './alerts/alerts.js';
export type { Mail, Mailer } from './notices/mailer.js';
export { markedUp, syncSupplierCatalog, type SyncReport } from './delivery/catalog-sync.js';
export { createApiKey, listApiKeys, revokeApiKey, signRequest, signature, SIGNATURE_WINDOW_S, type ApiCredentials, type ApiKeyView, type SignedHeaders } from './agents/api-keys.js';
export { apiSchemas, type ApiOrder, type ApiProduct } from './agents/api.js';
