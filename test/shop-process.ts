import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TestShop } from '@cardshop/core/testing';

/** Helpers for tests that run the shop as an operator does: `cardshop start` from core/dist, as a child process. */

export const BIN = path.resolve('core/dist/cli/main.js');
export const SUPPLIER_PLUGIN = pathToFileURL(path.resolve('plugins/supplier-http/dist/index.js')).href;

/** Waits for a condition the processes under test bring about; fails after `ms`. */
export async function until(what: string | (() => string | Promise<string>), check: () => Promise<boolean> | boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`gave up waiting: ${typeof what === 'string' ? what : await what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const DUMMY_PAYMENTS = pathToFileURL(path.resolve('core/dist/testing/index.js')).href;

/**
 * Writes `cardshop.config.mjs` into `root`: `config` as given, with the HTTP supplier plugin
 * configured by `supplier`, and the dummy payment gateway if asked.
 */
export function writeConfig(root: string, config: object, supplier?: object, opts: { dummyPayments?: boolean } = {}): void {
  const imports = [supplier && `import httpSupplier from ${JSON.stringify(SUPPLIER_PLUGIN)};`, opts.dummyPayments && `import { dummyPayments } from ${JSON.stringify(DUMMY_PAYMENTS)};`];
  const plugins = [supplier && `httpSupplier(${JSON.stringify(supplier)})`, opts.dummyPayments && 'dummyPayments()'];
  writeFileSync(
    path.join(root, 'cardshop.config.mjs'),
    `${imports.filter(Boolean).join('\n')}\nexport default { ...${JSON.stringify(config)}, plugins: [${plugins.filter(Boolean).join(', ')}] };\n`,
  );
}

export interface ShopProcess {
  child: ChildProcess;
  url: string;
  output(): string;
  /** Resolves when the process has exited, with its code or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `cardshop start` in `root` on the test shop's database and secret; resolves once it serves. */
export async function startShopProcess(t: TestShop, root: string, env: Record<string, string> = {}): Promise<ShopProcess> {
  const child = spawn(process.execPath, [BIN, 'start', '--port', '0', '--host', '127.0.0.1'], {
    cwd: root,
    env: { ...process.env, CARDSHOP_SECRET: t.shop.config.secret, CARDSHOP_DATABASE: t.shop.config.database, CARDSHOP_LOCALE: 'en', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const url = await Promise.race([
    new Promise<string>((resolve) => {
      const look = () => {
        const m = /serving .* at (http:\/\/\S+)/.exec(output);
        if (m) resolve(m[1]!);
        else child.stdout!.once('data', look);
      };
      look();
    }),
    exited.then((how) => Promise.reject(new Error(`cardshop start exited (${how.code ?? how.signal}) before serving: ${output}`))),
  ]);
  return { child, url, output: () => output, exited };
}
