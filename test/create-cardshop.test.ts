import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TestClient } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packAll, publishedPackages, tarballName } from './packages.js';

const ROOT = path.resolve('.');
const CREATE = path.resolve('create-cardshop/dist/index.js');

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
  const r = spawnSync(process.execPath, [CREATE, ...args], { cwd, env: userEnv(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 540_000 });
  if (r.error) throw new Error(`create-cardshop ${args[0]}: ${r.error.message}\n${r.stdout}`);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('npx create-cardshop, installing from packed tarballs', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'create-cardshop-'));
  const packs = path.join(work, 'packs');

  beforeAll(() => {
    // Packs what the test command's build just made (building here would rewrite dist/ under
    // the other tests' feet); test/release.test.ts builds and packs in a copy of the repository.
    if (!existsSync(CREATE)) throw new Error('create-cardshop is not built: run the build first (npx -y pnpm@10.34.8 build)');
    mkdirSync(packs);
    packAll(ROOT, packs);
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('scaffolds a shop that starts as its own process and sells a card', { timeout: 600_000 }, async () => {
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
        '--admin-email', 'boss@example.com',
        '--admin-password', 'boss-password-1',
        '--package-manager', 'npm',
        '--packages-from', packs,
      ],
      work,
    );
    expect(made.stderr).toBe('');
    expect(made.code, made.stdout).toBe(0);
    for (const step of ['[1/4]', '[2/4] Installing dependencies with npm', '[3/4]', '[4/4] Creating the admin boss@example.com', 'Your shop is ready', 'cd shop', 'npm start']) {
      expect(made.stdout).toContain(step);
    }
    expect(made.stdout).not.toContain('boss-password-1'); // a chosen password is never echoed

    const shop = path.join(work, 'shop');
    const pkg = JSON.parse(readFileSync(path.join(shop, 'package.json'), 'utf8'));
    const tarball = (name: string) => `file:${path.join(packs, tarballName(name, publishedPackages(ROOT).find((p) => p.name === name)!.version))}`;
    expect(pkg.dependencies).toEqual({
      '@cardshop/core': tarball('@cardshop/core'),
      '@cardshop/theme-wholesale': tarball('@cardshop/theme-wholesale'),
      '@cardshop/plugin-payment-epay': tarball('@cardshop/plugin-payment-epay'),
    });
    expect(pkg.overrides['@cardshop/theme-default']).toBe(tarball('@cardshop/theme-default')); // core's own dependency comes from the tarball too
    expect(readFileSync(path.join(shop, '.env'), 'utf8')).toMatch(/^CARDSHOP_SECRET=[0-9a-f]{64}$/m);
    expect(existsSync(path.join(shop, 'themes/README.md'))).toBe(true);
    expect(readFileSync(path.join(shop, '.gitignore'), 'utf8')).toContain('.env');

    // The shop runs on its .env alone: the secret is not in this environment.
    const cardshop = path.join(shop, 'node_modules/.bin/cardshop');
    const env = userEnv({ PORT: '0' });
    const run = (args: string[]) => spawnSync(cardshop, args, { cwd: shop, env, encoding: 'utf8', timeout: 60_000 });
    const seeded = run(['seed', '--demo']);
    expect(seeded.stderr).toBe('');
    expect(seeded.status).toBe(0);
    // Filling in the plugin's settings in .env switches it on.
    appendFileSync(path.join(shop, '.env'), 'EPAY_API_URL=https://pay.example.com/\nEPAY_PID=1001\nEPAY_KEY=merchant-key-123\n');

    const child = spawn(cardshop, ['start'], { cwd: shop, env });
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
    try {
      expect(out).toContain('serving Tarball Cards at');
      const home = await new TestClient(url).get('/');
      expect(home.status).toBe(200);
      expect(home.text).toContain('Tarball Cards');

      const admin = new TestClient(url);
      expect((await admin.post('/api/store/auth/login', { email: 'boss@example.com', password: 'boss-password-1' })).status).toBe(200);
      expect((await admin.get('/api/store/me')).body.user.role).toBe('admin');

      const buyer = new TestClient(url);
      expect((await buyer.post('/api/store/auth/register', { email: 'buyer@example.com', password: 'buyer-password-1' })).status).toBe(201);
      const topUp = run(['wallet', 'adjust', '--email', 'buyer@example.com', '--amount', '100.00', '--reason', 'test top-up']);
      expect(topUp.status).toBe(0);
      const bought = await buyer.post('/api/store/checkout', { sku: 'STEAM-50', quantity: 1, payment: 'wallet' });
      expect(bought.status).toBe(201);
      expect(bought.body.order.status).toBe('delivered');
      expect(bought.body.order.keys[0].card).toMatch(/^STEAM-50-[0-9A-F]{4}-/);

      const guest = await new TestClient(url).post('/api/store/checkout', { sku: 'STEAM-50', quantity: 1, contact: 'guest@example.com', payment: 'epay' });
      expect(guest.status).toBe(201);
      expect(guest.body.payment.url).toMatch(/^https:\/\/pay\.example\.com\/submit\.php\?/);
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    }
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
