import { z } from 'zod';
import { audit } from '../audit/audit.js';
import type { Deps } from '../context.js';
import type { Database } from '../db/connect.js';
import { isUniqueViolation, transaction } from '../db/dialect.js';
import { errors, fromZod, ShopError } from '../errors.js';
import { requireAgent } from './tree.js';
import type { User } from './users.js';
import { pageNumber } from '../db/paging.js';

/**
 * Sub-shops (分站): an agent's own storefront over the main catalog, at the agent's prices. A
 * request reaches one by its host name or by the path prefix `/s/<code>`; the directory of sites
 * is kept in memory (reloaded every few seconds), so resolving one costs no query.
 */

export interface Site {
  id: number;
  ownerId: number;
  code: string;
  host: string | null;
  /** A host name answers only once the operator approved it (an agent could claim any host). */
  hostApproved: boolean;
  name: string;
  logoUrl: string | null;
  notice: string | null;
  theme: string | null;
  /** The agent's own switch. */
  enabled: boolean;
  /** The operator's switch: a disabled sub-shop is closed whatever its agent says. */
  disabledByAdmin: boolean;
}

export const isOpen = (site: Site) => site.enabled && !site.disabledByAdmin;

const hostname = z
  .string()
  .trim()
  .toLowerCase()
  .max(253, 'field.too_long')
  .regex(/^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'field.hostname');

export const siteInput = z
  .object({
    code: z.string().trim().toLowerCase().regex(/^[a-z0-9][a-z0-9-]{1,31}$/, 'field.slug'),
    name: z.string().trim().min(1, 'field.required').max(80, 'field.too_long'),
    host: z.union([hostname, z.literal('')]).optional(),
    logoUrl: z.union([z.url({ protocol: /^https?$/, error: 'field.url' }).max(500, 'field.too_long'), z.literal('')]).optional(),
    notice: z.string().trim().max(1000, 'field.too_long').optional(),
    theme: z.string().max(120).optional(),
    enabled: z.boolean().default(true),
  })
  .strict();

function toSite(r: Record<string, any>): Site {
  return {
    id: Number(r.id),
    ownerId: Number(r.owner_id),
    code: r.code,
    host: r.host,
    hostApproved: Boolean(r.host_approved),
    name: r.name,
    logoUrl: r.logo_url,
    notice: r.notice,
    theme: r.theme,
    enabled: Boolean(r.enabled),
    disabledByAdmin: Boolean(r.disabled_by_admin),
  };
}

const TTL_MS = 5000;
const directories = new WeakMap<Database, { at: number; value: Promise<{ byHost: Map<string, Site>; byCode: Map<string, Site> }> }>();

function invalidateSites(deps: Deps) {
  directories.delete(deps.db);
}

function directory(deps: Deps) {
  const hit = directories.get(deps.db);
  const now = Date.now();
  if (hit && now - hit.at < TTL_MS) return hit.value;
  const value = deps.db
    .read('sites')
    .select()
    .then((rows: Array<Record<string, any>>) => {
      const sites = rows.map(toSite);
      return { byHost: new Map(sites.filter((s) => s.host && s.hostApproved).map((s) => [s.host!, s])), byCode: new Map(sites.map((s) => [s.code, s])) };
    });
  directories.set(deps.db, { at: now, value });
  value.catch(() => directories.delete(deps.db));
  return value;
}

/** The sub-shop a request is for: by host name, else by `/s/<code>` at the start of its path. */
export async function siteForRequest(deps: Deps, host: string, path: string): Promise<{ site: Site; prefix: string } | undefined> {
  const dir = await directory(deps);
  const byHost = dir.byHost.get(host.toLowerCase());
  if (byHost) return { site: byHost, prefix: '' };
  const m = /^\/s\/([a-z0-9][a-z0-9-]{1,31})(?=\/|$)/.exec(path);
  const byCode = m && dir.byCode.get(m[1]!);
  return byCode ? { site: byCode, prefix: m![0] } : undefined;
}

export async function siteOf(deps: Deps, ownerId: number): Promise<Site | undefined> {
  const row = await deps.db.read('sites').where('owner_id', ownerId).first();
  return row ? toSite(row) : undefined;
}

export async function siteByCode(deps: Deps, code: string): Promise<Site | undefined> {
  const row = await deps.db.read('sites').where('code', code).first();
  return row ? toSite(row) : undefined;
}

export async function getSite(deps: Deps, id: number): Promise<Site> {
  const row = await deps.db.read('sites').where('id', id).first();
  if (!row) throw errors.notFound();
  return toSite(row);
}

/**
 * Opens an agent's sub-shop, or changes its settings. Opening one passes `before.site.open`
 * (a KYC rule, for example). A theme must be one the operator offers.
 */
