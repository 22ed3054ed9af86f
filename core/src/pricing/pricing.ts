import type { ProductView, SkuView } from '../catalog/catalog.js';
import type { Deps } from '../context.js';
import type { Database } from '../db/connect.js';
import { resolveOrder, resolvePrice, tierPrice, type ChainLink, type FlashSale, type Markup, type OrderResolution, type PriceRule, type PricingTables, type Resolution, type RuleKind, type SkuPricing, type Tier } from './resolver.js';

/**
 * Loads what the resolver needs and keeps it in memory: the levels, overrides and SKU figures for
 * a second (like the catalog snapshot), each buyer's chain for five seconds. A change made in this
 * process drops both at once; one made by another app process shows within those times.
 */

const TABLES_TTL_MS = 1000;
const CHAIN_TTL_MS = 5000;
const CHAIN_CACHE_MAX = 20_000;

export interface Level {
  id: number;
  code: string;
  name: string;
  rank: number;
  rule: { kind: RuleKind; value: number };
  upgradeSpend: number | null;
  upgradePrice: number | null;
}

export interface PricingSnapshot extends PricingTables {
  /** Changes only when the tables do (a reload that finds them the same keeps the snapshot). */
  version: number;
  /** Lowest rank first. */
  levels: Level[];
  levelById: ReadonlyMap<number, Level>;
  /** Every new user's level and every guest's: the lowest rank. */
  baseLevelId: number;
  skus: ReadonlyMap<number, SkuPricing>;
}

interface Caches {
  tables?: { at: number; value: Promise<PricingSnapshot> };
  /** The last tables loaded and what they were built from. */
  last?: { rows: string; value: PricingSnapshot };
  chains: Map<number, { until: number; chain: ChainLink[] }>;
}
const caches = new WeakMap<Database, Caches>();

function cachesOf(deps: Deps): Caches {
  let c = caches.get(deps.db);
  if (!c) caches.set(deps.db, (c = { chains: new Map() }));
  return c;
}

/** After a change of levels, overrides, markups, SKU figures or the tree in this process. */
export function invalidatePricing(deps: Deps): void {
  const c = cachesOf(deps);
  c.tables = undefined;
  c.chains.clear();
}

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

export function toLevel(r: Record<string, any>): Level {
  return {
    id: Number(r.id),
    code: r.code,
    name: r.name,
    rank: Number(r.rank),
    rule: { kind: r.rule_kind, value: Number(r.rule_value) },
    upgradeSpend: num(r.upgrade_spend),
    upgradePrice: num(r.upgrade_price),
  };
}

/** A SKU's wholesale tiers as stored (pricing/wholesale.ts); null: none. */
export const tiersOf = (column: string | null | undefined): Tier[] => (column ? (JSON.parse(column) as Tier[]) : []);

/** A SKU's flash sale from its columns (pricing/flash.ts), or null. */
export function flashOf(r: Record<string, any>): FlashSale | null {
  if (r.flash_price === null || r.flash_price === undefined) return null;
  return {
    price: Number(r.flash_price),
    startsAt: Number(r.flash_starts_at),
    endsAt: Number(r.flash_ends_at),
    cap: Number(r.flash_cap),
    sold: Number(r.flash_sold),
    perBuyer: num(r.flash_per_buyer),
  };
}

