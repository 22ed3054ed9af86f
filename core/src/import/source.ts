import type { Knex } from 'knex';
import type { CardKey } from '../inventory/parse.js';

/**
 * What a source shop (dujiaoka, acg-faka) says about itself: its tables as steps, each read in
 * id order a batch at a time and mapped row by row to the neutral records below. The runner
 * (index.ts) and the writers (writers.ts) are shared; a source only knows how to read and map.
 */

/** A row of the old shop another record points at: its table and id there. */
export type Ref = readonly [table: string, id: string];

export interface CategoryRecord {
  kind: 'category';
  slug: string;
  name: string;
  sort: number;
  enabled: boolean;
  createdAt: number;
}

export interface ProductRecord {
  kind: 'product';
  category: Ref;
  slug: string;
  name: string;
  description: string | null;
  imageUrl: string | null;
  type: 'card' | 'manual';
  enabled: boolean;
  createdAt: number;
  sku: { code: string; price: number; cost: number | null; minQuantity: number; maxQuantity: number | null };
  /** Fixed prices per member level (price_overrides). */
  levelPrices: Array<{ level: Ref; price: number }>;
}

export interface LevelRecord {
  kind: 'level';
  code: string;
  name: string;
  /** Lifted to it at this cumulative amount (acg-faka counts top-ups, cardshop counts spend). */
  upgradeAt: number;
}

export interface UserRecord {
  kind: 'user';
  email: string;
  /** A legacy hash (security/password.ts), verified once and replaced on the first login. */
  passwordHash: string;
  role: 'customer' | 'agent' | 'admin';
  displayName: string | null;
  disabled: boolean;
  createdAt: number;
  upline: Ref | null;
  level: Ref | null;
  /** Opening balances, each posted as its own journal transaction `import:<source>:<name>:<old id>`. */
  balances: Array<{ name: string; amount: number }>;
}

export interface SiteRecord {
  kind: 'site';
  owner: Ref;
  code: string;
  host: string | null;
  name: string;
  notice: string | null;
  createdAt: number;
}

export interface KeyRecord {
  kind: 'key';
  product: Ref;
  key: CardKey;
}

export interface CouponRecord {
  kind: 'coupon';
  code: string;
  type: 'fixed' | 'percent';
  value: number;
  scope: { to: 'order' } | { to: 'sku'; product: Ref } | { to: 'category'; category: Ref };
  maxUses: number | null;
  used: number;
  endsAt: number | null;
  active: boolean;
  createdAt: number;
}

export interface OrderRecord {
  kind: 'order';
  no: string;
  product: Ref;
  user: Ref | null;
  title: string | null;
  quantity: number;
  unitPrice: number;
  amount: number;
  discount: number;
  status: 'delivered' | 'expired' | 'failed';
  /** Why a failed order failed, in the old shop's words. */
  reason: string | null;
  contact: string | null;
  queryPassword: string | null;
  /** What the buyer was delivered (the keys, as the old shop showed them). */
  delivered: string | null;
  createdAt: number;
  paidAt: number | null;
}

/** Payment settings are reported, not written: their secrets go into a plugin's settings by hand. */
export interface PaymentRecord {
  kind: 'payment';
  name: string;
  /** Our plugin that takes over, or null: a manual step. */
  plugin: 'epay' | 'alipay' | 'wechatpay' | 'usdt' | null;
  enabled: boolean;
  detail: string;
}

export type ImportRecord = CategoryRecord | ProductRecord | LevelRecord | UserRecord | SiteRecord | KeyRecord | CouponRecord | OrderRecord | PaymentRecord;

/** A row left out, with the reason (a CLI text key: import.skip.*). */
export interface Skip {
  skip: string;
}

export interface Step<Row = Record<string, any>> {
  /** The old table: import_map's `table` and the report's line. */
  table: string;
  count(db: Knex): Promise<number>;
  /** Up to `limit` rows with an id above `after`, in id order. */
  read(db: Knex, after: string | null, limit: number): Promise<Row[]>;
  id(row: Row): string;
  map(row: Row): ImportRecord | Skip;
}

export interface Source {
  name: 'dujiaoka' | 'acg-faka';
  /** Checks the old shop's tables are there (a wrong database is a clear error, not a crash). */
  check(db: Knex): Promise<void>;
  /** In order: a step's records point only at rows of steps before it. */
  steps: Step[];
}

/**
 * A decimal column as minor units, exactly: mysql2 returns DECIMAL as a string, and it is split at
 * the point rather than multiplied as a float. More than two decimals (acg-faka's fee columns) are
 * refused rather than rounded.
 */
export function cents(value: unknown): number {
  const text = String(value ?? '0').trim();
  const m = /^(-)?(\d+)(?:\.(\d*))?$/.exec(text);
  if (!m || (m[3] && m[3].replace(/0+$/, '').length > 2)) throw new Error(`not an amount in cents: ${text}`);
  const minor = Number(m[2]) * 100 + Number((m[3] ?? '').padEnd(2, '0').slice(0, 2));
  if (!Number.isSafeInteger(minor)) throw new Error(`amount out of range: ${text}`);
  return m[1] ? -minor : minor;
}

/**
 * A DATETIME or TIMESTAMP, read as text, as milliseconds. Both shops write China's wall-clock time
 * (dujiaoka's config/app.php 'PRC', acg-faka's kernel/Kernel.php Asia/Shanghai), which has had
 * no daylight saving since 1991: a fixed +08:00 is exact.
 */
export function millis(value: unknown): number | null {
  if (value === null || value === undefined || value === '') return null;
  const t = Date.parse(`${String(value).replace(' ', 'T')}+08:00`);
  return Number.isNaN(t) || t <= 0 ? null : t;
}

export const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** A failure the operator can act on, as a CLI text key (import.err.*) and its parameters. */
export class ImportError extends Error {
  constructor(
    readonly key: string,
    readonly params: Record<string, unknown> = {},
  ) {
    super(`${key} ${JSON.stringify(params)}`);
  }
}

/** Rows of a table in id order after `after`: how most steps read. */
export function byId(table: string, columns: string[] = ['*']): Omit<Step, 'map'> {
  return {
    table,
    count: async (db) => Number((await db(table).count({ n: '*' }).first())?.n ?? 0),
    read: (db, after, limit) =>
      db(table)
        .select(columns)
        .where('id', '>', after === null ? -1 : Number(after))
        .orderBy('id')
        .limit(limit),
    id: (row) => String(row.id),
  };
}

/** Checks the old shop's tables are there: a wrong database is a clear error, not a crash. */
export async function requireTables(db: Knex, tables: string[]): Promise<void> {
  for (const t of tables) if (!(await db.schema.hasTable(t))) throw new ImportError('import.err.not_source', { table: t });
}
