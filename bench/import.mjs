// Bulk key import through the real CLI: `cardshop keys import FILE --sku OFFICE-PRO` on a
// generated file of LINES keys (every third `card,password`, 1% repeats), in a fresh demo shop.
// Reports wall time, keys/s and the child's peak RSS (GNU time, or /proc VmHWM polling).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createShop, stockOf } from '../core/dist/index.js';
import { num, table, watchdog } from './lib.mjs';

const LINES = num('BENCH_LINES', 1_000_000);
const TIMEOUT_S = num('BENCH_IMPORT_TIMEOUT', 600);
const SKU = 'OFFICE-PRO'; // a card SKU of the demo catalog (it starts with 50 keys)
const CLI = fileURLToPath(new URL('../core/dist/cli/main.js', import.meta.url));
const GNU_TIME = '/usr/bin/time';
watchdog((TIMEOUT_S + 300) * 1000);

const dir = mkdtempSync(path.join(tmpdir(), 'cardshop-import-'));
const shopDir = path.join(dir, 'shop');
mkdirSync(shopDir);
const secret = randomBytes(24).toString('hex');
const env = { ...process.env, CARDSHOP_SECRET: secret, CARDSHOP_LOG_LEVEL: 'error', CARDSHOP_LOCALE: 'en' };
delete env.CARDSHOP_DATABASE; // the shop folder's default sqlite:./data/shop.db
process.once('SIGINT', () => (rmSync(dir, { recursive: true, force: true }), process.exit(130)));

try {
  // The key file: unique random keys, every third with a password, every 100th a repeat.
  const file = path.join(dir, 'keys.txt');
  const salt = randomBytes(3).toString('hex').toUpperCase();
  const key = (i) => (i % 3 === 0 ? `NET-${salt}-${i},${(i * 7919).toString(36)}` : `KEY-${salt}-${i.toString(36).toUpperCase().padStart(6, '0')}`);
  writeFileSync(file, '');
  let repeats = 0;
  for (let start = 0; start < LINES; start += 100_000) {
    const chunk = [];
    for (let i = start; i < Math.min(start + 100_000, LINES); i++) {
      if (i % 100 === 99) (repeats++, chunk.push(key(i - 50)));
      else chunk.push(key(i));
    }
    appendFileSync(file, `${chunk.join('\n')}\n`);
  }
  console.log(`key file: ${LINES.toLocaleString('en-US')} lines, ${repeats.toLocaleString('en-US')} repeats`);

  const cli = (...args) => {
    const r = spawnSync(process.execPath, [CLI, ...args], { cwd: shopDir, env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`cardshop ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  };
  cli('migrate');
  cli('seed', '--demo');

  // The measured run.
  const timeFile = path.join(dir, 'time.txt');
  const useTime = existsSync(GNU_TIME);
  // BENCH_PROFILE=/tmp/p- also writes the CLI's CPU profile to /tmp/p-import.cpuprofile.
  const prof = process.env.BENCH_PROFILE;
  const profArgs = prof ? ['--cpu-prof', `--cpu-prof-dir=${path.dirname(path.resolve(prof))}`, `--cpu-prof-name=${path.basename(prof)}import.cpuprofile`] : [];
  const cmd = [process.execPath, ...profArgs, CLI, 'keys', 'import', file, '--sku', SKU];
  const started = process.hrtime.bigint();
  const child = useTime
    ? spawn(GNU_TIME, ['-v', '-o', timeFile, ...cmd], { cwd: shopDir, env, stdio: ['ignore', 'pipe', 'inherit'], timeout: TIMEOUT_S * 1000 })
    : spawn(cmd[0], cmd.slice(1), { cwd: shopDir, env, stdio: ['ignore', 'pipe', 'inherit'], timeout: TIMEOUT_S * 1000 });
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  let hwmKb = 0; // fallback: the kernel's high-water mark of the child, polled
  const poll = useTime
    ? undefined
    : setInterval(() => {
        const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) hwmKb = Math.max(hwmKb, Number(m[1]));
      }, 50);
  const code = await new Promise((resolve) => child.once('close', (c, signal) => resolve(c ?? signal)));
  clearInterval(poll);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (code !== 0) throw new Error(`import exited with ${code}:\n${stdout}`);
  if (useTime) hwmKb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(readFileSync(timeFile, 'utf8'))?.[1] ?? 0);

  const summary = stdout.split('\n').find((l) => l.startsWith(SKU)) ?? `(no summary line in: ${stdout.trim()})`;
  const added = Number(/(\d+) added/.exec(summary)?.[1] ?? 0);

  // Check the result in the database: the counter matches the keys, and every unique line landed.
  const shop = createShop({ root: shopDir, secret, logLevel: 'error' });
  const stock = await stockOf(shop, SKU);
  await shop.close();

  console.log(`cli: ${summary}`);
  console.log('');
  table([
    ['figure', 'value', 'target'],
    ['wall time s', seconds, '< 60'],
    ['keys/s (lines / wall time)', Math.round(LINES / seconds), ''],
    [`peak RSS MB (${useTime ? 'GNU time' : 'VmHWM polled'})`, hwmKb / 1024, '< 300'],
    ['keys added', added, LINES - repeats],
    ['stock counter == available', `${stock.counter} == ${stock.available}`, 50 + LINES - repeats],
  ]);
  const ok = stock.counter === stock.available && added === LINES - repeats && stock.available === 50 + added;
  console.log('');
  console.log(`targets: time ${seconds < 60 ? 'met' : 'MISSED'}, memory ${hwmKb / 1024 < 300 ? 'met' : 'MISSED'}; counts ${ok ? 'ok' : 'FAIL'}`);
  process.exitCode = ok ? 0 : 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
