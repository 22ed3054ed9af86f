import type { Knex } from 'knex';
import type { Deps } from '../context.js';
import { caseById } from '../db/dialect.js';
import { stockKeys } from '../inventory/keys.js';
import { contactKey, hashQueryPassword } from '../orders/lookup.js';
import { hashOrderToken } from '../orders/numbers.js';
import { encrypt, randomToken } from '../security/keys.js';
import { postJournal, systemAccountId, walletCode, type JournalTxn } from '../wallet/ledger.js';
import { refKey, resolve } from './map.js';
import type { CategoryRecord, CouponRecord, ImportRecord, KeyRecord, LevelRecord, OrderRecord, ProductRecord, Ref, SiteRecord, UserRecord } from './source.js';

/**
 * Writes neutral records (source.ts) into the shop, a batch at a time inside the runner's
 * transaction. Each writer answers which old row became which new one (null: imported but with no
 * row of its own, like a key) and which were left out, and why.
 */

export const OPENING_ACCOUNT = 'platform:opening';

export interface WriteContext {
  deps: Deps;
  source: string;
  /** The old table the batch is from. */
  table: string;
  now: number;
}

export interface Written {
  mapped: Array<{ oldId: string; newId: number | null }>;
  /** Imported rows: for keys, those the dedupe let in. */
  imported: number;
  skipped: Record<string, number>;
  /** Imported, but not as they were (a stand-in e-mail): counted for the report. */
  notes: Record<string, number>;
}

type Item<R> = { oldId: string; rec: R };
type Writer<R> = (ctx: WriteContext, trx: Knex.Transaction, items: Item<R>[]) => Promise<Written>;

const ROWS = 200; // rows per multi-row INSERT: well under SQLite's limits on terms and parameters

async function insertMany(trx: Knex.Transaction, table: string, rows: object[]): Promise<void> {
  for (let i = 0; i < rows.length; i += ROWS) await trx(table).insert(rows.slice(i, i + ROWS));
}

/** New ids by a unique column, for rows just inserted several to a statement. */
async function idsBy(trx: Knex.Transaction, table: string, column: string, values: string[]): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  for (let i = 0; i < values.length; i += ROWS) {
    for (const r of await trx(table).whereIn(column, values.slice(i, i + ROWS)).select('id', column)) ids.set(String(r[column]), Number(r.id));
  }
  return ids;
}

function tally() {
  const w: Written = { mapped: [], imported: 0, skipped: {}, notes: {} };
  return {
    w,
    done(oldId: string, newId: number | null) {
      w.mapped.push({ oldId, newId });
      w.imported++;
    },
    skip(oldId: string, reason: string) {
      w.mapped.push({ oldId, newId: null });
      w.skipped[reason] = (w.skipped[reason] ?? 0) + 1;
    },
    note(reason: string) {
      w.notes[reason] = (w.notes[reason] ?? 0) + 1;
    },
  };
}

/** A lookup of these refs, resolved through the map (rows left out resolve to nothing). */
async function refs(ctx: WriteContext, trx: Knex.Transaction, list: Array<Ref | null | undefined>) {
  const found = await resolve(trx, ctx.source, list.filter((r): r is Ref => !!r));
  return (ref: Ref | null | undefined) => (ref ? found.get(refKey(ref)) : undefined);
}

const categories: Writer<CategoryRecord> = async (ctx, trx, items) => {
  const t = tally();
  const taken = await idsBy(trx, 'categories', 'slug', items.map((i) => i.rec.slug));
  for (const { oldId, rec } of items) {
    if (taken.has(rec.slug)) {
      t.skip(oldId, 'import.skip.code_taken');
      continue;
    }
    const [id] = await trx('categories').insert({ slug: rec.slug, name: rec.name.slice(0, 120), sort: rec.sort, enabled: rec.enabled, created_at: rec.createdAt });
    t.done(oldId, Number(id));
  }
  return t.w;
};

const levels: Writer<LevelRecord> = async (ctx, trx, items) => {
  const t = tally();
  const top = await trx('agent_levels').max({ rank: 'rank' }).first();
  let rank = Number(top?.rank ?? 0);
  for (const { oldId, rec } of items) {
    const [id] = await trx('agent_levels').insert({
      code: rec.code,
      name: rec.name.slice(0, 60),
      rank: ++rank,
      rule_kind: 'retail_percent',
      rule_value: 10_000,
      upgrade_spend: rec.upgradeAt || null,
      created_at: ctx.now,
    });
    t.done(oldId, Number(id));
  }
  return t.w;
};

