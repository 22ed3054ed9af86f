import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import { catalogVersion } from '../catalog/snapshot.js';
import { stockBoard } from '../catalog/stock-board.js';
import { balanceOf } from '../wallet/ledger.js';
import type { PriceList } from '../pricing/pricing.js';
import type { TemplateName, Theme } from '../themes/renderer.js';
import type { ShopContext } from './context.js';
import { pageData, themeOf } from './render.js';
import { pricesFor } from './site.js';

/**
 * Pages that every buyer at the same prices sees alike (home, category, product) are rendered once
 * and served from memory. An entry is keyed by everything its page is made of: the theme, the
 * template and path, the language, the sub-shop and the shop's settings, the prices (one key per
 * level and agents' markups above, not per buyer: `PriceList.key`), the catalog's version and the
 * stock board's band version. So a change of any of them is a new entry at once, and nothing is
 * ever invalidated by hand. The template is rendered without the buyer (`user` and `csrf` are null
 * in it); the layout around it gets the buyer. A guest's whole page is kept too, with its gzip and
 * brotli forms, so serving it is a lookup. Every answer carries an ETag of its content, and a
 * browser that has that content gets a 304.
 */

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);

interface Variant {
  html: Buffer;
  etag: string;
  gzip?: Promise<Buffer>;
  br?: Promise<Buffer>;
}

interface Entry {
  data: Record<string, unknown>;
  body: string;
  tag: string;
  guest?: Variant;
}

const MAX_ENTRIES = 500;
const caches = new WeakMap<Theme, (key: string, make: () => Promise<Entry>) => Promise<Entry>>();

const digest = (data: string | Buffer) => createHash('sha1').update(data).digest('base64url').slice(0, 22);

/** `br` or `gzip` if the client takes it (and did not give it q=0), else none. */
export function acceptedEncoding(header: string | undefined): 'br' | 'gzip' | null {
  if (!header) return null;
  const offered = new Map<string, number>();
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    offered.set(name!, q ? Number(q.slice(2)) : 1);
  }
  const takes = (e: string) => (offered.get(e) ?? offered.get('*') ?? 0) > 0;
  return takes('br') ? 'br' : takes('gzip') ? 'gzip' : null;
}

/** Whether the client already has this ETag (`If-None-Match`, weak or strong). */
function fresh(ctx: ShopContext, etag: string): boolean {
  const header = ctx.get('if-none-match');
  if (!header) return false;
  const bare = etag.replace(/^W\//, '');
  return header === '*' || header.split(',').some((t) => t.trim().replace(/^W\//, '') === bare);
}

const compressed = (v: Variant, encoding: 'br' | 'gzip') =>
  encoding === 'br'
    ? (v.br ??= brotliAsync(v.html, { params: { [constants.BROTLI_PARAM_QUALITY]: 6, [constants.BROTLI_PARAM_SIZE_HINT]: v.html.length } }))
    : (v.gzip ??= gzipAsync(v.html, { level: 6 }));

/** Sends a body with its ETag: a 304 if the client has it, else compressed as the client takes it. */
export async function sendTagged(ctx: ShopContext, v: Variant, type: string): Promise<void> {
  ctx.set('ETag', v.etag);
  ctx.set('Vary', 'Accept-Encoding');
  ctx.set('Cache-Control', 'private, no-cache');
  if (fresh(ctx, v.etag)) {
    ctx.status = 304;
    return;
  }
  ctx.type = type;
  const encoding = v.html.length > 1024 ? acceptedEncoding(ctx.get('accept-encoding')) : null;
  if (!encoding) {
    ctx.body = v.html;
    return;
  }
  // A compression that fails is a plain answer, not an error page.
  const body = await compressed(v, encoding).catch(() => null);
  if (body) ctx.set('Content-Encoding', encoding);
  ctx.body = body ?? v.html;
}

/** A body kept in memory with its ETag (and, once asked for, its compressed forms). */
export const tagged = (text: string): Variant => {
  const html = Buffer.from(text);
  return { html, etag: `"${digest(html)}"` };
};

/**
 * Values made once per key, the most recently used kept. A value that failed to be made is not
 * kept: the next request tries again.
 */
export function memo<T>(max: number) {
  const map = new Map<string, Promise<T>>();
  return (key: string, make: () => Promise<T>): Promise<T> => {
    let value = map.get(key);
    if (value) {
      // Most recently used last, so the oldest goes first when full.
      map.delete(key);
    } else {
      value = make();
      if (map.size >= max) map.delete(map.keys().next().value!);
      const made = value;
      made.catch(() => map.get(key) === made && map.delete(key));
    }
    map.set(key, value);
    return value;
  };
}

/**
 * Serves `template` from the cache, rendering it with `make`'s data (at the buyer's prices) when
 * this combination has not been rendered yet. `vary` names whatever else the page is made of.
 */
export async function cachedPage(ctx: ShopContext, template: TemplateName, make: (prices: PriceList) => Promise<Record<string, unknown>>, vary = ''): Promise<void> {
  const theme = themeOf(ctx);
  const [prices, catalog, board] = await Promise.all([pricesFor(ctx), catalogVersion(ctx.shop), stockBoard(ctx.shop)]);
  const { site, locale, base } = ctx.state;
  const shop = ctx.shop.config.shop;
  const key = [
    template,
    ctx.path,
    locale,
    base,
    site ? [site.id, site.name, site.logoUrl, site.notice].join('\x1f') : '',
    shop.name,
    shop.currency,
    shop.locale,
    shop.notice ?? '',
    prices.key,
    catalog,
    board.bandVersion,
    // What else the page is made of, as its route says (the home page's announcements, a link-only SKU).
    vary,
  ].join('\x1e');
  let cache = caches.get(theme);
  if (!cache) caches.set(theme, (cache = memo<Entry>(MAX_ENTRIES)));
  const pending = cache(key, async () => {
    const data = await pageData(ctx, await make(prices), 'anyone');
    const body = theme.body(template, data);
    return { data, body, tag: digest(body) };
  });
  const entry = await pending;
  const user = ctx.state.user;
  if (!user) {
    entry.guest ??= tagged(theme.layout(entry.data, entry.body));
    return sendTagged(ctx, entry.guest, 'html');
  }
  const balance = await balanceOf(ctx.shop, user.id);
  const csrf = ctx.state.csrf;
  const html = theme.layout({ ...entry.data, user: { id: user.id, email: user.email, role: user.role, balance }, csrf }, entry.body);
  await sendTagged(ctx, { html: Buffer.from(html), etag: `"${entry.tag}-${digest(`${user.id}:${user.email}:${user.role}:${balance}:${csrf}`)}"` }, 'html');
}
