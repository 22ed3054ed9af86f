/**
 * The price resolver: what a buyer pays for a SKU, and how that price splits up the agent chain.
 * Pure functions over data loaded once (see `pricing.ts`), so listing a category of any size costs
 * no query per product and a 10-level chain resolves in microseconds (bench/pricing.mjs).
 *
 * The model:
 * - a level's price for a SKU is the SKU's override for the level, else the category's, else the
 *   level's own rule, clamped to the SKU's floor and ceiling (price protection);
 * - the top of a chain (a user without upline) pays its level's price;
 * - a user below an agent pays the agent's price plus the markup the agent set for the user's
 *   level (most specific first: SKU, category, everything; a level before "any level"); without a
 *   markup, the user's own level price. Either way never less than the agent's price (an agent
 *   never sells at a loss) and never more than the ceiling;
 * - each agent earns what the member below it pays minus its own price; the shop keeps the top's
 *   price. The margins and the shop's share always add up to what the buyer pays;
 * - for an order of some quantity (`resolveOrder`), after all of that: the SKU's wholesale tier
 *   for the quantity takes its percent off every price of the chain (never below the floor), then
 *   a flash sale on now caps every price of the chain at the sale price. Both are applied to each
 *   link alike, so every agent still pays no more than its member (a margin is never negative),
 *   the shares still add up, and each gives up its part of the discount.
 */

export const RULE_KINDS = ['retail_percent', 'cost_plus_percent', 'cost_plus_fixed'] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

/** A level's rule or an override: percents are basis points (10000 = 100 %), amounts minor units. */
export type PriceRule = { kind: RuleKind | 'fixed'; value: number };

export interface Markup {
  kind: 'fixed' | 'percent';
  value: number;
}

/** A wholesale bracket (批发价): from `minQuantity` units up, `percentOff` basis points off each unit. */
export interface Tier {
  minQuantity: number;
  percentOff: number;
}

/** A flash sale (限时秒杀): `price` per unit from `startsAt` until `endsAt` (ms), for `cap` units in all. */
export interface FlashSale {
  price: number;
  startsAt: number;
  endsAt: number;
  cap: number;
  /** Units sold (or held by unpaid orders) at the sale price so far. */
  sold: number;
  /** Units one buyer may get at the sale price, or null. */
  perBuyer: number | null;
}

export interface SkuPricing {
  id: number;
  categoryId: number;
  /** The catalog price, which guests on the main shop pay. */
  retail: number;
  cost: number | null;
  floor: number | null;
  ceiling: number | null;
  /** Deepest last: each bracket starts above the one before and takes more off. */
  tiers: readonly Tier[];
  flash: FlashSale | null;
}

export interface PricingTables {
  rules: ReadonlyMap<number, PriceRule>;
  /** `<level>:sku:<id>` and `<level>:category:<id>` → rule. */
  overrides: ReadonlyMap<string, PriceRule>;
}

/** One agent's markups for its downline, keyed `<scope>:<id>:<level or *>` (scope all has id 0). */
export type MarkupTable = ReadonlyMap<string, Markup>;

export interface ChainLink {
  /** Null for a guest buyer (on a sub-shop, a guest buys below the sub-shop's owner). */
  userId: number | null;
  levelId: number;
  /** The markups this user set for its own downline. */
  markups: MarkupTable;
}

export interface Resolution {
  /** What the buyer pays per unit. */
  price: number;
  /** What the shop keeps per unit (the top of the chain's price). */
  base: number;
  /** Per unit, nearest agent first; `via` is the member directly below the agent. */
  margins: Array<{ agentId: number; viaUserId: number | null; amount: number }>;
}

/** `value × basis points / 10000`, rounded half up, exact for any amount. */
export function percentOf(amount: number, bp: number): number {
  const product = amount * bp;
  // Doubles are exact integers up to 2^53; beyond that (¥90 billion at 100 %) BigInt takes over.
  if (Number.isSafeInteger(product + 5000)) return Math.floor((product + 5000) / 10000);
  return Number((BigInt(amount) * BigInt(bp) + 5000n) / 10000n);
}

function applyRule(rule: PriceRule, sku: SkuPricing): number {
  switch (rule.kind) {
    case 'fixed':
      return rule.value;
    case 'retail_percent':
      return percentOf(sku.retail, rule.value);
    // A SKU without a known cost cannot be priced from it: it sells at retail until it has one.
    case 'cost_plus_percent':
      return sku.cost === null ? sku.retail : sku.cost + percentOf(sku.cost, rule.value);
    case 'cost_plus_fixed':
      return sku.cost === null ? sku.retail : sku.cost + rule.value;
  }
}