const products: Writer<ProductRecord> = async (ctx, trx, items) => {
  const t = tally();
  const ref = await refs(ctx, trx, items.flatMap(({ rec }) => [rec.category, ...rec.levelPrices.map((p) => p.level)]));
  const slugs = await idsBy(trx, 'products', 'slug', items.map((i) => i.rec.slug));
  const codes = await idsBy(trx, 'skus', 'code', items.map((i) => i.rec.sku.code));
  for (const { oldId, rec } of items) {
    const categoryId = ref(rec.category);
    if (!categoryId) {
      t.skip(oldId, 'import.skip.no_category');
      continue;
    }
    if (slugs.has(rec.slug) || codes.has(rec.sku.code)) {
      t.skip(oldId, 'import.skip.code_taken');
      continue;
    }
    const [productId] = await trx('products').insert({
      category_id: categoryId,
      slug: rec.slug,
      name: rec.name.slice(0, 200),
      description: rec.description,
      image_url: rec.imageUrl && rec.imageUrl.length <= 500 ? rec.imageUrl : null,
      type: rec.type,
      enabled: rec.enabled,
      created_at: rec.createdAt,
      updated_at: ctx.now,
    });
    const { sku } = rec;
    const [skuId] = await trx('skus').insert({
      product_id: Number(productId),
      code: sku.code,
      name: rec.name.slice(0, 120),
      price: sku.price,
      cost: sku.cost,
      min_quantity: sku.minQuantity,
      max_quantity: sku.maxQuantity,
      created_at: rec.createdAt,
      updated_at: ctx.now,
    });
    const overrides = rec.levelPrices
      .map((p) => ({ level_id: ref(p.level), scope: 'sku', scope_id: Number(skuId), rule_kind: 'fixed', rule_value: p.price }))
      .filter((o) => o.level_id);
    if (overrides.length) await trx('price_overrides').insert(overrides);
    // The map keeps the SKU: keys, coupons and orders point at it.
    t.done(oldId, Number(skuId));
  }
  return t.w;
};

const users: Writer<UserRecord> = async (ctx, trx, items) => {
  const t = tally();
  const { deps, source } = ctx;
  const ref = await refs(ctx, trx, items.flatMap(({ rec }) => [rec.level, rec.upline]));
  // An e-mail already in the shop (or twice in the old one) is someone else's: the newcomer
  // gets a stand-in address rather than that account, and the report counts it.
  const taken = new Set((await idsBy(trx, 'users', 'email', items.map((i) => i.rec.email))).keys());
  const rows = items.map(({ oldId, rec }) => {
    let email = rec.email;
    if (taken.has(email)) {
      email = `${source}-${ctx.table}-${oldId}@import.invalid`;
      t.note('import.note.email_stand_in');
    }
    taken.add(email);
    return {
      oldId,
      rec,
      row: {
        email,
        password_hash: rec.passwordHash,
        role: rec.role,
        display_name: rec.displayName?.slice(0, 80) ?? null,
        disabled: rec.disabled,
        level_id: ref(rec.level) ?? null,
        created_at: rec.createdAt,
      },
    };
  });
  await insertMany(trx, 'users', rows.map((r) => r.row));
  const ids = await idsBy(trx, 'users', 'email', rows.map((r) => r.row.email));
  const own = new Map(rows.map((r) => [r.oldId, ids.get(r.row.email)!]));

  await insertMany(trx, 'accounts', [...own.values()].map((id) => ({ code: walletCode(id), kind: 'wallet', user_id: id, balance: 0, currency: deps.config.shop.currency, created_at: ctx.now })));
  const wallets = await idsBy(trx, 'accounts', 'code', [...own.values()].map(walletCode));

  // Uplines: earlier batches through the map, this one through its own rows.
  const uplines: Array<[number, number]> = [];
  for (const { oldId, rec } of rows) {
    const up = rec.upline ? (own.get(rec.upline[1]) ?? ref(rec.upline)) : undefined;
    if (up && up !== own.get(oldId)) uplines.push([own.get(oldId)!, up]);
  }
  if (uplines.length) await trx('users').whereIn('id', uplines.map(([id]) => id)).update({ upline_id: caseById(trx, uplines) });

  const opening = await systemAccountId(deps, trx, OPENING_ACCOUNT);
  const txns: JournalTxn[] = [];
  for (const { oldId, rec } of rows) {
    const wallet = wallets.get(walletCode(own.get(oldId)!))!;
    for (const b of rec.balances) {
      if (b.amount <= 0) continue;
      txns.push({
        id: `import:${source}:${b.name}:${oldId}`,
        kind: 'admin_credit',
        memo: `opening balance (${source} ${b.name})`,
        entries: [
          { accountId: wallet, amount: b.amount },
          { accountId: opening, amount: -b.amount },
        ],
      });
    }
    t.done(oldId, own.get(oldId)!);
  }
  if (txns.length) await postJournal(deps, trx, txns, new Set(wallets.values()));
  return t.w;
};

