import { defineConfig } from 'tsup';

export default defineConfig({
  // The fake TronGrid is shipped too, as @cardshop/plugin-payment-usdt/testing, for end-to-end tests.
  entry: ['src/index.ts', 'src/testing/fake-trongrid.ts'],
  format: ['esm'],
  target: 'node20',
  dts: true,
  sourcemap: true,
  clean: true,
});
