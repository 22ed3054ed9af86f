import { defineConfig } from 'tsup';

export default defineConfig({
  // The fake WeChat Pay server under src/testing/ is for this package's tests only: not built.
  entry: ['src/index.ts'],
  format: ['esm'],
  target: 'node20',
  dts: { entry: ['src/index.ts'] },
  sourcemap: true,
  clean: true,
});
