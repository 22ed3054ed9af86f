import { defineConfig } from 'vitest/config';

// Each test file starts a real shop (and MariaDB databases, when tested on it): more than the default seconds.
export default defineConfig({ test: { include: ['src/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 60_000 } });
