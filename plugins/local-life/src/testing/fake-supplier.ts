import { randomInt } from 'node:crypto';
import { definePlugin, type ConfiguredPlugin, type SupplierConnector } from '@cardshop/core';

/**
 * A ticketing platform in memory, as the remote side of supplier-issued vouchers: it sells
 * e-codes (ten digits, its own) for its products, one per unit, and keeps every order by our
 * reference, so asking again returns the same codes and never sells twice. Pass `plugin` to the
 * shop and route a voucher SKU to supplier `id`.
 */
export interface FakeTicketing {
  readonly id: string;
  readonly plugin: ConfiguredPlugin;
  /** Codes sold, by our reference. */
  readonly orders: Map<string, string[]>;
  /** Every placeOrder call, by reference (a repeat shows up twice here, once in `orders`). */
  readonly calls: string[];
}

export function createFakeTicketing(id = 'fake-ticketing'): FakeTicketing {
  const orders = new Map<string, string[]>();
  const calls: string[] = [];
  const answer = (codes: string[]) => ({ status: 'delivered' as const, keys: codes.map((card) => ({ card })), supplierOrderNo: `T-${codes[0]}` });
  const connector: SupplierConnector = {
    id,
    label: { 'zh-CN': '票务平台（测试）', en: 'Ticketing (fake)' },
    async placeOrder({ reference, quantity }) {
      calls.push(reference);
      if (!orders.has(reference)) orders.set(reference, Array.from({ length: quantity }, () => String(randomInt(1e9, 1e10))));
      return answer(orders.get(reference)!);
    },
    async queryOrder({ reference }) {
      const codes = orders.get(reference);
      return codes ? answer(codes) : { status: 'unknown' };
    },
  };
  const plugin = definePlugin({ name: `${id}-plugin`, version: '0.0.0', core: '*', setup: (ctx) => ctx.supplier(connector) });
  return { id, plugin: plugin(), orders, calls };
}