export async function saveSite(deps: Deps, user: User, input: unknown, ip?: string): Promise<Site> {
  const agent = requireAgent(user);
  const parsed = siteInput.safeParse(input);
  if (!parsed.success) throw fromZod(parsed.error);
  const s = parsed.data;
  const themes = [deps.config.theme, ...deps.config.siteThemes];
  if (s.theme && !themes.includes(s.theme)) throw errors.validation({ theme: 'field.invalid' });
  const mainHost = deps.config.publicUrl && new URL(deps.config.publicUrl).hostname;
  if (s.host && s.host === mainHost) throw new ShopError('site_taken', 409, 'error.site_taken', { host: 'error.site_taken' });
  const existing = await siteOf(deps, agent.id);
  if (!existing) await deps.hooks.check('before.site.open', { user: agent });
  const row = {
    code: s.code,
    name: s.name,
    host: s.host || null,
    logo_url: s.logoUrl || null,
    notice: s.notice || null,
    theme: s.theme || null,
    enabled: s.enabled,
    // A new host name waits for the operator's approval again.
    ...(existing?.host === (s.host || null) ? {} : { host_approved: false }),
    updated_at: deps.now(),
  };
  try {
    await transaction(deps.db, async (trx) => {
      if (existing) await trx('sites').where('id', existing.id).update(row);
      else await trx('sites').insert({ ...row, owner_id: agent.id, created_at: deps.now() });
      await audit(deps, trx, { actorId: agent.id, action: existing ? 'site.update' : 'site.open', targetType: 'site', targetId: s.code, before: existing ?? null, after: row, ip });
    });
  } catch (err) {
    if (isUniqueViolation(err)) {
      const taken = (await deps.db.knex('sites').where('code', s.code).whereNot('owner_id', agent.id).first('id')) ? 'code' : 'host';
      throw new ShopError('site_taken', 409, 'error.site_taken', { [taken]: 'error.site_taken' });
    }
    throw err;
  }
  invalidateSites(deps);
  return (await siteOf(deps, agent.id))!;
}

/** The operator approves (or withdraws) a sub-shop's own host name. */
export async function approveSiteHost(deps: Deps, input: { siteId: number; approved: boolean; actorId: number; ip?: string }): Promise<void> {
  await transaction(deps.db, async (trx) => {
    const before = await trx('sites').where('id', input.siteId).first('host', 'host_approved');
    if (!before?.host) throw errors.notFound();
    await trx('sites').where({ id: input.siteId, host: before.host }).update({ host_approved: input.approved, updated_at: deps.now() });
    await audit(deps, trx, { actorId: input.actorId, action: input.approved ? 'site.host.approve' : 'site.host.revoke', targetType: 'site', targetId: input.siteId, before: { host: before.host, approved: Boolean(before.host_approved) }, after: { approved: input.approved }, ip: input.ip });
  });
  invalidateSites(deps);
}

/** The operator closes or reopens a sub-shop. */
export async function setSiteDisabled(deps: Deps, input: { siteId: number; disabled: boolean; actorId: number; ip?: string }): Promise<void> {
  await transaction(deps.db, async (trx) => {
    const before = await trx('sites').where('id', input.siteId).first('disabled_by_admin');
    if (!before) throw errors.notFound();
    await trx('sites').where('id', input.siteId).update({ disabled_by_admin: input.disabled, updated_at: deps.now() });
    await audit(deps, trx, { actorId: input.actorId, action: input.disabled ? 'site.disable' : 'site.enable', targetType: 'site', targetId: input.siteId, before: { disabled: Boolean(before.disabled_by_admin) }, after: { disabled: input.disabled }, ip: input.ip });
  });
  invalidateSites(deps);
}

export async function listSites(deps: Deps, opts: { page?: number; pageSize?: number } = {}) {
  const pageSize = Math.min(opts.pageSize ?? 50, 200);
  const page = pageNumber(opts.page);
  const [rows, count] = await Promise.all([
    deps.db.read('sites as s').join('users as u', 'u.id', 's.owner_id').orderBy('s.id').limit(pageSize).offset((page - 1) * pageSize).select('s.*', 'u.email as owner_email'),
    deps.db.read('sites').count({ n: '*' }).first(),
  ]);
  return { sites: rows.map((r: Record<string, any>) => ({ ...toSite(r), ownerEmail: r.owner_email as string })), total: Number(count?.n ?? 0), page, pageSize };
}

/** Orders placed on an agent's sub-shop, newest first, with what the agent earns on each. */
export async function siteOrders(deps: Deps, site: Site, opts: { limit?: number } = {}) {
  const rows = await deps.db
    .read('orders as o')
    .leftJoin('order_margins as m', (j) => j.on('m.order_id', 'o.id').andOnVal('m.agent_id', site.ownerId))
    .where('o.site_id', site.id)
    .orderBy('o.id', 'desc')
    .limit(Math.min(opts.limit ?? 50, 200))
    .select('o.no', 'o.title', 'o.quantity', 'o.amount', 'o.status', 'o.created_at', 'm.amount as margin', 'm.status as margin_status');
  return rows.map((r: Record<string, any>) => ({
    no: r.no as string,
    title: r.title as string,
    quantity: Number(r.quantity),
    amount: Number(r.amount),
    status: r.status as string,
    margin: Number(r.margin ?? 0),
    marginStatus: (r.margin_status ?? null) as string | null,
    createdAt: Number(r.created_at),
  }));
}
