import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createMysqlDatabase, TEST_DIALECTS } from '@cardshop/core/testing';
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
