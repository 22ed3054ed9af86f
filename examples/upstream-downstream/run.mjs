#!/usr/bin/env node
// Two shops on loopback, each on its own SQLite file in a throwaway folder: an upstream with the demo
// catalog, and a downstream that buys from it through its Agent API (@cardshop/plugin-supplier-cardshop)
// and sells its catalog at +15%. Ctrl+C stops both and removes the folder.
//
//   node examples/upstream-downstream/run.mjs [--upstream-port 3201] [--downstream-port 3202]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { adjustWallet, createApiKey, createShop, createUser, seedDemoCatalog, toDecimalString } from '@cardshop/core';
import upstreamShop from '@cardshop/plugin-supplier-cardshop';

const { values } = parseArgs({ options: { 'upstream-port': { type: 'string', default: '3201' }, 'downstream-port': { type: 'string', default: '3202' } } });
const data = mkdtempSync(path.join(tmpdir(), 'cardshop-pair-'));
const MARKUP = 15;
const AGENT = { email: 'downstream@agent.example', password: 'agent-password-1', balance: 100_000 };
const BUYER = { email: 'buyer@downstream.example', password: 'buyer-password-1', balance: 20_000 };

/** A shop whose packages resolve from this folder, with its database in the throwaway one. */
const shopOf = (file, config) =>
  createShop({
    root: path.dirname(fileURLToPath(import.meta.url)),
    database: `sqlite:${path.join(data, file)}`,
    secret: randomBytes(32).toString('hex'),
    logLevel: 'warn',
    ...config,
  });

async function userWithBalance(shop, u, role) {
  const user = await createUser(shop, { email: u.email, password: u.password, role });
  await adjustWallet(shop, { userId: user.id, amount: u.balance, reason: 'example balance' });
  return user;
}

// The upstream: a catalog in stock, and the downstream's account there, funded, with an API key.
const upstream = shopOf('upstream.db', { shop: { name: '星河批发 Upstream', locale: 'zh-CN' } });
await upstream.ready();
await seedDemoCatalog(upstream);
const agent = await userWithBalance(upstream, AGENT, 'agent');
const { key, secret } = await createApiKey(upstream, agent.id, 'downstream shop');
const upstreamUrl = await upstream.listen(Number(values['upstream-port']), '127.0.0.1');

// The downstream: the plugin with that key; the first sync runs before it opens, so it opens selling.
const downstream = shopOf('downstream.db', {
  shop: { name: '小卡铺 Downstream', locale: 'zh-CN' },
  plugins: [upstreamShop({ id: 'upstream', url: upstreamUrl, key, secret, import: { markupPercent: MARKUP } })],
});
await downstream.ready();
const synced = await downstream.delivery.syncCatalog('upstream');
await userWithBalance(downstream, BUYER, 'customer');
const downstreamUrl = await downstream.listen(Number(values['downstream-port']), '127.0.0.1');

console.log(`upstream   ${upstream.config.shop.name} at ${upstreamUrl}  (demo catalog; the downstream's account there: ${AGENT.email}, ${toDecimalString(AGENT.balance)})`);
console.log(`downstream ${downstream.config.shop.name} at ${downstreamUrl}  (${synced.created} SKUs imported from the upstream at +${MARKUP}%)`);
console.log(`buyer login on the downstream: ${BUYER.email} / ${BUYER.password}  (wallet ${toDecimalString(BUYER.balance)})`);
console.log(`Ctrl+C stops both; their databases in ${data} go with them.`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await downstream.close();
  await upstream.close();
  rmSync(data, { recursive: true, force: true });
}
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
