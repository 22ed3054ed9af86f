import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ApiClient, createMysqlDatabase, TEST_DIALECTS, TestClient } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packAll, publishedPackages, tarballName } from './packages.js';

const ROOT = path.resolve('.');
const CREATE = path.resolve('create-cardshop/dist/index.js');
const CARDSHOP = path.resolve('core/dist/cli/main.js');

/**
 * A user's shell: none of the test runner's pnpm settings (npm_config_*) and no CARDSHOP_*
 * variables, so the shop runs on what create-cardshop wrote.
 */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|CARDSHOP_|PNPM_)/i.test(k)));
  return { ...env, CARDSHOP_LOCALE: 'en', ...extra };
}

function create(args: string[], cwd: string) {
  // stdin is not a terminal here, as in CI: the scaffolder must not wait for answers. The limit is
  // a safety net only: npm install compiles sqlite3, about 2 minutes, far longer on a busy machine.
  const r = spawnSync(process.execPath, [CREATE, ...args], { cwd, env: userEnv(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 780_000 });
  if (r.error) throw new Error(`create-cardshop ${args[0]}: ${r.error.message}\n${r.stdout}`);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `cardshop start` as a process in `cwd`; resolves with its URL once it serves. */
async function start(command: string[], cwd: string, env: NodeJS.ProcessEnv) {
  const child = spawn(command[0]!, [...command.slice(1), 'start'], { cwd, env });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      const m = /serving (.*) at (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[2]!);
    });
    child.stderr.on('data', (d: Buffer) => (out += d));
    child.once('exit', (code) => reject(new Error(`cardshop start exited ${code}: ${out}`)));
  });
  return {
    url,
    output: () => out,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      return exited;
    },
  };
}

/**
 * The upstream shop a sub-agent shop is scaffolded against, run as an operator runs one with this
 * repository's core (on MariaDB when the tests have it): the demo catalog, an agent with 500.00
 * in its wallet, and that agent's API key from `cardshop apikey create`.
 */
