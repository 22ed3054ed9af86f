#!/usr/bin/env node
import { createReadStream, statSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ROLES, createUser, findUserByEmail, type Role } from '../agents/users.js';
import { seedDemoCatalog } from '../catalog/demo.js';
import { ConfigError, loadConfig, type ConfigInput } from '../config/config.js';
import { connect } from '../db/connect.js';
import { migrate, pendingMigrations } from '../db/migrate.js';
import { ShopError } from '../errors.js';
import { translate } from '../i18n/messages.js';
import { importKeys } from '../inventory/keys.js';
import { parseMoney, toDecimalString } from '../money/money.js';
import { createShop, type Shop } from '../shop.js';
import { adjustWallet, ensureSystemAccounts, verifyLedger } from '../wallet/ledger.js';

/** A mistake in how the command was called: one line on stderr, exit code 2. */
class UsageError extends Error {}

interface Command {
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  positionals?: number;
  run(args: { values: Record<string, string | boolean | undefined>; positionals: string[] }): Promise<number>;
}

const DEMO_USERS = {
  admin: { email: 'admin@demo.cardshop', password: 'demo-admin-123', role: 'admin' as Role, balance: 0 },
  buyer: { email: 'buyer@demo.cardshop', password: 'demo-buyer-123', role: 'customer' as Role, balance: 100_000 },
};

const out = (line: string) => process.stdout.write(`${line}\n`);

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
  if (pending.length) out(`migrating ${shop.db.label}: ${pending.length} pending`);
  for (const name of await shop.migrate()) out(`  applied ${name}`);
}

async function ensureUser(shop: Shop, u: { email: string; password: string; role: Role; balance: number }) {
  const existing = await findUserByEmail(shop, u.email);
  if (existing) return existing;
  const user = await createUser(shop, u);
  if (u.balance) await adjustWallet(shop, { userId: user.id, amount: u.balance, reason: 'initial balance', ref: `initial:${user.id}` });
  return user;
}

async function seedDemo(shop: Shop): Promise<void> {
  const seeded = await seedDemoCatalog(shop, (step) => out(`  seeded ${step}`));
  if (seeded) out('demo catalog seeded');
  for (const u of Object.values(DEMO_USERS)) await ensureUser(shop, u);
  out(`demo admin: ${DEMO_USERS.admin.email} / ${DEMO_USERS.admin.password}`);
  out(`demo buyer: ${DEMO_USERS.buyer.email} / ${DEMO_USERS.buyer.password} (balance ${toDecimalString(DEMO_USERS.buyer.balance)})`);
}

