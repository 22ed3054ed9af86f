import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createMysqlDatabase, TEST_DIALECTS, TestClient } from '@cardshop/core/testing';
import { describe, expect, it } from 'vitest';

const BIN = path.resolve('core/dist/cli/main.js');

describe.each(TEST_DIALECTS)('examples/single-shop (%s)', (dialect) => {
  it('starts from its cardshop.config.ts and sells', async () => {
    // A copy, so the example's folder gets no data/; node_modules resolve from the original.
    const dir = mkdtempSync(path.join(path.resolve('examples/single-shop'), '.run-'));
    cpSync(path.resolve('examples/single-shop/cardshop.config.ts'), path.join(dir, 'cardshop.config.ts'));
    const mysql = dialect === 'mysql' ? await createMysqlDatabase() : undefined;
    const env = {
      ...process.env,
      CARDSHOP_LOCALE: 'en',
      CARDSHOP_SECRET: 'example-test-secret'.padEnd(40, '-'),
      CARDSHOP_DATABASE: mysql?.url ?? '',
      PORT: '0',
    };
    try {
      for (const args of [['seed', '--demo'], ['user', 'create', '--email', 'shopper@example.com', '--password', 'password123', '--balance', '50.00']]) {
        const seeded = spawn(process.execPath, [BIN, ...args], { cwd: dir, env });
        expect(await new Promise((r) => seeded.once('exit', r))).toBe(0);
      }
      const child = spawn(process.execPath, [BIN, 'start'], { cwd: dir, env });
      let out = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          out += d;
          const m = /serving (.*) at (http:\/\/\S+)/.exec(out);
          if (m) resolve(m[2]!);
        });
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
      });
      try {
        expect(out).toContain('serving 星河数卡 at');
        const home = await fetch(url);
        expect(await home.text()).toContain('星河数卡');
        const login = await fetch(`${url}/api/store/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: 'shopper@example.com', password: 'password123' }),
        });
        const cookie = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
        // the example caps quantity at 50 in its config
        const tooMany = await fetch(`${url}/api/store/checkout`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', cookie },
          body: JSON.stringify({ sku: 'VIP-MONTH', quantity: 51, fields: { account: '12345678' }, payment: 'wallet' }),
        });
        expect(tooMany.status).toBe(400);
        const ok = await fetch(`${url}/api/store/checkout`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', cookie },
          body: JSON.stringify({ sku: 'NETEASE-30', quantity: 1, payment: 'wallet' }),
        });
        expect(ok.status).toBe(201);
        expect((await ok.json()).order.keys[0].password).toMatch(/^[0-9a-f]{8}$/);
      } finally {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGINT');
        expect(await exited).toBe(0);
      }
    } finally {
      await mysql?.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('examples/upstream-downstream', () => {
  it('starts a shop and a shop buying from it with one command, and the downstream delivers upstream keys', async () => {
    const child = spawn(process.execPath, [path.resolve('examples/upstream-downstream/run.mjs'), '--upstream-port', '0', '--downstream-port', '0'], { env: { ...process.env, CARDSHOP_LOCALE: 'en' } });
    let out = '';
    const ready = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d;
        if (out.includes('Ctrl+C')) resolve(out);
      });
      child.stderr.on('data', (d: Buffer) => (out += d));
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    const upstream = /^upstream .* at (http:\/\/\S+)/m.exec(ready)![1]!;
    const downstream = /^downstream .* at (http:\/\/\S+) .*\((\d+) SKUs imported from the upstream at \+15%\)/m.exec(ready)!;
    const [, email, password] = /^buyer login on the downstream: (\S+) \/ (\S+)/m.exec(ready)!;
    const data = /databases in (\S+) go with them/.exec(ready)![1]!;
    try {
      expect(Number(downstream[2])).toBeGreaterThan(0);
      const stockUpstream = async () =>
        (await new TestClient(upstream).get('/api/store/products/steam-wallet')).body.product.skus.find((s: { code: string }) => s.code === 'STEAM-50').stock;
      const before = await stockUpstream();

      const buyer = await new TestClient(downstream[1]!).login(email!, password!);
      const listed = (await buyer.get('/api/store/products')).body.products.flatMap((p: { skus: unknown[] }) => p.skus).find((s: { code: string }) => s.code === 'STEAM-50');
      expect(listed.price).toBe(Math.ceil(4850 * 1.15)); // the demo catalog's ¥50 Steam card, +15%
      const placed = await buyer.post('/api/store/checkout', { sku: 'STEAM-50', payment: 'wallet' });
      expect(placed.status, placed.text).toBe(201);
      // The downstream buys it upstream in the background; its order page follows.
      let order = placed.body.order;
      for (let i = 0; i < 600 && order.status !== 'delivered'; i++) {
        expect(['paid', 'delivering']).toContain(order.status);
        await new Promise((r) => setTimeout(r, 100));
        order = (await buyer.get(`/api/store/orders/${order.no}`)).body.order;
      }
      expect(order).toMatchObject({ status: 'delivered', keys: [{ card: expect.stringMatching(/^STEAM-50-[0-9A-F]{4}-/) }] });
      expect(await stockUpstream()).toBe(before - 1);
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(existsSync(data)).toBe(false);
    }
  });
});
