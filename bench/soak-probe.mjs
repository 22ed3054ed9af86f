// Loaded into the shop's serving process by bench/soak.mjs (NODE_OPTIONS=--import), so the shop
// itself carries no measuring code: every BENCH_PROBE_MS it appends one JSON line to
// BENCH_PROBE_FILE with the process's RSS, V8 heap (after a full collection with BENCH_PROBE_GC=1)
// and event-loop delay since the last line.
// The supervisor of `cardshop start` loads it too and stays silent: only a cluster worker serves.
import cluster from 'node:cluster';
import { appendFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const file = process.env.BENCH_PROBE_FILE;
if (file && cluster.isWorker) {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const ms = (ns) => Math.round(ns / 1e4) / 100;
  const collect = process.env.BENCH_PROBE_GC === '1' && typeof globalThis.gc === 'function';
  setInterval(() => {
    if (collect) globalThis.gc();
    const m = process.memoryUsage();
    const line = { pid: process.pid, at: Date.now(), rss: m.rss, heap: m.heapUsed, lagP50: ms(delay.percentile(50)), lagP99: ms(delay.percentile(99)), lagMax: ms(delay.max) };
    delay.reset();
    appendFileSync(file, `${JSON.stringify(line)}\n`);
  }, Number(process.env.BENCH_PROBE_MS ?? 10_000)).unref();
}