async function loadTables(deps: Deps, c: Caches): Promise<PricingSnapshot> {
  const knex = deps.db.read;
  const [levelRows, overrideRows, skuRows] = await Promise.all([
    knex('agent_levels').orderBy('rank'),
    knex('price_overrides').select('level_id', 'scope', 'scope_id', 'rule_kind', 'rule_value'),
    knex('skus')
      .join('products', 'products.id', 'skus.product_id')
      .select(
        'skus.id',
        'products.category_id',
        'skus.price',
        'skus.cost',
        'skus.floor_price',
        'skus.ceiling_price',
        'skus.wholesale_tiers',
        'skus.flash_price',
        'skus.flash_starts_at',
        'skus.flash_ends_at',
        'skus.flash_cap',
        'skus.flash_sold',
        'skus.flash_per_buyer',
      ),
  ]);
  const rows = JSON.stringify([levelRows, overrideRows, skuRows]);
  if (c.last?.rows === rows) return c.last.value;
  const levels = levelRows.map(toLevel);
  if (!levels.length) throw new Error('no agent levels: run the migrations first');
  const value: PricingSnapshot = {
    version: (c.last?.value.version ?? 0) + 1,
    levels,
    levelById: new Map(levels.map((l: Level) => [l.id, l])),
    baseLevelId: levels[0]!.id,
    rules: new Map<number, PriceRule>(levels.map((l: Level) => [l.id, l.rule])),
    overrides: new Map<string, PriceRule>(
      overrideRows.map((r: Record<string, any>) => [`${r.level_id}:${r.scope}:${r.scope_id}`, { kind: r.rule_kind, value: Number(r.rule_value) }]),
    ),
    skus: new Map<number, SkuPricing>(
      skuRows.map((r: Record<string, any>) => [
        Number(r.id),
        {
          id: Number(r.id),
          categoryId: Number(r.category_id),
          retail: Number(r.price),
          cost: num(r.cost),
          floor: num(r.floor_price),
          ceiling: num(r.ceiling_price),
          tiers: tiersOf(r.wholesale_tiers),
          flash: flashOf(r),
        },
      ]),
    ),
  };
  c.last = { rows, value };
  return value;
}

export function pricingSnapshot(deps: Deps): Promise<PricingSnapshot> {
  const c = cachesOf(deps);
  const now = Date.now();
  if (c.tables && now - c.tables.at < TABLES_TTL_MS) return c.tables.value;
  const value = loadTables(deps, c);
  c.tables = { at: now, value };
  value.catch(() => {
    if (c.tables?.value === value) c.tables = undefined;
  });
  return value;
}

export function markupKey(scope: 'all' | 'category' | 'sku', scopeId: number, levelId: number | null): string {
  return `${scope}:${scope === 'all' ? 0 : scopeId}:${levelId ?? '*'}`;
}

/**
 * A user and its uplines to the top, each with its level and markups: one recursive query for the
 * users, one for the markups. The depth is capped so a corrupted tree cannot loop.
 */
async function loadChain(deps: Deps, userId: number, baseLevelId: number): Promise<ChainLink[]> {
  const rows: Array<{ id: number; level_id: number | null; depth: number }> = await deps.db.read
    .withRecursive('chain', ['id', 'level_id', 'upline_id', 'depth'], (q) => {
      q.select('id', 'level_id', 'upline_id', deps.db.read.raw('0'))
        .from('users')
        .where('id', userId)
        .unionAll((u) => {
          u.select('users.id', 'users.level_id', 'users.upline_id', deps.db.read.raw('chain.depth + 1'))
            .from('users')
            .join('chain', 'users.id', 'chain.upline_id')
            .where('chain.depth', '<', 64);
        });
    })
    .select('id', 'level_id', 'depth')
    .from('chain')
    .orderBy('depth');
  // The user's own markups too: on its sub-shop, a guest buys below it.
  const agentIds = rows.map((r) => Number(r.id));
  const markups = new Map<number, Map<string, Markup>>();
  if (agentIds.length) {
    const mrows = await deps.db.read('agent_markups').whereIn('agent_id', agentIds).select('agent_id', 'level_id', 'scope', 'scope_id', 'kind', 'value');
    for (const m of mrows as Array<Record<string, any>>) {
      const table = markups.get(Number(m.agent_id)) ?? new Map<string, Markup>();
      table.set(markupKey(m.scope, Number(m.scope_id), m.level_id === null ? null : Number(m.level_id)), { kind: m.kind, value: Number(m.value) });
      markups.set(Number(m.agent_id), table);
    }
  }
  return rows.map((r) => ({ userId: Number(r.id), levelId: r.level_id === null ? baseLevelId : Number(r.level_id), markups: markups.get(Number(r.id)) ?? new Map() }));
}

/**
 * What makes a chain's prices what they are, for caches of priced pages (see `PriceList.key`): the
 * buyer's level, then each agent above with its level and the markups it set; not who they are.
 */
const linkKeys = new WeakMap<ChainLink, string>();
function chainKey(chain: readonly ChainLink[]): string {
  let key = String(chain[0]!.levelId);
  for (const l of chain.slice(1)) {
    let k = linkKeys.get(l);
    if (k === undefined) linkKeys.set(l, (k = `${l.levelId}:${JSON.stringify([...l.markups].sort())}`));
    key += `>${k}`;
  }
  return key;
}

