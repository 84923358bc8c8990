import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start real openvpn processes in network namespaces: give them time,
    // and sweep labs a killed run may have left behind.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    globalSetup: ['test/lab/global-setup.ts'],
    pool: 'forks',
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
