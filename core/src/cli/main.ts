#!/usr/bin/env node
import { createReadStream, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ROLES, createUser, findUserByEmail, type Role } from '../agents/users.js';
import { createApiKey } from '../agents/api-keys.js';
import { seedDemoCatalog } from '../catalog/demo.js';
import { ConfigError, loadConfig, type ConfigInput } from '../config/config.js';
import { connect } from '../db/connect.js';
import { migrate, pendingMigrations } from '../db/migrate.js';
import { ShopError } from '../errors.js';
import { translate } from '../i18n/messages.js';
import { cliLocale, cliText, type CliKey } from './messages.js';
import { importKeys, previewImport, type ImportReport } from '../inventory/keys.js';
import { fillBackorders } from '../orders/backorders.js';
import { parseMoney, toDecimalString } from '../money/money.js';
import { createShop, type Shop } from '../shop.js';
import { CORE_VERSION, PluginError } from '../plugins/host.js';
import { checkTheme, type Finding } from '../themes/check.js';
import { ThemeError } from '../themes/renderer.js';
import { adjustWallet, ensureSystemAccounts, verifyLedger } from '../wallet/ledger.js';
import { isServingChild, supervise } from './cluster.js';
import { settleRebates } from '../pricing/rebates.js';
import { IMPORT_SOURCES, importOptionsSchema, renderReport, runImport } from '../import/index.js';
import { ImportError } from '../import/source.js';

// A shop's folder keeps its secrets in .env (create-cardshop writes one); the real environment wins.
if (existsSync('.env')) process.loadEnvFile('.env');

const LOCALE = cliLocale();
const text = (key: CliKey | string, params?: object) => cliText(LOCALE, key as CliKey, params);
const out = (line: string) => process.stdout.write(`${line}\n`);
const say = (key: CliKey, params?: object) => out(text(key, params));

/** The first rejected lines of an import (or its preview) with their reasons. */
function sayRejections(report: ImportReport): void {
  for (const r of report.rejections.slice(0, 20)) say('import_line', { line: r.line, reason: text(r.reason as CliKey) });
  if (report.rejected > 20) say('import_more', { n: report.rejected - 20 });
}

/** A mistake in how the command was called: one line on stderr, exit code 2. */
class UsageError extends Error {}
const usage = (key: CliKey, params?: object) => new UsageError(text(key, params));

interface Command {
  summary: CliKey;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  positionals?: number;
  run(args: { values: Record<string, string | boolean | undefined>; positionals: string[] }): Promise<number>;
}

const DEMO_USERS = {
  admin: { email: 'admin@demo.cardshop', password: 'demo-admin-123', role: 'admin' as Role, balance: 0 },
  buyer: { email: 'buyer@demo.cardshop', password: 'demo-buyer-123', role: 'customer' as Role, balance: 100_000 },
};

/**
 * Lines of a stream, read only once iteration starts: a readline interface made earlier would
 * emit lines (and close) while the import still looks its SKU up, and they would be lost.
 */
async function* linesOf(input: NodeJS.ReadableStream): AsyncGenerator<string> {
  yield* createInterface({ input, crlfDelay: Infinity });
}

async function open(overrides: ConfigInput = {}): Promise<Shop> {
  return createShop(await loadConfig(process.cwd(), overrides));
}

/** Opens the shop with its database up to date, runs `work`, and closes it. */
async function withShop<T>(overrides: ConfigInput, work: (shop: Shop) => Promise<T>): Promise<T> {
  const shop = await open(overrides);
  try {
    await migrateLoud(shop);
    return await work(shop);
  } finally {
    await shop.close();
  }
}

async function migrateLoud(shop: Shop): Promise<void> {
  const pending = await pendingMigrations(shop.db);
  if (pending.length) say('migrating', { db: shop.db.label, n: pending.length });
  for (const name of await shop.ready()) say('applied', { name });
}

async function ensureUser(shop: Shop, u: { email: string; password: string; role: Role; balance: number }) {
  const existing = await findUserByEmail(shop, u.email);
  if (existing) return existing;
  const user = await createUser(shop, u);
  if (u.balance) await adjustWallet(shop, { userId: user.id, amount: u.balance, reason: 'initial balance', ref: `initial:${user.id}` });
  return user;
}