const sites: Writer<SiteRecord> = async (ctx, trx, items) => {
  const t = tally();
  const ref = await refs(ctx, trx, items.map((i) => i.rec.owner));
  for (const { oldId, rec } of items) {
    const owner = ref(rec.owner);
    if (!owner) {
      t.skip(oldId, 'import.skip.no_owner');
      continue;
    }
    const clash = await trx('sites').where('code', rec.code).orWhere((q) => (rec.host ? q.where('host', rec.host) : q.whereRaw('1 = 0'))).orWhere('owner_id', owner).first('id');
    if (clash) {
      t.skip(oldId, 'import.skip.site_taken');
      continue;
    }
    const [id] = await trx('sites').insert({ owner_id: owner, code: rec.code, host: rec.host, name: rec.name.slice(0, 80), notice: rec.notice?.slice(0, 1000) ?? null, created_at: rec.createdAt, updated_at: ctx.now });
    // A sub-shop's owner is an agent here.
    await trx('users').where({ id: owner, role: 'customer' }).update({ role: 'agent' });
    t.done(oldId, Number(id));
  }
  return t.w;
};

/** Keys go in through the key import's own path: parsed, sealed, deduplicated, counted into stock. */
const keys: Writer<KeyRecord> = async (ctx, trx, items) => {
  const t = tally();
  const ref = await refs(ctx, trx, items.map((i) => i.rec.product));
  const bySku = new Map<number, KeyRecord['key'][]>();
  for (const { oldId, rec } of items) {
    const sku = ref(rec.product);
    if (!sku) {
      t.skip(oldId, 'import.skip.no_product');
      continue;
    }
    (bySku.get(sku) ?? bySku.set(sku, []).get(sku)!).push(rec.key);
    t.w.mapped.push({ oldId, newId: null });
  }
  for (const [sku, list] of bySku) {
    const added = await stockKeys(ctx.deps, trx, sku, list);
    t.w.imported += added;
    if (list.length > added) t.w.skipped['import.skip.duplicate'] = (t.w.skipped['import.skip.duplicate'] ?? 0) + list.length - added;
  }
  return t.w;
};

const coupons: Writer<CouponRecord> = async (ctx, trx, items) => {
  const t = tally();
  const ref = await refs(ctx, trx, items.map(({ rec }) => (rec.scope.to === 'sku' ? rec.scope.product : rec.scope.to === 'category' ? rec.scope.category : null)));
  const taken = new Set((await idsBy(trx, 'coupons', 'code', items.map((i) => i.rec.code))).keys());
  for (const { oldId, rec } of items) {
    const scopeId = rec.scope.to === 'sku' ? ref(rec.scope.product) : rec.scope.to === 'category' ? ref(rec.scope.category) : null;
    if (rec.scope.to !== 'order' && !scopeId) {
      t.skip(oldId, 'import.skip.no_product');
      continue;
    }
    if (taken.has(rec.code)) {
      t.skip(oldId, 'import.skip.code_taken');
      continue;
    }
    taken.add(rec.code);
    const [id] = await trx('coupons').insert({
      code: rec.code,
      kind: rec.type,
      value: rec.value,
      scope: rec.scope.to,
      scope_id: scopeId ?? null,
      max_uses: rec.maxUses,
      used: rec.used,
      ends_at: rec.endsAt,
      active: rec.active,
      created_at: rec.createdAt,
      updated_at: ctx.now,
    });
    t.done(oldId, Number(id));
  }
  return t.w;
};