/** The chain from a user to the top, cached for a few seconds. */
export async function chainOf(deps: Deps, userId: number): Promise<ChainLink[]> {
  const c = cachesOf(deps);
  const now = Date.now();
  const hit = c.chains.get(userId);
  if (hit && hit.until > now) return hit.chain;
  const chain = await loadChain(deps, userId, (await pricingSnapshot(deps)).baseLevelId);
  if (c.chains.size >= CHAIN_CACHE_MAX) c.chains.delete(c.chains.keys().next().value!);
  c.chains.set(userId, { until: now + CHAIN_TTL_MS, chain });
  return chain;
}

/** Who is buying, and where: a sub-shop's orders go through its owner. */
export interface Buyer {
  userId: number | null;
  /** The owner of the sub-shop the buyer is on, if any. */
  siteOwnerId?: number | null;
}

/** Prices for one buyer: loads once, then resolves each SKU in memory. */
export interface PriceList {
  readonly tables: PricingSnapshot;
  readonly chain: readonly ChainLink[];
  /**
   * The same for every buyer who pays the same prices (same level, same agents' markups above),
   * so a page priced for one is the page for all of them.
   */
  readonly key: string;
  /** Undefined for a SKU the pricing snapshot does not know yet (created within the last second). */
  resolve(skuId: number): Resolution | undefined;
  /** The same for an order of `quantity` units at `now`: with its wholesale tier and a flash sale on. */
  order(skuId: number, quantity: number, now: number): OrderResolution | undefined;
}

/** A guest's chain: the lowest level, no markups; one per tables, so its key is worked out once. */
const guestChains = new WeakMap<PricingSnapshot, ChainLink[]>();
function guestChain(tables: PricingSnapshot): ChainLink[] {
  let chain = guestChains.get(tables);
  if (!chain) guestChains.set(tables, (chain = [{ userId: null, levelId: tables.baseLevelId, markups: new Map() }]));
  return chain;
}

export async function priceList(deps: Deps, buyer: Buyer): Promise<PriceList> {
  const tables = await pricingSnapshot(deps);
  const own: ChainLink[] = buyer.userId === null ? guestChain(tables) : await chainOf(deps, buyer.userId);
  let chain = own;
  // On a sub-shop, a buyer outside the owner's downline buys as if directly below the owner.
  if (buyer.siteOwnerId && buyer.siteOwnerId !== buyer.userId && !own.some((l) => l.userId === buyer.siteOwnerId)) {
    chain = [own[0]!, ...(await chainOf(deps, buyer.siteOwnerId))];
  }
  return {
    tables,
    chain,
    key: `${tables.version}/${chainKey(chain)}`,
    resolve(skuId) {
      const sku = tables.skus.get(skuId);
      return sku && resolvePrice(tables, sku, chain);
    },
    order(skuId, quantity, now) {
      const sku = tables.skus.get(skuId);
      return sku && resolveOrder(tables, sku, chain, quantity, now);
    },
  };
}

/**
 * A SKU at the buyer's price, with its wholesale tiers at that price and its flash sale until it
 * ends (whether it has started is the page's to tell by its times).
 */
export function priceSku(list: PriceList, s: SkuView, now = Date.now()): SkuView {
  const pricing = list.tables.skus.get(s.id);
  const price = list.resolve(s.id)?.price ?? s.price;
  if (!pricing) return { ...s, price };
  const tiers = pricing.tiers.map((t) => ({ ...t, price: tierPrice(price, t, pricing) }));
  const f = pricing.flash;
  const flash = f && now < f.endsAt && f.price < price ? { price: f.price, startsAt: f.startsAt, endsAt: f.endsAt, left: Math.max(0, f.cap - f.sold), perBuyer: f.perBuyer } : null;
  return { ...s, price, tiers, flash };
}

/** Copies of the products with each SKU priced for the buyer (`priceSku`). */
export function priceProducts(list: PriceList, products: ProductView[]): ProductView[] {
  const now = Date.now();
  return products.map((p) => {
    const skus = p.skus.map((s) => priceSku(list, s, now));
    return { ...p, skus, priceFrom: Math.min(...skus.map((s) => s.price)) };
  });
}
