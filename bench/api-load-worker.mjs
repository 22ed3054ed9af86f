// Agent API load in its own thread: `connections` loops posting signed orders, each with a fresh
// nonce and Idempotency-Key, for `seconds`. The signature is computed here from DESIGN.md's
// definition, not with the core's helper.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';

const { url, credentials, connections, seconds } = workerData;
const body = JSON.stringify({ sku: 'BENCH-CARD', quantity: 1 });
const bodyHash = createHash('sha256').update(body).digest('hex');
const path = '/api/v1/orders';
const end = Date.now() + seconds * 1000;
const latencies = [];
let created = 0;
let other = 0;

async function loop() {
  while (Date.now() < end) {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = randomBytes(12).toString('hex');
    const signature = createHmac('sha256', credentials.secret).update(`POST\n${path}\n${timestamp}\n${nonce}\n${bodyHash}`).digest('hex');
    const t0 = performance.now();
    const res = await fetch(url + path, {
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/json',
        'idempotency-key': randomBytes(12).toString('hex'),
        'x-cardshop-key': credentials.key,
        'x-cardshop-timestamp': timestamp,
        'x-cardshop-nonce': nonce,
        'x-cardshop-signature': signature,
      },
    });
    await res.text();
    latencies.push(performance.now() - t0);
    if (res.status === 201) created++;
    else other++;
  }
}

const started = performance.now();
await Promise.all(Array.from({ length: connections }, loop));
latencies.sort((a, b) => a - b);
const at = (q) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]);
parentPort.postMessage({ created, other, seconds: (performance.now() - started) / 1000, p50: at(0.5), p99: at(0.99) });
