import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that take minutes, started first: with two workers a long file that starts last is
 * the run's tail (the chaos soak started at 17 of 20 minutes in one CI run). Vitest learns
 * durations from its cache, which a clean clone does not have; this list is the clean clone's.
 */
export const LONG_FILES = [
  'test/chaos/chaos.test.ts',
  'test/local/npm-start.test.ts',
  'test/operations/pause.test.ts',
  'test/cli/cli.test.ts',
  'test/tickets/fan-in.test.ts',
  'test/tickets/order-deadlines.test.ts',
  'test/deploy/cluster-failover.test.ts',
  'test/tickets/ticketing.test.ts',
  'test/security/magic-link.test.ts',
  'test/magic-link/login.e2e.test.ts',
  'test/tickets/e2e.test.ts',
] as const;

const rank = (spec: TestSpecification): number => {
  const i = LONG_FILES.findIndex((file) => spec.moduleId.endsWith(file));
  return i === -1 ? LONG_FILES.length : i;
};

export default class LongFilesFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    // Stable: files off the list keep vitest's own order (cached durations, then size).
    return sorted.map((spec, i) => ({ spec, i })).sort((a, b) => rank(a.spec) - rank(b.spec) || a.i - b.i).map(({ spec }) => spec);
  }
}