async function startUpstream(dir: string) {
  mkdirSync(dir);
  const mysql = TEST_DIALECTS.includes('mysql') ? await createMysqlDatabase() : undefined;
  const env = userEnv({ CARDSHOP_SECRET: 'upstream-test-secret'.padEnd(48, '-'), CARDSHOP_DATABASE: mysql?.url ?? '', CARDSHOP_SHOP_NAME: 'Upstream Cards', PORT: '0' });
  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, [CARDSHOP, ...args], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`upstream: cardshop ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  run('seed', '--demo');
  run('user', 'create', '--email', 'agent@downstream.example', '--password', 'agent-password-1', '--role', 'agent', '--balance', '500.00');
  const credentials = JSON.parse(run('apikey', 'create', '--user', 'agent@downstream.example', '--label', 'sub-agent shop')) as { key: string; secret: string };
  const shop = await start([process.execPath, CARDSHOP], dir, env);
  return {
    ...credentials,
    url: shop.url,
    /** The agent's own view of the upstream, signed with its key. */
    api: new ApiClient(shop.url, credentials),
    async stop() {
      await shop.stop();
      await mysql?.drop();
    },
  };
}

describe('npx create-cardshop, installing from packed tarballs', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'create-cardshop-'));
  const packs = path.join(work, 'packs');
  let upstream: Awaited<ReturnType<typeof startUpstream>>;

  beforeAll(async () => {
    // Packs what the test command's build just made (building here would rewrite dist/ under
    // the other tests' feet); test/release.test.ts builds and packs in a copy of the repository.
    if (!existsSync(CREATE)) throw new Error('create-cardshop is not built: run the build first (npx -y pnpm@10.34.8 build)');
    mkdirSync(packs);
    packAll(ROOT, packs);
    upstream = await startUpstream(path.join(work, 'upstream'));
  });
  afterAll(async () => {
    await upstream?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  // One npm install serves both: the plain shop's choices (theme, a payment plugin, the admin) and a sub-agent's upstream.
  it('scaffolds a sub-agent shop that starts as its own process and sells its upstream\'s cards', { timeout: 900_000 }, async () => {
    for (const p of publishedPackages(ROOT)) expect(readdirSync(packs)).toContain(tarballName(p.name, p.version));

    const made = create(
      [
        'shop',
        '--yes',
        '--name', 'Tarball Cards',
        '--lang', 'en',
        '--database', 'sqlite',
        '--theme', 'wholesale',
        '--plugins', 'epay',
        '--upstream-url', upstream.url,
        '--upstream-key', upstream.key,
        '--upstream-secret', upstream.secret,
        '--markup', '20',
        '--admin-email', 'boss@example.com',
        '--admin-password', 'boss-password-1',
        '--package-manager', 'npm',
        '--packages-from', packs,
      ],
      work,
    );
    expect(made.stderr).toBe('');
    expect(made.code, made.stdout).toBe(0);
    for (const step of [
      `Trying the key at ${upstream.url}`,
      'Connected: your balance there is 500.00 CNY',
      '[1/5]',
      '[2/5] Installing dependencies with npm',
      '[3/5]',
      '[4/5] Creating the admin boss@example.com',
      `[5/5] Importing the catalog of ${upstream.url} (+20%)`,
      'Your shop is ready',
      'cd shop',
      'npm start',
      `Sub-agent shop: sells the catalog of ${upstream.url} at +20%`,
    ]) {
      expect(made.stdout).toContain(step);
    }
    // Chosen secrets are never echoed.
    expect(made.stdout).not.toContain('boss-password-1');
    expect(made.stdout).not.toContain(upstream.secret);

    const shop = path.join(work, 'shop');
    const pkg = JSON.parse(readFileSync(path.join(shop, 'package.json'), 'utf8'));
    const tarball = (name: string) => `file:${path.join(packs, tarballName(name, publishedPackages(ROOT).find((p) => p.name === name)!.version))}`;
    expect(pkg.dependencies).toEqual({
      '@cardshop/core': tarball('@cardshop/core'),
      '@cardshop/theme-wholesale': tarball('@cardshop/theme-wholesale'),
      '@cardshop/plugin-payment-epay': tarball('@cardshop/plugin-payment-epay'),
      '@cardshop/plugin-supplier-cardshop': tarball('@cardshop/plugin-supplier-cardshop'),
    });
    expect(pkg.overrides['@cardshop/theme-default']).toBe(tarball('@cardshop/theme-default')); // core's own dependency comes from the tarball too
    expect(readFileSync(path.join(shop, '.env'), 'utf8')).toMatch(/^CARDSHOP_SECRET=[0-9a-f]{64}$/m);
    expect(readFileSync(path.join(shop, '.env'), 'utf8')).toContain(`\nUPSTREAM_SECRET=${upstream.secret}\n`);
    expect(readFileSync(path.join(shop, 'cardshop.config.ts'), 'utf8')).not.toContain(upstream.secret);
    expect(existsSync(path.join(shop, 'themes/README.md'))).toBe(true);
    expect(readFileSync(path.join(shop, '.gitignore'), 'utf8')).toContain('.env');

    // The shop runs on its .env alone: the secret is not in this environment.
    const cardshop = path.join(shop, 'node_modules/.bin/cardshop');
    const env = userEnv({ PORT: '0' });
    const run = (args: string[]) => spawnSync(cardshop, args, { cwd: shop, env, encoding: 'utf8', timeout: 60_000 });
    // Filling in the plugin's settings in .env switches it on.
    appendFileSync(path.join(shop, '.env'), 'EPAY_API_URL=https://pay.example.com/\nEPAY_PID=1001\nEPAY_KEY=merchant-key-123\n');

    const served = await start([cardshop], shop, env);
    const url = served.url;
    try {
      expect(served.output()).toContain('serving Tarball Cards at');
      const home = await new TestClient(url).get('/');
      expect(home.status).toBe(200);
      expect(home.text).toContain('Tarball Cards');

      const admin = new TestClient(url);
      expect((await admin.post('/api/store/auth/login', { email: 'boss@example.com', password: 'boss-password-1' })).status).toBe(200);
      expect((await admin.get('/api/store/me')).body.user.role).toBe('admin');

      // The first start already sells the upstream's catalog, at the agent's price there +20%.
      const theirs = (await upstream.api.get('/products')).body.products.find((p: { sku: string }) => p.sku === 'STEAM-50');
      const ours = (await new TestClient(url).get('/api/store/products')).body.products.flatMap((p: { skus: unknown[] }) => p.skus).find((k: { code: string }) => k.code === 'STEAM-50');
      expect(ours.price).toBe(Math.ceil(theirs.price * 1.2));

      const buyer = new TestClient(url);
      // A new shop asks for the bot-defence challenge on registration and guests' checkout.
      expect((await buyer.post('/api/store/auth/register', { email: 'buyer@example.com', password: 'buyer-password-1' })).status).toBe(400);
      expect((await buyer.post('/api/store/auth/register', { email: 'buyer@example.com', password: 'buyer-password-1', challenge: await buyer.challenge('register') })).status).toBe(201);
      const topUp = run(['wallet', 'adjust', '--email', 'buyer@example.com', '--amount', '100.00', '--reason', 'test top-up']);
      expect(topUp.status).toBe(0);
      const bought = await buyer.post('/api/store/checkout', { sku: 'STEAM-50', quantity: 1, payment: 'wallet' });
      expect(bought.status).toBe(201);
      // The shop buys it upstream in the background; the buyer's order page follows.
      let order = bought.body.order;
      for (let i = 0; i < 600 && order.status !== 'delivered'; i++) {
        expect(['paid', 'delivering']).toContain(order.status);
        await new Promise((r) => setTimeout(r, 100));
        order = (await buyer.get(`/api/store/orders/${order.no}`)).body.order;
      }
      expect(order.status).toBe('delivered');
      expect(order.keys[0].card).toMatch(/^STEAM-50-[0-9A-F]{4}-/);
      // The key came out of the upstream's stock: its order under our order number carries it, paid from the agent's wallet there.
      const there = (await upstream.api.get(`/orders?idempotency_key=${order.no}`)).body.order;
      expect(there).toMatchObject({ status: 'delivered', keys: order.keys, amount: theirs.price });
      expect((await upstream.api.get('/wallet')).body.wallet.balance).toBe(50_000 - theirs.price);
      const ledger = run(['ledger', 'verify']);
      expect(ledger.stdout).toContain('ledger OK');

      const visitor = new TestClient(url);
      const guest = await visitor.post('/api/store/checkout', { sku: 'STEAM-50', quantity: 1, contact: 'guest@example.com', payment: 'epay', challenge: await visitor.challenge('checkout') });
      expect(guest.status).toBe(201);
      expect(guest.body.payment.url).toMatch(/^https:\/\/pay\.example\.com\/submit\.php\?/);
    } finally {
      expect(await served.stop()).toBe(0);
    }
  });

  it('tries the upstream key before installing anything, and names the flag to fix', () => {
    const sub = (...flags: string[]) => create(['sub', '--yes', '--packages-from', packs, ...flags], work);
    const cases: Array<[string[], string]> = [
      [['--upstream-key', upstream.key, '--upstream-secret', 'cs_not-the-secret-0000'], `--upstream-secret ${upstream.url} refused the signature, so the secret is wrong: The signature does not match (bad_signature)`],
      [['--upstream-key', 'ck_nobody-knows-me', '--upstream-secret', upstream.secret], `--upstream-key ${upstream.url} does not know this key: Unknown or revoked API key (invalid_key)`],
    ];
    for (const [flags, message] of cases) {
      const r = sub('--upstream-url', upstream.url, ...flags);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(message);
      expect(r.stdout).not.toContain('[1/');
    }
    expect(sub('--markup', '20').stderr).toContain('--markup needs --upstream-url too');
    expect(existsSync(path.join(work, 'sub'))).toBe(false);
  });

  it('refuses a folder that is not empty, without asking when there is no terminal', () => {
    const dir = path.join(work, 'taken');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    const r = create(['taken', '--packages-from', packs], work); // no --yes: stdin is not a terminal
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('taken is not empty');
    expect(r.stderr).toContain('--force');
    expect(readdirSync(dir)).toEqual(['notes.txt']);
  });

  it('stops on a MySQL URL that does not connect, and leaves no folder', () => {
    const r = create(['nodb', '--yes', '--database', 'mysql://root:hunter2@127.0.0.1:1/shop', '--packages-from', packs], work);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--database cannot connect to mysql://root:***@127.0.0.1:1/shop');
    expect(r.stderr).not.toContain('hunter2');
    expect(existsSync(path.join(work, 'nodb'))).toBe(false);
  });

  it('says which step failed, how to retry, and removes the folder it made', () => {
    const broken = path.join(work, 'broken-packs');
    mkdirSync(broken);
    for (const f of readdirSync(packs)) copyFileSync(path.join(packs, f), path.join(broken, f));
    const core = readdirSync(broken).find((f) => f.startsWith('cardshop-core-'))!;
    writeFileSync(path.join(broken, core), 'not a tarball');
    const r = create(['half', '--yes', '--package-manager', 'npm', '--packages-from', broken], work);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('[2/4] Installing dependencies with npm');
    expect(r.stderr).toContain('Installing dependencies with npm');
    expect(r.stderr).toContain('failed');
    expect(r.stderr).toContain('TAR_BAD_ARCHIVE'); // the end of npm's own output
    expect(r.stderr).toContain('has been removed');
    expect(r.stderr).toContain('run the same command again');
    expect(existsSync(path.join(work, 'half'))).toBe(false);
  });
});
