import { defineConfig } from 'tsup';

export default defineConfig({
  // The fake epay site is shipped too, as @cardshop/plugin-payment-epay/testing, for end-to-end tests.
  entry: ['src/index.ts', 'src/testing/fake-epay.ts'],
  format: ['esm'],
  target: 'node20',
  dts: true,
  sourcemap: true,
  clean: true,
});
