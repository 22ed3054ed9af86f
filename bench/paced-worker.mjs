// An open load in a child process of its own: requests leave at an even `rate` per second over up
// to `connections` keep-alive connections, whatever the answers do, and each latency is counted
// from when its request was due to leave (so a stalled server is not hidden by requests that were
// simply not sent: no coordinated omission). autocannon's own rate limit sends each second's
// requests in a burst, which measures the burst, not the rate.
import { Agent, request } from 'node:http';

const { url, connections, duration, method, path, body, headers = {}, cookies = [], expect, expectText, rate, warmup = 0 } = await new Promise((r) => process.once('message', r));
const agent = new Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
const target = new URL(path, url);
const latencies = [];
const statuses = {};
const errorBodies = {};
let bad = 0;
let errors = 0;
let timeouts = 0;
let inFlight = 0;

/** Requests due in the first `warmup` seconds (connections opening, code warming up) are sent but not counted. */
function send(due, i) {
  const counted = due - start >= warmup * 1000;
  inFlight++;
  const cookie = cookies.length ? cookies[i % cookies.length] : undefined;
  const req = request(target, { method, agent, headers: { ...headers, ...(cookie ? { cookie } : {}), ...(body ? { 'content-length': Buffer.byteLength(body) } : {}) }, timeout: 10_000 }, (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => {
      inFlight--;
      if (!counted) return;
      latencies.push(performance.now() - due);
      statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
      const text = Buffer.concat(chunks).toString();
      if (res.statusCode !== expect) errorBodies[res.statusCode] ??= text.slice(0, 300);
      else if (expectText && !text.includes(expectText)) bad++;
    });
  });
  req.on('timeout', () => {
    if (counted) timeouts++;
    req.destroy(new Error('timeout'));
  });
  req.on('error', () => {
    inFlight--;
    if (counted) errors++;
  });
  req.end(body);
}

const start = performance.now();
// The parent measures its own threads from the end of the warm-up on; so does this process.
let cpu = process.cpuUsage();
setTimeout(() => {
  process.send({ started: true });
  cpu = process.cpuUsage();
}, warmup * 1000);
let sent = 0;
await new Promise((resolve) => {
  const tick = setInterval(() => {
    const now = performance.now();
    const elapsed = (now - start) / 1000;
    if (elapsed >= warmup + duration) {
      clearInterval(tick);
      resolve();
      return;
    }
    const due = Math.floor(elapsed * rate);
    for (; sent < due; sent++) send(start + (sent / rate) * 1000, sent);
  }, 1);
});
while (inFlight > 0) await new Promise((r) => setTimeout(r, 20));
const seconds = (performance.now() - start) / 1000 - warmup;
const used = process.cpuUsage(cpu);
latencies.sort((a, b) => a - b);
const at = (q) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0);
// Shaped like autocannon's result, for figures() in lib.mjs.
process.send(
  {
    duration: seconds,
    statusCodeStats: Object.fromEntries(Object.entries(statuses).map(([k, n]) => [k, { count: n }])),
    errors,
    timeouts,
    latency: { p50: at(0.5), p99: at(0.99), max: Math.round(latencies.at(-1) ?? 0) },
    requests: { total: latencies.length },
    throughput: { total: 0 },
    errorBodies,
    bad,
    loadCpu: (used.user + used.system) / 1e6 / seconds,
  },
  () => process.exit(0),
);
