// Runs one autocannon load in a child process of its own, so the load generator has its own event
// loop and its own file descriptors (10,000 connections need 10,000 at each end). Each connection
// gets its own request object (and cookie, if given). It reports the CPU it used itself.
import autocannon from 'autocannon';

const { url, connections, duration, method, path, body, headers = {}, cookies = [], expect, expectText, warmup = 0 } = await new Promise((r) => process.once('message', r));
const samples = {}; // status -> first response body seen with it (autocannon has its own `samples`)
let bad = 0; // expected status, but the body lacked `expectText`
let next = 0;

const request = (cookie) => ({
  method,
  path,
  body,
  headers: cookie ? { ...headers, cookie } : headers,
  onResponse(status, text) {
    if (status !== expect) samples[status] ??= String(text).slice(0, 300);
    else if (expectText && !String(text).includes(expectText)) bad++;
  },
});

const opts = {
  url,
  connections,
  duration,
  requests: [request()],
  setupClient(client) {
    if (cookies.length) client.setRequests([request(cookies[next++ % cookies.length])]);
  },
};
// Connections opening and code warming up are not measured: a first run of `warmup` seconds.
if (warmup) await autocannon({ ...opts, duration: warmup, setupClient: opts.setupClient });
for (const k of Object.keys(samples)) delete samples[k];
bad = 0;
next = 0;
// The parent measures its own threads from here on.
process.send({ started: true });
const cpu = process.cpuUsage();
const started = performance.now();
const result = await autocannon(opts);
const used = process.cpuUsage(cpu);
const load = (used.user + used.system) / 1e6 / ((performance.now() - started) / 1000);
process.send(JSON.parse(JSON.stringify({ ...result, errorBodies: samples, bad, loadCpu: load })), () => process.exit(0));
