import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Loopback servers and child processes in later suites; keep the default pool (forks).
    testTimeout: 20_000,
  },
});
