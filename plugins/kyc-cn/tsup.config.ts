import { defineConfig } from 'tsup';

export default defineConfig({
  // The fake verification API ships too, as @cardshop/plugin-kyc-cn/testing, for end-to-end tests.
  entry: ['src/index.ts', 'src/testing/fake-kyc.ts'],
  format: ['esm'],
  target: 'node20',
  dts: true,
  sourcemap: true,
  clean: true,
});
