import type { Deps } from '../context.js';
import { errors } from '../errors.js';

/**
 * Everything that happened to one order after it was placed, for the console's order page: who
 * bought it where, its delivery jobs and what each supplier was asked, the journal entries that
 * moved its money, and the agents' margins.
 */
export interface OrderTrail {
  buyer: { id: number; email: string } | null;
  contact: string | null;
  sku: string;
  site: string | null;
  clientIp: string | null;
  jobs: Array<{ kind: string; status: string; attempts: number; runAt: number; lastError: string | null; createdAt: number; updatedAt: number }>;
  /** One row per supplier asked, in the order they were tried. */
  attempts: Array<{ supplier: string; supplierSku: string; status: string; supplierOrderNo: string | null; cost: number | null; reason: string | null; createdAt: number; updatedAt: number }>;
  /** Journal entries of the order's transactions (`order:<no>:…`), oldest first. */
  ledger: Array<{ txn: string; kind: string; memo: string | null; account: string; amount: number; createdAt: number }>;
  margins: Array<{ agentId: number; email: string; amount: number; status: string }>;
}

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

export async function orderTrail(deps: Deps, no: string): Promise<OrderTrail> {
  const db = deps.db.read;
  const order = await db('orders').where('no', no).first('id', 'user_id', 'sku_id', 'site_id', 'contact', 'client_ip');
  if (!order) throw errors.notFound('error.order_not_found');
  const [buyer, sku, site, jobs, attempts, ledger, margins] = await Promise.all([
    order.user_id === null ? undefined : db('users').where('id', order.user_id).first('id', 'email'),
    db('skus').where('id', order.sku_id).first('code'),
    order.site_id === null ? undefined : db('sites').where('id', order.site_id).first('code'),
    db('delivery_jobs').where('order_id', order.id).orderBy('id').select('kind', 'status', 'attempts', 'run_at', 'last_error', 'created_at', 'updated_at'),
    db('supplier_orders').where('order_id', order.id).orderBy('id').select('supplier', 'supplier_sku', 'status', 'supplier_order_no', 'cost', 'reason', 'created_at', 'updated_at'),
    // The transactions' ids are `order:<no>:pay`, `…:refund`, …: a range on the primary key.
    db('journal_transactions as t')
      .join('journal_entries as e', 'e.txn_id', 't.id')
      .join('accounts as a', 'a.id', 'e.account_id')
      .where('t.id', '>=', `order:${no}:`)
      .andWhere('t.id', '<', `order:${no};`)
      .orderBy('e.id')
      .select('t.id as txn', 't.kind', 't.memo', 'a.code as account', 'e.amount', 'e.created_at'),
    db('order_margins as m').join('users as u', 'u.id', 'm.agent_id').where('m.order_id', order.id).orderBy('m.id').select('m.agent_id', 'u.email', 'm.amount', 'm.status'),
  ]);
  return {
    buyer: buyer ? { id: Number(buyer.id), email: buyer.email } : null,
    contact: order.contact,
    sku: sku?.code ?? '',
    site: site?.code ?? null,
    clientIp: order.client_ip ?? null,
    jobs: jobs.map((j) => ({
      kind: j.kind,
      status: j.status,
      attempts: Number(j.attempts),
      runAt: Number(j.run_at),
      lastError: j.last_error,
      createdAt: Number(j.created_at),
      updatedAt: Number(j.updated_at),
    })),
    attempts: attempts.map((a) => ({
      supplier: a.supplier,
      supplierSku: a.supplier_sku,
      status: a.status,
      supplierOrderNo: a.supplier_order_no,
      cost: num(a.cost),
      reason: a.reason,
      createdAt: Number(a.created_at),
      updatedAt: Number(a.updated_at),
    })),
    ledger: ledger.map((e) => ({ txn: e.txn, kind: e.kind, memo: e.memo, account: e.account, amount: Number(e.amount), createdAt: Number(e.created_at) })),
    margins: margins.map((m) => ({ agentId: Number(m.agent_id), email: m.email, amount: Number(m.amount), status: m.status })),
  };
}
