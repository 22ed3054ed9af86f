// Shared helpers for the cardshop benchmarks: env knobs, a load run, a koa hello server, tables.
import { fork } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** A positive number from the environment, or the default. */
export function num(name, fallback) {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

export const SECONDS = num('BENCH_SECONDS', 10);
export const CONNECTIONS = num('BENCH_CONNECTIONS', 100);
/** Seconds of load before each measured one (connections opening, code warming up), not counted. */
export const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);

/** Kills the process if a benchmark hangs; does not keep it alive. */
export function watchdog(ms) {
  setTimeout(() => {
    console.error(`benchmark still running after ${ms / 1000} s: giving up`);
    process.exit(3);
  }, ms).unref();
}

/** koa as core depends on it (bench/ is not a workspace package). */
export const Koa = createRequire(new URL('../core/package.json', import.meta.url))('koa');

/** A bare koa app answering "hello" on a free loopback port. */
export function helloServer() {
  const app = new Koa();
  app.use((ctx) => {
    ctx.body = 'hello';
  });
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => {
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        close: () => new Promise((r) => (server.close(() => r()), server.closeAllConnections())),
      });
    });
  });
}

/**
 * autocannon in a child process. `cookies` (optional) are handed out one per connection, round
 * robin. `rate` (optional) makes it an open load: requests leave evenly at that many per second
 * over the connections, answered or not, for the latency at a given rate; without it autocannon
 * has every connection send as fast as it is answered. Returns autocannon's result plus `errorBodies` (first body per unexpected status) and `bad`
 * (expected status whose body lacked `expectText`).
 */
export function load({ url, path = '/', method = 'GET', body, headers, cookies, expect = 200, expectText, connections = CONNECTIONS, seconds = SECONDS, rate, warmup = WARMUP }) {
  return new Promise((resolve, reject) => {
    // A rate is an open load, paced evenly (paced-worker.mjs); without one, autocannon.
    const child = fork(new URL(rate ? './paced-worker.mjs' : './load-worker.mjs', import.meta.url), { execArgv: [] });
    let before;
    child.on('message', (m) => {
      if (m.started) before = { at: performance.now(), ticks: threadTicks() };
      else resolve({ ...m, cpu: before && { ...cpuSince(before), load: m.loadCpu } });
    });
    child.once('error', reject);
    child.once('exit', (code) => code && reject(new Error(`load generator exited with ${code}`)));
    child.send({ url, path, method, body, headers, cookies, expect, expectText, connections, duration: seconds, rate, warmup });
  });
}

/** CPU ticks (user + system) of each thread of this process, by thread id. */
function threadTicks() {
  const out = new Map();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const f = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
      out.set(tid, Number(f[11]) + Number(f[12]));
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/**
 * Where the CPU went during a load, in cores (1 = one core busy all the time): the server's main
 * thread and its other threads (libuv's pool running SQLite and zlib, GC helpers); the load
 * generator's process adds its own.
 */
function cpuSince({ at, ticks }) {
  const now = threadTicks();
  const seconds = (performance.now() - at) / 1000;
  const TICK = 100; // USER_HZ
  const used = (t) => ((now.get(t) ?? 0) - (ticks.get(t) ?? 0)) / TICK / seconds;
  const main = used(String(process.pid));
  let all = 0;
  for (const t of now.keys()) all += used(t);
  return { main, other: all - main };
}

/** The figures we report from one autocannon result. */
export function figures(r, expect = 200) {
  const ok = Number(r.statusCodeStats?.[expect]?.count ?? 0);
  const total = Object.values(r.statusCodeStats ?? {}).reduce((s, c) => s + Number(c.count), 0);
  const others = Object.entries(r.statusCodeStats ?? {})
    .filter(([code]) => Number(code) !== expect)
    .map(([code, c]) => `${code}x${c.count}`);
  return {
    ok,
    okPerSec: ok / r.duration,
    other: total - ok,
    otherCodes: others.join(' ') || '-',
    errors: r.errors,
    timeouts: r.timeouts,
    cpu: r.cpu ? `${r.cpu.main.toFixed(2)} / ${r.cpu.other.toFixed(2)} / ${r.cpu.load.toFixed(2)}` : '-',
    p50: r.latency.p50,
    p99: r.latency.p99,
    max: r.latency.max,
    duration: r.duration,
  };
}

/** Prints rows (arrays of cells) as an aligned table, the first row being the header. */
export function table(rows) {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : String(c))));
  const widths = cells[0].map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(line(cells[0]));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of cells.slice(1)) console.log(line(r));
}

export const fmt = (n) => (Number.isInteger(n) ? n.toLocaleString('en-US') : n.toLocaleString('en-US', { maximumFractionDigits: 1 }));

/**
 * Waits until the shop has finished the requests autocannon left in flight (its database pool
 * and checkout queue idle for 300 ms), so closing it does not abort them. Gives up after 30 s.
 */
export async function settle(shop) {
  const pool = shop.db.knex.client.pool;
  const busy = () => shop.checkout.queue.pending || pool.numUsed() || pool.numPendingAcquires();
  const until = Date.now() + 30_000;
  for (let quiet = 0; quiet < 3 && Date.now() < until; ) {
    await new Promise((r) => setTimeout(r, 100));
    quiet = busy() ? 0 : quiet + 1;
  }
}

/**
 * Runs `work` under the V8 CPU profiler of this (the server's) thread when BENCH_PROFILE is set,
 * writing `${BENCH_PROFILE}${name}.cpuprofile` (open it in Chrome DevTools or speedscope).
 */
export async function profiled(name, work) {
  if (!process.env.BENCH_PROFILE) return work();
  const file = `${process.env.BENCH_PROFILE}${name}.cpuprofile`;
  const { Session } = await import('node:inspector/promises');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await work();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
    console.log(`cpu profile of the server thread: ${file}`);
  }
}
