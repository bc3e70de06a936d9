import { defineConfig } from 'vitest/config';
import LongFilesFirst from './test/sequencer.ts';

// Two cores run the whole suite. Integration files spend most of their time waiting on real
// nats-servers and processes, so three run at a time (two left a core idle for a third of a CI
// run), each with a generous timeout (they wait on conditions, not sleeps).
export default defineConfig({
  test: {
    include: ['services/**/test/**/*.test.ts', 'shared/**/test/**/*.test.ts', 'test/**/*.test.ts'],
    // Resolves the nats-server every test starts (NATS_SERVER_BIN or the current one) and prints its version.
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 3,
    fileParallelism: true,
    sequence: { sequencer: LongFilesFirst },
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // The JSON report lets CI print a plain `N passed, N failed` line.
    reporters: ['default', ['json', { outputFile: process.env.VITEST_JSON_REPORT ?? 'test/artifacts/vitest-results.json' }]],
  },
});
