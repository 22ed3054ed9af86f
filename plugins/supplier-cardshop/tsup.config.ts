import { defineConfig } from 'tsup';

export default defineConfig({
  // The fake upstream ships too, as @cardshop/plugin-supplier-cardshop/testing, for end-to-end tests.
  entry: ['src/index.ts', 'src/testing/fake-upstream.ts'],
  format: ['esm'],
  target: 'node20',
  dts: true,
  sourcemap: true,
  clean: true,
});
