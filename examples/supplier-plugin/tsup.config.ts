import { defineConfig } from 'tsup';

export default defineConfig({
  // The fake Acme ships too (`cardshop-plugin-supplier-acme/testing`), so shops can test against it.
  entry: ['src/index.ts', 'src/testing/fake-acme.ts'],
  format: ['esm'],
  target: 'node20',
  dts: true,
  sourcemap: true,
  clean: true,
});