/**
 * Old orders are history: final states only, no delivery job, no money moved (their payments
 * happened in the old shop). What was delivered is kept sealed as the order's delivered text, so
 * the buyer sees it on the order page: signed in (members), or found by contact and the old
 * query password or a one-time code (guests).
 */
const orders: Writer<OrderRecord> = async (ctx, trx, items) => {
  const t = tally();
  const { deps } = ctx;
  const ref = await refs(ctx, trx, items.flatMap(({ rec }) => [rec.product, rec.user]));
  const skuIds = [...new Set(items.map((i) => ref(i.rec.product)).filter((id): id is number => !!id))];
  const skus = new Map<number, { productId: number; type: string; name: string }>();
  for (let i = 0; i < skuIds.length; i += ROWS) {
    const rows = await trx('skus').join('products', 'products.id', 'skus.product_id').whereIn('skus.id', skuIds.slice(i, i + ROWS)).select('skus.id', 'skus.product_id', 'products.type', 'products.name');
    for (const r of rows) skus.set(Number(r.id), { productId: Number(r.product_id), type: String(r.type), name: String(r.name) });
  }
  const taken = new Set((await idsBy(trx, 'orders', 'no', items.map((i) => i.rec.no))).keys());
  const rows: Array<{ oldId: string; no: string; row: object }> = [];
  for (const { oldId, rec } of items) {
    const skuId = ref(rec.product);
    const sku = skuId ? skus.get(skuId) : undefined;
    if (!skuId || !sku) {
      t.skip(oldId, 'import.skip.no_product');
      continue;
    }
    if (taken.has(rec.no)) {
      t.skip(oldId, 'import.skip.order_no_taken');
      continue;
    }
    taken.add(rec.no);
    const delivered = rec.status === 'delivered';
    rows.push({
      oldId,
      no: rec.no,
      row: {
        no: rec.no,
        // Nobody holds this token: the order opens by its owner's session or a look-up.
        token_hash: hashOrderToken(randomToken(24)),
        user_id: ref(rec.user) ?? null,
        sku_id: skuId,
        product_id: sku.productId,
        product_type: sku.type,
        title: (rec.title || sku.name).slice(0, 330),
        quantity: rec.quantity,
        unit_price: rec.unitPrice,
        amount: rec.amount,
        discount: rec.discount,
        currency: deps.config.shop.currency,
        status: rec.status,
        payment: `import:${ctx.source}`,
        contact: rec.contact?.slice(0, 120) ?? null,
        contact_key: rec.contact ? contactKey(deps, rec.contact) : null,
        query_hash: hashQueryPassword(deps, rec.queryPassword ?? undefined),
        delivery: rec.delivered ? encrypt(deps.keys.encryption, rec.delivered) : null,
        reason: rec.reason?.slice(0, 255) ?? null,
        created_at: rec.createdAt,
        paid_at: rec.paidAt,
        delivered_at: delivered ? (rec.paidAt ?? rec.createdAt) : null,
        updated_at: ctx.now,
      },
    });
  }
  await insertMany(trx, 'orders', rows.map((r) => r.row));
  const ids = await idsBy(trx, 'orders', 'no', rows.map((r) => r.no));
  for (const r of rows) t.done(r.oldId, ids.get(r.no)!);
  return t.w;
};

const WRITERS: { [K in Exclude<ImportRecord['kind'], 'payment'>]: Writer<Extract<ImportRecord, { kind: K }>> } = {
  category: categories,
  level: levels,
  product: products,
  user: users,
  site: sites,
  key: keys,
  coupon: coupons,
  order: orders,
};

/** Writes one batch of records, all of one kind (a step's). */
export function write(ctx: WriteContext, trx: Knex.Transaction, items: Item<ImportRecord>[]): Promise<Written> {
  const kind = items[0]!.rec.kind;
  if (kind === 'payment') return Promise.resolve({ mapped: items.map((i) => ({ oldId: i.oldId, newId: null })), imported: items.length, skipped: {}, notes: {} });
  return (WRITERS[kind] as Writer<ImportRecord>)(ctx, trx, items);
}
