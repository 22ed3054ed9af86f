// Runs one autocannon load in a worker thread, so the load generator has its own event loop and
// does not steal the server's. Each connection gets its own request object (and cookie, if given).
import autocannon from 'autocannon';
import { readlinkSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

const { url, connections, duration, method, path, body, headers = {}, cookies = [], expect, expectText } = workerData;
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
// The main thread measures CPU per thread from here on; it tells this one by its thread id.
parentPort.postMessage({ tid: readlinkSync('/proc/thread-self').split('/').pop() });
// Off the main thread autocannon returns raw histograms; aggregate them as the main thread would.
const result = autocannon.aggregateResult([await autocannon(opts)], { url, connections, duration });
parentPort.postMessage(JSON.parse(JSON.stringify({ ...result, errorBodies: samples, bad })));