const clamp = (price: number, low: number | null, high: number | null) =>
  Math.max(low ?? 0, high === null ? price : Math.min(price, high));

/** A level's own price for a SKU, inside the SKU's floor and ceiling. */
export function levelPrice(tables: PricingTables, sku: SkuPricing, levelId: number): number {
  const rule =
    tables.overrides.get(`${levelId}:sku:${sku.id}`) ??
    tables.overrides.get(`${levelId}:category:${sku.categoryId}`) ??
    tables.rules.get(levelId) ?? { kind: 'retail_percent', value: 10_000 };
  return clamp(applyRule(rule, sku), sku.floor, sku.ceiling);
}

/** The markup an agent set that applies to a SKU for a member of a level, if any. */
export function markupFor(table: MarkupTable, sku: SkuPricing, levelId: number): Markup | undefined {
  if (!table.size) return undefined;
  for (const scope of [`sku:${sku.id}`, `category:${sku.categoryId}`, 'all:0']) {
    const m = table.get(`${scope}:${levelId}`) ?? table.get(`${scope}:*`);
    if (m) return m;
  }
  return undefined;
}

/**
 * Resolves a SKU's price for a chain given buyer first, then its upline, up to the top. The
 * buyer's own markups do not matter (they apply to its downline), only its level.
 */
export function resolvePrice(tables: PricingTables, sku: SkuPricing, chain: readonly ChainLink[]): Resolution {
  const top = chain[chain.length - 1]!;
  const base = levelPrice(tables, sku, top.levelId);
  let price = base;
  const margins: Resolution['margins'] = [];
  for (let i = chain.length - 2; i >= 0; i--) {
    const member = chain[i]!;
    const agent = chain[i + 1]!;
    const markup = markupFor(agent.markups, sku, member.levelId);
    const asked = markup
      ? price + (markup.kind === 'fixed' ? markup.value : percentOf(price, markup.value))
      : levelPrice(tables, sku, member.levelId);
    const next = Math.max(price, sku.ceiling === null ? asked : Math.min(asked, sku.ceiling));
    margins.unshift({ agentId: agent.userId!, viaUserId: member.userId, amount: next - price });
    price = next;
  }
  return { price, base, margins };
}

/** The bracket an order of `quantity` units falls in, if any. */
export function tierFor(tiers: readonly Tier[], quantity: number): Tier | undefined {
  let found: Tier | undefined;
  for (const t of tiers) if (t.minQuantity <= quantity) found = t;
  return found;
}

/** Whether a flash sale sells at its price at `now`, with units left at it. */
export const flashOn = (flash: FlashSale | null, now: number): flash is FlashSale => flash !== null && flash.startsAt <= now && now < flash.endsAt && flash.sold < flash.cap;

/** A price after a wholesale tier: its percent off, not below the SKU's floor. */
export const tierPrice = (price: number, tier: Tier, sku: SkuPricing) => Math.max(sku.floor ?? 0, price - percentOf(price, tier.percentOff));

/**
 * Applies `to` to every price of the chain (the shop's, then each agent's member's) and works the
 * margins out again. `to` must never lower a price below that of a lower one, which a percent off
 * and a cap both keep.
 */
function reprice(r: Resolution, to: (price: number) => number): Resolution {
  const base = to(r.base);
  let before = r.base;
  let after = base;
  const margins = [...r.margins];
  for (let i = margins.length - 1; i >= 0; i--) {
    const m = margins[i]!;
    before += m.amount;
    const next = to(before);
    margins[i] = { ...m, amount: next - after };
    after = next;
  }
  return { price: after, base, margins };
}

export interface OrderResolution extends Resolution {
  /** The wholesale bracket the quantity got. */
  tier: Tier | null;
  /** Whether the flash sale's price applies (it must then have the units for the order). */
  flash: boolean;
}

/**
 * The unit price of an order of `quantity` units at `now`: the chain's price, then its wholesale
 * tier, then a flash sale on now where its price is lower and it has the units left.
 */
export function resolveOrder(tables: PricingTables, sku: SkuPricing, chain: readonly ChainLink[], quantity: number, now: number): OrderResolution {
  let r = resolvePrice(tables, sku, chain);
  const tier = tierFor(sku.tiers, quantity) ?? null;
  if (tier) r = reprice(r, (p) => tierPrice(p, tier, sku));
  const f = sku.flash;
  const flash = flashOn(f, now) && f.cap - f.sold >= quantity && (f.perBuyer === null || quantity <= f.perBuyer) && f.price < r.price;
  if (flash) r = reprice(r, (p) => Math.min(p, f.price));
  return { ...r, tier, flash };
}
