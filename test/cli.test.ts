import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect } from '@cardshop/core';
import { createMysqlDatabase, TEST_DIALECTS } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = path.resolve('core/dist/cli/main.js');
const SECRET = 'cli-test-secret-'.padEnd(48, 'x');

function cardshop(args: string[], cwd: string, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    env: { ...process.env, CARDSHOP_LOCALE: 'en', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('cardshop command line', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cardshop-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints help for the command and each subcommand', () => {
    const r = cardshop(['--help'], dir);
    expect(r.code).toBe(0);
    for (const c of ['start', 'migrate', 'seed', 'user', 'keys', 'ledger']) expect(r.stdout).toContain(c);
    const sub = cardshop(['keys', '--help'], dir);
    expect(sub.code).toBe(0);
    expect(sub.stdout).toContain('cardshop keys import FILE --sku SKU');
  });

  it("prints the installed core's version", () => {
    const r = cardshop(['--version'], dir, { npm_package_version: '9.9.9' });
    expect(r.stdout.trim()).toBe(JSON.parse(readFileSync(path.resolve('core/package.json'), 'utf8')).version);
  });

  it('speaks Chinese by default', () => {
    const r = cardshop(['--help'], dir, { CARDSHOP_LOCALE: '', LANG: '' });
    expect(r.stdout).toContain('运营一家数字商品店铺');
    const bad = cardshop(['keys', 'import', 'x.txt'], dir, { CARDSHOP_LOCALE: '', LANG: 'zh_CN.UTF-8' });
    expect(bad.stderr).toMatch(/缺少 --sku/);
    expect(cardshop(['--help'], dir, { CARDSHOP_LOCALE: '', LANG: 'en_US.UTF-8' }).stdout).toContain('run a digital-goods shop');
  });

  it('answers bad arguments with one line and a non-zero exit', () => {
    const cases: Array<[string[], RegExp]> = [
      [['frobnicate'], /unknown command "frobnicate"/],
      [['keys', 'import', 'x.txt'], /--sku is required/],
      [['user', 'create', '--email', 'a@b.cd'], /--password is required/],
      [['user', 'create', '--email', 'a@b.cd', '--password', 'password123', '--balance', '12.345'], /--balance must be an amount/],
      [['start', '--port', 'eighty'], /--port must be a number/],
      [['ledger', 'verify', '--bogus'], /Unknown option '--bogus'/],
      [['seed'], /seed needs --demo/],
      [['supplier', 'sync'], /no supplier imports a catalog: configure one in cardshop.config.ts/],
    ];
    for (const [args, message] of cases) {
      const r = cardshop(args, dir, { CARDSHOP_SECRET: SECRET });
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
  });

  it('refuses to run a real shop without a secret, naming the key', () => {
    const r = cardshop(['user', 'create', '--email', 'a@b.cd', '--password', 'password123'], dir, { CARDSHOP_SECRET: '' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/secret: required/);
    const bad = cardshop(['migrate'], dir, { CARDSHOP_DATABASE: 'postgres://x' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/database: must be sqlite:<file> or mysql:\/\//);
  });
});

describe.each(TEST_DIALECTS)('cardshop against %s', (dialect) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cardshop-cli-'));
  let env: Record<string, string>;
  let drop = async () => {};

  beforeAll(async () => {
    let database = `sqlite:${path.join(dir, 'shop.db')}`;
    if (dialect === 'mysql') {
      const db = await createMysqlDatabase();
      database = db.url;
      drop = db.drop;
    }
    env = { CARDSHOP_DATABASE: database, CARDSHOP_SECRET: SECRET };
  });
  afterAll(async () => {
    await drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('migrates, and migrating again changes nothing', () => {
    const first = cardshop(['migrate'], dir, env);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('applied 20261202_001_init');
    const again = cardshop(['migrate'], dir, env);
    expect(again.code).toBe(0);
    expect(again.stdout).not.toContain('applied');
    expect(again.stdout).toContain('database is up to date');
  });

  it('creates users, imports keys with a dedupe report, and verifies the ledger', async () => {
    const created = cardshop(['user', 'create', '--email', 'boss@test.local', '--password', 'password123', '--role', 'admin', '--balance', '100.50'], dir, env);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/created admin #\d+ boss@test.local with balance 100\.50/);
    const dup = cardshop(['user', 'create', '--email', 'BOSS@test.local', '--password', 'password123'], dir, env);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/already registered/);

    const seeded = cardshop(['seed', '--demo'], dir, env);
    expect(seeded.code).toBe(0);
    const file = path.join(dir, 'keys.txt');
    writeFileSync(file, ['NEW-1', 'NEW-2,PIN-2', 'NEW-1', '', 'a,b,c', 'NEW-3----PIN-3', '# comment'].join('\n'));
    const imported = cardshop(['keys', 'import', file, '--sku', 'OFFICE-PRO'], dir, env);
    expect(imported.code).toBe(0);
    expect(imported.stdout).toContain('OFFICE-PRO: 3 added, 1 duplicates skipped, 1 rejected (7 lines)');
    expect(imported.stdout).toContain('line 5: more than two fields');
    expect(imported.stderr).toMatch(/importing keys\.txt 100%/);
    // the same file again adds nothing
    expect(cardshop(['keys', 'import', file, '--sku', 'OFFICE-PRO'], dir, env).stdout).toContain('0 added, 4 duplicates skipped');
    const csv = path.join(dir, 'keys.csv');
    writeFileSync(csv, 'card,password\n"C-1","P,1"\nC-2,P2\n');
    expect(cardshop(['keys', 'import', csv, '--sku', 'NETEASE-30'], dir, env).stdout).toContain('NETEASE-30: 2 added');
    const wrongSku = cardshop(['keys', 'import', file, '--sku', 'MOBILE-50'], dir, env);
    expect(wrongSku.code).toBe(1);
    expect(wrongSku.stderr).toMatch(/sku: Invalid value/);

    const ok = cardshop(['ledger', 'verify'], dir, env);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('ledger OK');

    // tamper with a balance behind the ledger's back: verify must notice and fail
    const db = connect(env.CARDSHOP_DATABASE!, dir);
    await db.knex('accounts').where('code', 'like', 'wallet:%').increment('balance', 1);
    await db.close();
    const drift = cardshop(['ledger', 'verify'], dir, env);
    expect(drift.code).toBe(1);
    expect(drift.stdout).toMatch(/DRIFT wallet:\d+: balance 100\.51, journal says 100\.50/);
  });

  it('settles a month of rebates once, and refuses a month not over or not a month', () => {
    const settled = cardshop(['rebates', 'settle', '--month', '2020-01'], dir, env);
    expect(settled.code).toBe(0);
    expect(settled.stdout).toContain('rebates for 2020-01: 0 agents paid now, 0.00 in all; 0 paid before');
    const future = cardshop(['rebates', 'settle', '--month', '2999-01'], dir, env);
    expect(future.code).not.toBe(0);
    expect(future.stderr).toMatch(/month: That month is not over yet/);
    expect(cardshop(['rebates', 'settle', '--month', '2020-13'], dir, env).stderr).toMatch(/month: A month as YYYY-MM/);
    expect(cardshop(['rebates', 'settle'], dir, env).stderr).toMatch(/--month is required/);
  });

  it('refuses to open the database with another secret', () => {
    const r = cardshop(['ledger', 'verify'], dir, { ...env, CARDSHOP_SECRET: 'another-secret'.padEnd(40, '!') });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/different CARDSHOP_SECRET/);
  });

  it('starts the demo shop as a process and serves a purchase', async () => {
    // a new, empty shop: no secret given (the demo makes one), the default SQLite file or a fresh MySQL database
    const demoDir = mkdtempSync(path.join(tmpdir(), 'cardshop-demo-'));
    const mysql = dialect === 'mysql' ? await createMysqlDatabase() : undefined;
    const child = spawn(process.execPath, [BIN, 'start', '--demo', '--port', '0'], {
      cwd: demoDir,
      env: { ...process.env, CARDSHOP_LOCALE: 'en', CARDSHOP_SECRET: '', CARDSHOP_DATABASE: mysql?.url ?? '' },
    });
    let output = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        output += d;
        const m = /serving .* at (http:\/\/\S+)/.exec(output);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${output}`)));
    });
    try {
      expect(output).toContain('demo buyer: buyer@demo.cardshop / demo-buyer-123');
      expect((await fetch(url)).status).toBe(200);
      const login = await fetch(`${url}/api/store/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'buyer@demo.cardshop', password: 'demo-buyer-123' }),
      });
      const cookie = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
      const order = await fetch(`${url}/api/store/checkout`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie },
        body: JSON.stringify({ sku: 'STEAM-100', payment: 'wallet' }),
      });
      expect(order.status).toBe(201);
      expect((await order.json()).order.keys).toHaveLength(1);
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      await mysql?.drop();
      rmSync(demoDir, { recursive: true, force: true });
    }
  });
});
