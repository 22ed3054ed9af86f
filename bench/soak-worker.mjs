// The soak's traffic, in its own process (forked by soak.mjs): an open load of `rate` requests a
// second, paced evenly, each one of the mix below chosen by weight, for `seconds`. Every `window`
// seconds it reports what was asked, what came back and the latency; it never waits for an
// answer before sending the next request, and counts as `skipped` what it could not send because
// `maxInFlight` requests were already waiting.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';

const MIX = [
  ['home', 40],
  ['product', 25],
  ['checkout', 12],
  ['lookup', 13],
  ['agent list', 5],
  ['agent order', 5],
];
const BROWSER = { 'accept-encoding': 'gzip, deflate, br', 'accept-language': 'zh-CN,zh;q=0.9' };

process.once('message', async ({ url, rate, seconds, window, cookies, credentials, products, sku, maxInFlight }) => {
  const deck = MIX.flatMap(([kind, weight]) => Array(weight).fill(kind));
  const orders = cookies.map(() => []); // order numbers each buyer has, for look-ups
  let n = 0;
  let inFlight = 0;
  let stats = fresh();

  function fresh() {
    return { sent: 0, ok: 0, skipped: 0, errors: 0, statuses: {}, byKind: {}, latencies: [], firstBodies: {} };
  }

  const signed = (method, path, body = '') => {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = randomBytes(12).toString('hex');
    const bodyHash = createHash('sha256').update(body).digest('hex');
    const sig = createHmac('sha256', credentials.secret).update([method, path, timestamp, nonce, bodyHash].join('\n')).digest('hex');
    return { 'x-cardshop-key': credentials.key, 'x-cardshop-timestamp': timestamp, 'x-cardshop-nonce': nonce, 'x-cardshop-signature': sig };
  };

  /** The request for one draw of the mix: [path, init, expected status, after(body)]. */
  function request(kind, i) {
    const buyer = i % cookies.length;
    const cookie = cookies[buyer];
    switch (kind) {
      case 'home':
        return ['/', { headers: BROWSER }, 200];
      case 'product':
        return [products[i % products.length], { headers: BROWSER }, 200];
      case 'checkout': {
        const body = JSON.stringify({ sku, quantity: 1, payment: 'wallet' });
        return ['/api/store/checkout', { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body }, 201, (b) => orders[buyer].push(JSON.parse(b).order?.no ?? JSON.parse(b).no)];
      }
      case 'lookup': {
        const own = orders[buyer];
        return own.length ? [`/api/store/orders/${own[i % own.length]}`, { headers: { cookie } }, 200] : ['/api/store/products', { headers: BROWSER }, 200];
      }
      case 'agent list':
        return ['/api/v1/products', { headers: signed('GET', '/api/v1/products') }, 200];
      case 'agent order': {
        const body = JSON.stringify({ sku, quantity: 1 });
        return ['/api/v1/orders', { method: 'POST', body, headers: { ...signed('POST', '/api/v1/orders', body), 'content-type': 'application/json', 'idempotency-key': randomBytes(12).toString('hex') } }, 201];
      }
    }
  }

  // Node's http with kept-alive sockets rather than fetch: fetch decodes every brotli page and
  // holds far more per request, so at 500 requests/s on this machine it, not the shop, fell behind.
  // A body is kept only where it is needed (an order's number, or what an unexpected answer said);
  // the others are drained as they come, compressed.
  const agent = new Agent({ keepAlive: true, maxSockets: maxInFlight });
  const send = (path, init, keep) =>
    new Promise((resolve, reject) => {
      const req = httpRequest(url + path, { method: init.method ?? 'GET', headers: init.headers, agent }, (res) => {
        const chunks = [];
        const kept = keep(res.statusCode);
        res.on('data', (c) => kept && chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(init.body);
    });

  async function one() {
    const i = n++;
    const kind = deck[i % deck.length];
    const [path, init, expect, after] = request(kind, i);
    stats.sent++;
    stats.byKind[kind] = (stats.byKind[kind] ?? 0) + 1;
    inFlight++;
    const t0 = performance.now();
    try {
      const res = await send(path, init, (status) => status !== expect || Boolean(after));
      const text = res.text;
      const s = stats; // answers count in the window they arrive in
      s.latencies.push(performance.now() - t0);
      s.statuses[res.status] = (s.statuses[res.status] ?? 0) + 1;
      if (res.status === expect) {
        s.ok++;
        after?.(text);
      } else s.firstBodies[`${kind} ${res.status}`] ??= text.slice(0, 200);
    } catch (err) {
      stats.errors++;
      stats.firstBodies[`${kind} error`] ??= String(err.cause?.code ?? err.message);
    } finally {
      inFlight--;
    }
  }

  const start = performance.now();
  let due = 0;
  let nextReport = window;
  const tick = setInterval(() => {
    const elapsed = (performance.now() - start) / 1000;
    for (const target = Math.floor(elapsed * rate); due < target; due++) {
      if (inFlight >= maxInFlight) stats.skipped++;
      else void one();
    }
    if (elapsed >= nextReport) {
      const s = stats;
      stats = fresh();
      nextReport += window;
      const sorted = s.latencies.sort((a, b) => a - b);
      const at = (q) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
      const { latencies, ...rest } = s;
      process.send({ window: { ...rest, p50: at(0.5), p99: at(0.99), max: Math.round(sorted.at(-1) ?? 0), answered: latencies.length } });
    }
    if (elapsed >= seconds) {
      clearInterval(tick);
      const wait = setInterval(() => {
        if (inFlight) return;
        clearInterval(wait);
        process.send({ done: true });
      }, 50);
    }
  }, 5);
});
