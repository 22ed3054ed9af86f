import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(`./core/src/${p}`, import.meta.url));

export default defineConfig({
  // Tests import the core's source, so they never run against a stale build.
  resolve: {
    alias: [
      { find: /^@cardshop\/core\/testing$/, replacement: src('testing/index.ts') },
      { find: /^@cardshop\/core$/, replacement: src('index.ts') },
      { find: /^@cardshop\/plugin-([a-z0-9-]+)$/, replacement: fileURLToPath(new URL('./plugins/$1/src/index.ts', import.meta.url)) },
    ],
  },
  test: {
    include: ['core/src/**/*.test.ts', 'plugins/*/src/**/*.test.ts', 'create-cardshop/src/**/*.test.ts', 'examples/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Test files share their worker process: the core's modules load once per worker instead of
    // once per file, and test shops reuse the theme check and the migrated template databases.
    // Nothing in the suite mocks modules or changes globals, which is what isolation is for.
    isolate: false,
    // Most tests wait on sockets, databases and child processes, not the CPU: on CI's two cores,
    // four test files at a time finish sooner than two.
    maxWorkers: 4,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