async function seedDemo(shop: Shop): Promise<void> {
  const seeded = await seedDemoCatalog(shop, (sku) => say('seeded_sku', sku));
  if (seeded) say('demo_seeded');
  for (const u of Object.values(DEMO_USERS)) await ensureUser(shop, u);
  say('demo_admin', DEMO_USERS.admin);
  say('demo_buyer', { ...DEMO_USERS.buyer, balance: toDecimalString(DEMO_USERS.buyer.balance) });
}

function isFolder(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/** `error THEME-005 templates/home.hbs:12 unknown helper "shout"` */
function findingLine(f: Finding): string {
  const where = f.file && (f.line ? `${f.file}:${f.line}` : f.file);
  return [text(`theme.level.${f.level}`), f.rule, where, f.message].filter(Boolean).join(' ');
}

function port(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw usage('err.port', { value });
  return n;
}

/**
 * Resolves on SIGINT or SIGTERM: the long-running commands stop gracefully then. Both handlers go
 * at the first, so a second signal of either kind ends the process at once (the default action).
 */
function stopSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

const COMMANDS: Record<string, Command> = {
  start: {
    summary: 'cmd.start',
    usage: 'cardshop start [--port 3000] [--host 127.0.0.1] [--demo] [--workers N]',
    options: { port: { type: 'string' }, host: { type: 'string' }, demo: { type: 'boolean' }, workers: { type: 'string' } },
    async run({ values }) {
      // This process supervises; the shop runs in its child processes (cli/cluster.ts).
      if (!isServingChild()) {
        const workers = values.workers === undefined ? 1 : Number(values.workers);
        if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw usage('err.workers', { value: values.workers });
        const config = await loadConfig(process.cwd(), { demo: values.demo ? true : undefined });
        if (workers > 1 && !config.database.startsWith('mysql:')) throw usage('err.workers_sqlite');
        return supervise(workers, { restarting: (pid, how) => say('restarting', { pid, how }), givingUp: (pid, how) => say('giving_up', { pid, how }) });
      }
      const shop = await open({ port: port(values.port), host: values.host as string | undefined, demo: values.demo ? true : undefined });
      try {
        await migrateLoud(shop);
      } catch (err) {
        await shop.close();
        throw err;
      }
      if (shop.config.demo) await seedDemo(shop);
      const url = await shop.listen();
      say('serving', { name: shop.config.shop.name, url, db: shop.db.label });
      await stopSignal();
      say('stopping');
      await shop.close();
      return 0;
    },
  },
  worker: {
    summary: 'cmd.worker',
    usage: 'cardshop worker',
    options: {},
    // The delivery worker without the web server: more hands for a MySQL shop's queue.
    async run() {
      return withShop({}, async (shop) => {
        shop.delivery.worker.start();
        say('working', { db: shop.db.label, n: shop.config.delivery.concurrency });
        await stopSignal();
        say('stopping');
        return 0;
      });
    },
  },
  migrate: {
    summary: 'cmd.migrate',
    usage: 'cardshop migrate',
    options: {},
    async run() {
      // Migrations need the database only, not the secret.
      const config = await loadConfig(process.cwd(), { demo: true });
      const db = connect(config.database, config.root);
      try {
        const pending = await pendingMigrations(db);
        if (pending.length) say('migrating', { db: db.label, n: pending.length });
        for (const name of await migrate(db)) say('applied', { name });
        await ensureSystemAccounts(db, config.shop.currency);
        say('up_to_date', { db: db.label });
        return 0;
      } finally {
        await db.close();
      }
    },
  },
  seed: {
    summary: 'cmd.seed',
    usage: 'cardshop seed --demo',
    options: { demo: { type: 'boolean' } },
    async run({ values }) {
      if (!values.demo) throw usage('err.seed_demo');
      return withShop({ demo: true }, async (shop) => {
        await seedDemo(shop);
        return 0;
      });
    },
  },
  user: {
    summary: 'cmd.user',
    usage: 'cardshop user create --email E --password P [--role customer|agent|admin] [--balance 100.00]',
    options: { email: { type: 'string' }, password: { type: 'string' }, role: { type: 'string' }, balance: { type: 'string' } },
    positionals: 1,
    async run({ values, positionals }) {
      if (positionals[0] !== 'create') throw usage('err.unknown_sub', { cmd: `user ${positionals[0] ?? ''}`, hint: 'user create' });
      if (!values.email) throw usage('err.required', { flag: '--email' });
      if (!values.password) throw usage('err.required', { flag: '--password' });
      const role = (values.role ?? 'customer') as Role;
      if (!ROLES.includes(role)) throw usage('err.role', { roles: ROLES.join(', '), value: role });
      const balance = values.balance === undefined ? 0 : parseMoney(String(values.balance));
      if (balance === null || balance < 0) throw usage('err.balance', { value: values.balance });
      return withShop({}, async (shop) => {
        const user = await createUser(shop, { email: String(values.email), password: String(values.password), role });
        if (balance) await adjustWallet(shop, { userId: user.id, amount: balance, reason: 'initial balance (cli)', ref: `initial:${user.id}` });
        const roleName = text(`role.${user.role}`);
        out(text('user_created', { ...user, role: roleName }) + (balance ? text('with_balance', { balance: toDecimalString(balance) }) : ''));
        return 0;
      });
    },
  },
  keys: {
    summary: 'cmd.keys',
    usage: 'cardshop keys import FILE --sku SKU [--format text|csv] [--dry-run]',
    options: { sku: { type: 'string' }, format: { type: 'string' }, 'dry-run': { type: 'boolean' } },
    positionals: 2,
    async run({ values, positionals }) {
      const [sub, file] = positionals;
      if (sub !== 'import') throw usage('err.unknown_sub', { cmd: `keys ${sub ?? ''}`, hint: 'keys import FILE --sku SKU' });
      if (!file) throw usage('err.needs_file');
      if (!values.sku) throw usage('err.required', { flag: '--sku' });
      const format = (values.format ?? (file.toLowerCase().endsWith('.csv') ? 'csv' : 'text')) as 'text' | 'csv';
      if (format !== 'text' && format !== 'csv') throw usage('err.format', { value: values.format });
      let size: number;
      try {
        size = statSync(file).size;
      } catch {
        throw usage('err.cannot_read', { file });
      }
      return withShop({}, async (shop) => {
        if (values['dry-run']) {
          // Counts only: nothing is written, so the command can be run again and again.
          const preview = await previewImport(shop, { sku: String(values.sku), format, lines: linesOf(createReadStream(file)) });
          say('keys.preview', preview);
          if (!preview.dedupe) say('keys.no_dedupe');
          sayRejections(preview);
          return 0;
        }
        const stream = createReadStream(file);
        const { progressBar } = await import('./progress.js');
        const bar = progressBar(text('importing', { file: path.basename(file) }), size);
        const report = await importKeys(shop, {
          sku: String(values.sku),
          format,
          lines: linesOf(stream),
          onProgress: (p) => bar.update(stream.bytesRead, text('import_progress', p)),
        });
        bar.update(size, text('import_progress', report));
        bar.done();
        // Orders paid while the SKU was out of stock get their keys now, oldest first.
        if (report.added) await fillBackorders(shop);
        say('import_summary', report);
        sayRejections(report);
        return 0;
      });
    },
  },
  wallet: {
    summary: 'cmd.wallet',
    usage: 'cardshop wallet adjust --email E --amount 10.00 --reason "refund for #123"',
    options: { email: { type: 'string' }, amount: { type: 'string' }, reason: { type: 'string' } },
    positionals: 1,
    async run({ values, positionals }) {
      if (positionals[0] !== 'adjust') throw usage('err.unknown_sub', { cmd: `wallet ${positionals[0] ?? ''}`, hint: 'wallet adjust' });
      const amount = parseMoney(String(values.amount ?? ''));
      if (!amount) throw usage('err.amount', { value: values.amount ?? '' });
      if (!values.reason) throw usage('err.required', { flag: '--reason' });
      if (!values.email) throw usage('err.required', { flag: '--email' });
      return withShop({}, async (shop) => {
        const user = await findUserByEmail(shop, String(values.email));
        if (!user) throw usage('err.no_user', { email: values.email });
        const r = await adjustWallet(shop, { userId: user.id, amount, reason: String(values.reason) });
        say('wallet_adjusted', { email: user.email, balance: toDecimalString(r.balance), txn: r.txnId });
        return 0;
      });
    },
  },
  apikey: {
    summary: 'cmd.apikey',
    usage: 'cardshop apikey create --user EMAIL [--label TEXT]',
    options: { user: { type: 'string' }, label: { type: 'string' } },
    positionals: 1,
    async run({ values, positionals }) {
      if (positionals[0] !== 'create') throw usage('err.unknown_sub', { cmd: `apikey ${positionals[0] ?? ''}`, hint: 'apikey create --user EMAIL' });
      if (!values.user) throw usage('err.required', { flag: '--user' });
      return withShop({}, async (shop) => {
        const user = await findUserByEmail(shop, String(values.user));
        if (!user) throw usage('err.no_user', { email: values.user });
        const { key, secret } = await createApiKey(shop, user.id, values.label as string | undefined);
        // Machine-readable: a script stores the secret, which is never shown again.
        out(JSON.stringify({ key, secret }));
        return 0;
      });
    },
  },
  supplier: {
    summary: 'cmd.supplier',
    usage: 'cardshop supplier sync [ID]',
    options: {},
    positionals: 2,
    // What the minute chore of a running shop does, now: create-cardshop runs it so a sub-agent shop opens with its catalog.
    async run({ positionals }) {
      const [sub, id] = positionals;
      if (sub !== 'sync') throw usage('err.unknown_sub', { cmd: `supplier ${sub ?? ''}`, hint: 'supplier sync [ID]' });
      return withShop({}, async (shop) => {
        const importing = [...shop.plugins.suppliers.values()].filter((c) => c.catalog).map((c) => c.id);
        if (!importing.length) throw usage('err.no_suppliers');
        if (id && !importing.includes(id)) throw usage('err.no_supplier', { id, list: importing.join(', ') });
        for (const supplier of id ? [id] : importing) {
          const r = await shop.delivery.syncCatalog(supplier);
          say('supplier_synced', { ...r, skipped: r.skipped.length });
        }
        return 0;
      });
    },
  },
  ledger: {
    summary: 'cmd.ledger',
    usage: 'cardshop ledger verify',
    options: {},
    positionals: 1,
    async run({ positionals }) {
      if (positionals[0] !== 'verify') throw usage('err.unknown_sub', { cmd: `ledger ${positionals[0] ?? ''}`, hint: 'ledger verify' });
      return withShop({}, async (shop) => {
        const r = await verifyLedger(shop);
        say('ledger_checked', r);
        for (const d of r.drift) say('ledger_drift', { code: d.code, balance: toDecimalString(d.balance), journal: toDecimalString(d.journal) });
        for (const u of r.unbalanced) say('ledger_unbalanced', { id: u.id, sum: toDecimalString(u.sum) });
        for (const n of r.negative) say('ledger_negative', { code: n.code, balance: toDecimalString(n.balance) });
        say(r.ok ? 'ledger_ok' : 'ledger_bad');
        return r.ok ? 0 : 1;
      });
    },
  },
  rebates: {
    summary: 'cmd.rebates',
    usage: 'cardshop rebates settle --month YYYY-MM',
    options: { month: { type: 'string' } },
    positionals: 1,
    async run({ values, positionals }) {
      if (positionals[0] !== 'settle') throw usage('err.unknown_sub', { cmd: `rebates ${positionals[0] ?? ''}`, hint: 'rebates settle --month YYYY-MM' });
      if (!values.month) throw usage('err.required', { flag: '--month' });
      return withShop({}, async (shop) => {
        const { progressBar } = await import('./progress.js');
        let bar: ReturnType<typeof progressBar> | undefined;
        const r = await settleRebates(shop, String(values.month), (done, of) => (bar ??= progressBar(text('rebates_paying', { month: values.month }), of)).update(done));
        bar?.done();
        say('rebates_settled', { ...r, total: toDecimalString(r.total) });
        return 0;
      });
    },
  },
  import: {
    summary: 'cmd.import',
    usage: 'cardshop import <dujiaoka|acg-faka> --from mysql://user:pass@host:3306/db [--apply] [--prefix acg_] [--batch 1000]',
    options: { from: { type: 'string' }, apply: { type: 'boolean' }, prefix: { type: 'string' }, batch: { type: 'string' } },
    positionals: 1,
    async run({ values, positionals }) {
      const parsed = importOptionsSchema.safeParse({
        source: positionals[0],
        from: values.from,
        apply: Boolean(values.apply),
        prefix: values.prefix,
        batch: values.batch === undefined ? undefined : Number(values.batch),
      });
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const flag = issue.path[0] === 'source' ? 'SOURCE' : `--${String(issue.path[0])}`;
        throw usage('import.err.option', { flag, problem: text(issue.message.startsWith('import.') ? issue.message : 'import.err.invalid', { sources: IMPORT_SOURCES.join(', ') }) });
      }
      const options = parsed.data;
      const { progressBar } = await import('./progress.js');
      let bar: ReturnType<typeof progressBar> | undefined;
      const progress = (p: { table: string; done: number; total: number }) => (bar ??= progressBar(text('import.progress', { source: options.source }), p.total)).update(p.done, p.table);
      // The dry run touches nothing, not even the shop's migrations.
      const work = async (shop: Shop) => {
        const report = await runImport(shop, options, progress).catch((err: unknown) => {
          if (err instanceof ImportError) throw new UsageError(text(err.key as CliKey, err.params));
          throw err;
        });
        bar?.done();
        for (const line of renderReport(report, (k, p) => text(k, p))) out(line);
        say(options.apply ? 'import.applied' : 'import.dry', { rows: report.rows, seconds: (report.ms / 1000).toFixed(1), rate: Math.round(report.rows / Math.max(report.ms / 1000, 0.001)) });
        return 0;
      };
      if (options.apply) return withShop({}, work);
      const shop = await open();
      try {
        return await work(shop);
      } finally {
        await shop.close();
      }
    },
  },
  theme: {
    summary: 'cmd.theme',
    usage: 'cardshop theme check DIR',
    options: {},
    positionals: 2,
    // Reads the theme folder only: no database, no secret.
    async run({ positionals }) {
      const [sub, dir] = positionals;
      if (sub !== 'check') throw usage('err.unknown_sub', { cmd: `theme ${sub ?? ''}`, hint: 'theme check DIR' });
      if (!dir) throw usage('err.needs_dir');
      if (!isFolder(dir)) throw usage('err.not_dir', { dir });
      const report = checkTheme(path.resolve(dir), LOCALE);
      for (const f of report.findings) out(findingLine(f));
      const count = (level: Finding['level']) => report.findings.filter((f) => f.level === level).length;
      say(report.ok ? 'theme.passed' : 'theme.failed', { dir, errors: count('error'), warnings: count('warning'), recommendations: count('recommendation') });
      return report.ok ? 0 : 1;
    },
  },
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    text('help.title'),
    '',
    text('help.usage'),
    '',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${text(c.summary)}    ${c.usage}`),
    '',
    text('help.config'),
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    out(help());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') {
    out(CORE_VERSION);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) throw usage('err.unknown_command', { name });
  if (rest.includes('--help') || rest.includes('-h')) {
    out(`${text('usage', { usage: command.usage })}\n\n${text(command.summary)}`);
    return 0;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]!);
  }
  if (parsed.positionals.length > (command.positionals ?? 0)) {
    throw usage('err.unexpected_arg', { arg: parsed.positionals[command.positionals ?? 0], usage: command.usage });
  }
  return command.run(parsed as never);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // A serving child's channel to its supervisor would keep it alive (cli/cluster.ts).
    if (isServingChild()) process.disconnect();
  },
  (err: unknown) => {
    if (err instanceof UsageError) process.stderr.write(`cardshop: ${err.message}\n`);
    else if (err instanceof ConfigError || err instanceof ThemeError || err instanceof PluginError) process.stderr.write(`cardshop: ${err.message}\n`);
    else if (err instanceof ShopError) {
      const fields = err.fields ? ` (${Object.entries(err.fields).map(([k, v]) => `${k}: ${translate(LOCALE, v)}`).join(', ')})` : '';
      process.stderr.write(`cardshop: ${translate(LOCALE, err.messageKey, err.params)}${fields}\n`);
    } else {
      const e = err as { name?: string; issues?: Array<{ path: unknown[]; message: string }> };
      if (e?.name === 'ZodError' && e.issues) {
        process.stderr.write(`cardshop: ${e.issues.map((i) => `${i.path.join('.')}: ${translate(LOCALE, i.message)}`).join('; ')}\n`);
      } else {
        // Database errors quote their whole statement (with sealed keys in it): show the gist.
        const detail = process.env.CARDSHOP_DEBUG ? ((err as Error)?.stack ?? String(err)) : String((err as Error)?.message ?? err);
        process.stderr.write(`cardshop: ${detail.length > 400 ? `${detail.slice(0, 200)} … ${detail.slice(-150)}` : detail}\n`);
      }
    }
    process.exitCode = err instanceof UsageError ? 2 : 1;
  },
);
