import { z } from 'zod';
import type { JobSpec } from '#shared/contracts/spec';

/** A benchmark job: `p` says which phase it belongs to, `t` is its enqueue time (ms, see nowMs). */
export const BenchJob = z.object({ p: z.enum(['sat', 'lat']), t: z.number(), i: z.number().int() });
export type BenchJob = z.infer<typeof BenchJob>;

export type JobSystem = 'handoff' | 'jetstream' | 'bullmq';

/** What the parent tells a job-worker child (as JSON in BENCH_WORKER). */
export interface WorkerSettings {
  mode: JobSystem;
  natsUrl: string;
  job: Omit<JobSpec<BenchJob>, 'schema'>;
  redisHost: string;
  redisPort: number;
  queue: string;
  concurrency: number;
  warmupJobs: number;
  jobs: number;
  latencyJobs: number;
  /** Log level of the Handoff worker; `info` is what services ship with (one line per job). */
  logLevel: string;
}

/** A no-op job spec on its own work-queue stream, timed like a typical short job of the services. */
export const benchJobSpec = (id: string, concurrency: number): Omit<JobSpec<BenchJob>, 'schema'> => ({
  name: 'bench.noop',
  stream: `BENCH_${id}`,
  subject: `bench.${id.toLowerCase()}.noop`,
  consumer: `bench-${id.toLowerCase()}`,
  timeoutMs: 30_000,
  maxAttempts: 3,
  backoff: { initialMs: 1_000, multiplier: 2, maxMs: 30_000, jitter: 0.2 },
  concurrency,
  ackWaitMs: 30_000,
});