function port(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--port must be a number from 0 to 65535, got "${value}"`);
  return n;
}

const COMMANDS: Record<string, Command> = {
  start: {
    summary: 'migrate the database and serve the shop',
    usage: 'cardshop start [--port 3000] [--host 127.0.0.1] [--demo]',
    options: { port: { type: 'string' }, host: { type: 'string' }, demo: { type: 'boolean' } },
    async run({ values }) {
      const shop = await open({ port: port(values.port), host: values.host as string | undefined, demo: values.demo ? true : undefined });
      try {
        await migrateLoud(shop);
      } catch (err) {
        await shop.close();
        throw err;
      }
      if (shop.config.demo) await seedDemo(shop);
      const url = await shop.listen();
      out(`cardshop is serving ${shop.config.shop.name} at ${url}  (${shop.db.label})`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      out('stopping…');
      await shop.close();
      return 0;
    },
  },
  migrate: {
    summary: 'apply pending database migrations (safe to run again)',
    usage: 'cardshop migrate',
    options: {},
    async run() {
      // Migrations need the database only, not the secret.
      const config = await loadConfig(process.cwd(), { demo: true });
      const db = connect(config.database, config.root);
      try {
        const pending = await pendingMigrations(db);
        if (pending.length) out(`migrating ${db.label}: ${pending.length} pending`);
        for (const name of await migrate(db)) out(`  applied ${name}`);
        await ensureSystemAccounts(db, config.shop.currency);
        out(`database is up to date (${db.label})`);
        return 0;
      } finally {
        await db.knex.destroy();
      }
    },
  },
  seed: {
    summary: 'load the demo catalog and demo users into an empty shop',
    usage: 'cardshop seed --demo',
    options: { demo: { type: 'boolean' } },
    async run({ values }) {
      if (!values.demo) throw new UsageError('seed needs --demo (the only seed there is)');
      return withShop({ demo: true }, async (shop) => {
        await seedDemo(shop);
        return 0;
      });
    },
  },
  user: {
    summary: 'create a user: user create --email E --password P [--role customer|agent|admin] [--balance 100.00]',
    usage: 'cardshop user create --email E --password P [--role customer|agent|admin] [--balance 100.00]',
    options: { email: { type: 'string' }, password: { type: 'string' }, role: { type: 'string' }, balance: { type: 'string' } },
    positionals: 1,
    async run({ values, positionals }) {
      if (positionals[0] !== 'create') throw new UsageError(`unknown subcommand "user ${positionals[0] ?? ''}": try "user create"`);
      if (!values.email) throw new UsageError('--email is required');
      if (!values.password) throw new UsageError('--password is required');
      const role = (values.role ?? 'customer') as Role;
      if (!ROLES.includes(role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}, got "${role}"`);
      const balance = values.balance === undefined ? 0 : parseMoney(String(values.balance));
      if (balance === null || balance < 0) throw new UsageError(`--balance must be an amount like 100.00, got "${values.balance}"`);
      return withShop({}, async (shop) => {
        const user = await createUser(shop, { email: String(values.email), password: String(values.password), role });
        if (balance) await adjustWallet(shop, { userId: user.id, amount: balance, reason: 'initial balance (cli)', ref: `initial:${user.id}` });
        out(`created ${user.role} #${user.id} ${user.email}${balance ? ` with balance ${toDecimalString(balance)}` : ''}`);
        return 0;
      });
    },
  },
  keys: {
    summary: 'import card keys: keys import FILE --sku SKU [--format text|csv]',
    usage: 'cardshop keys import FILE --sku SKU [--format text|csv]',
    options: { sku: { type: 'string' }, format: { type: 'string' } },
    positionals: 2,
    async run({ values, positionals }) {
      const [sub, file] = positionals;
      if (sub !== 'import') throw new UsageError(`unknown subcommand "keys ${sub ?? ''}": try "keys import FILE --sku SKU"`);
      if (!file) throw new UsageError('keys import needs a FILE');
      if (!values.sku) throw new UsageError('--sku is required');
      const format = (values.format ?? (file.toLowerCase().endsWith('.csv') ? 'csv' : 'text')) as 'text' | 'csv';
      if (format !== 'text' && format !== 'csv') throw new UsageError(`--format must be text or csv, got "${values.format}"`);
      let size: number;
      try {
        size = statSync(file).size;
      } catch {
        throw new UsageError(`cannot read ${file}`);
      }
      return withShop({}, async (shop) => {
        const stream = createReadStream(file);
        const { progressBar } = await import('./progress.js');
        const bar = progressBar(`importing ${path.basename(file)}`, size);
        const report = await importKeys(shop, {
          sku: String(values.sku),
          format,
          lines: linesOf(stream),
          onProgress: (p) => bar.update(stream.bytesRead, `keys: +${p.added} dup ${p.duplicates} bad ${p.rejected}`),
        });
        bar.update(size, `keys: +${report.added} dup ${report.duplicates} bad ${report.rejected}`);
        bar.done();
        out(`${report.sku}: ${report.added} added, ${report.duplicates} duplicates skipped, ${report.rejected} rejected (${report.lines} lines)`);
        for (const r of report.rejections.slice(0, 20)) out(`  line ${r.line}: ${r.reason}`);
        if (report.rejected > 20) out(`  … ${report.rejected - 20} more rejected lines`);
        return 0;
      });
    },
  },
  wallet: {
    summary: 'credit or debit a wallet: wallet adjust --email E --amount 10.00|-10.00 --reason R',
    usage: 'cardshop wallet adjust --email E --amount 10.00 --reason "refund for #123"',
    options: { email: { type: 'string' }, amount: { type: 'string' }, reason: { type: 'string' } },
    positionals: 1,
    async run({ values, positionals }) {
      if (positionals[0] !== 'adjust') throw new UsageError(`unknown subcommand "wallet ${positionals[0] ?? ''}": try "wallet adjust"`);
      const amount = parseMoney(String(values.amount ?? ''));
      if (!amount) throw new UsageError(`--amount must be a non-zero amount like 10.00 or -10.00, got "${values.amount ?? ''}"`);
      if (!values.reason) throw new UsageError('--reason is required');
      if (!values.email) throw new UsageError('--email is required');
      return withShop({}, async (shop) => {
        const user = await findUserByEmail(shop, String(values.email));
        if (!user) throw new UsageError(`no user with e-mail ${values.email}`);
        const r = await adjustWallet(shop, { userId: user.id, amount, reason: String(values.reason) });
        out(`${user.email}: balance ${toDecimalString(r.balance)} (journal ${r.txnId})`);
        return 0;
      });
    },
  },
  ledger: {
    summary: 'ledger verify: recompute every balance from the journal; exit 1 on drift',
    usage: 'cardshop ledger verify',
    options: {},
    positionals: 1,
    async run({ positionals }) {
      if (positionals[0] !== 'verify') throw new UsageError(`unknown subcommand "ledger ${positionals[0] ?? ''}": try "ledger verify"`);
      return withShop({}, async (shop) => {
        const r = await verifyLedger(shop);
        out(`checked ${r.accounts} accounts and ${r.transactions} journal transactions`);
        for (const d of r.drift) out(`DRIFT ${d.code}: balance ${toDecimalString(d.balance)}, journal says ${toDecimalString(d.journal)}`);
        for (const u of r.unbalanced) out(`UNBALANCED journal ${u.id}: entries sum to ${toDecimalString(u.sum)}`);
        for (const n of r.negative) out(`NEGATIVE ${n.code}: ${toDecimalString(n.balance)}`);
        out(r.ok ? 'ledger OK' : 'ledger has problems');
        return r.ok ? 0 : 1;
      });
    },
  },
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'cardshop: run a digital-goods shop',
    '',
    'usage: cardshop <command> [options]   (cardshop <command> --help for one command)',
    '',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'configuration: cardshop.config.{ts,js,json} in this folder, and CARDSHOP_* environment variables',
    '(CARDSHOP_DATABASE, CARDSHOP_SECRET, PORT, ...).',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    out(help());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') {
    out(process.env.npm_package_version ?? '0.1.0');
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) throw new UsageError(`unknown command "${name}" (run cardshop --help)`);
  if (rest.includes('--help') || rest.includes('-h')) {
    out(`usage: ${command.usage}\n\n${command.summary}`);
    return 0;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]!);
  }
  if (parsed.positionals.length > (command.positionals ?? 0)) {
    throw new UsageError(`unexpected argument "${parsed.positionals[command.positionals ?? 0]}" (usage: ${command.usage})`);
  }
  return command.run(parsed as never);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) process.stderr.write(`cardshop: ${err.message}\n`);
    else if (err instanceof ConfigError) process.stderr.write(`cardshop: ${err.message}\n`);
    else if (err instanceof ShopError) {
      const fields = err.fields ? ` (${Object.entries(err.fields).map(([k, v]) => `${k}: ${translate('en', v)}`).join(', ')})` : '';
      process.stderr.write(`cardshop: ${translate('en', err.messageKey, err.params)}${fields}\n`);
    } else {
      const e = err as { name?: string; issues?: Array<{ path: unknown[]; message: string }> };
      if (e?.name === 'ZodError' && e.issues) {
        process.stderr.write(`cardshop: ${e.issues.map((i) => `${i.path.join('.')}: ${translate('en', i.message)}`).join('; ')}\n`);
      } else process.stderr.write(`cardshop: ${(err as Error)?.stack ?? String(err)}\n`);
    }
    process.exitCode = err instanceof UsageError ? 2 : 1;
  },
);
