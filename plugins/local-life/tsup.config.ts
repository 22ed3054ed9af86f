import { defineConfig } from 'tsup';

export default defineConfig({
  // The fake voucher supplier ships too, as @cardshop/plugin-local-life/testing, for end-to-end tests.
  entry: ['src/index.ts', 'src/testing/fake-supplier.ts'],
  format: ['esm'],
  target: 'node20',
  dts: true,
  sourcemap: true,
  clean: true,
});
