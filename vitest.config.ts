import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 20_000,
    // Gives the run one temporary folder, removed at its end; then lists what was skipped for a
    // missing system tool and how to install it.
    globalSetup: ['test/support/scratch-tmpdir.ts', 'test/support/skipped-summary.ts'],
    projects: [
      {
        // Pure: no socket, no listener, no child process (test/support/no-sockets.ts refuses them).
        // `npm run test:unit` is the fast loop.
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], setupFiles: ['test/support/no-sockets.ts'] },
      },
      {
        // Loopback servers, real clients and system tools; the default pool (forks).
        extends: true,
        test: { name: 'socket', include: ['test/socket/**/*.test.ts'] },
      },
    ],
  },
});
