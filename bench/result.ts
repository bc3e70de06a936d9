import { z } from 'zod';

/**
 * The shape of bench/results/latest.json. Every comparison is optional (`--only`, or a service that
 * failed to start: the reason lands in `problems`), and every measured figure is a Summary over the
 * repeated runs, so a reader always sees the spread next to the median.
 */

export const SummarySchema = z.object({
  median: z.number(),
  min: z.number(),
  max: z.number(),
  runs: z.array(z.number()),
});

const measured = <T extends z.ZodRawShape>(shape: T) => z.object({ id: z.string(), label: z.string(), ...shape });
const skipped = z.object({ id: z.string(), label: z.string(), skipped: z.string() });

export const JobSystemSchema = z.union([
  measured({
    /** Write syscalls of the worker per job while saturated (from /proc/self/io; acks, pulls, logs). */
    saturation: z.object({
      jobsPerSec: SummarySchema,
      writeSyscallsPerJob: SummarySchema.optional(),
      /** The worker process's CPU time (user + system, every thread) per saturation job, in µs. */
      cpuUsPerJob: SummarySchema.optional(),
    }),
    latency: z.object({ p50Ms: SummarySchema, p99Ms: SummarySchema, maxMs: SummarySchema, achievedPerSec: SummarySchema }),
    workerPeakRssMb: SummarySchema,
  }),
  skipped,
]);

export const JobThroughputSchema = z.object({
  method: z.object({
    jobs: z.number(),
    warmupJobs: z.number(),
    concurrency: z.number(),
    latencyRatePerSec: z.number(),
    latencySeconds: z.number(),
    notes: z.array(z.string()),
  }),
  systems: z.array(JobSystemSchema),
});

export const AcceptTargetSchema = z.union([
  measured({ reqPerSec: SummarySchema, p50Ms: SummarySchema, p99Ms: SummarySchema, non2xx: SummarySchema, errors: SummarySchema }),
  skipped,
]);

export const AcceptPathSchema = z.object({
  method: z.object({ connections: z.number(), durationSec: z.number(), notes: z.array(z.string()) }),
  targets: z.array(AcceptTargetSchema),
});

export const FanInScenarioSchema = z.union([
  measured({
    workers: z.number(),
    orders: z.number(),
    ticketsPerOrder: z.number(),
    wallMs: SummarySchema,
    ticketsPerSec: SummarySchema,
    /** Tickets per CPU second of the ticketing processes and their render pools: tickets/s per fully used core. */
    ticketsPerCpuSec: SummarySchema.optional(),
  }),
  skipped,
]);

export const FanInSchema = z.object({
  method: z.object({ notes: z.array(z.string()) }),
  scenarios: z.array(FanInScenarioSchema),
});

export const ProcessMemorySchema = z.object({
  comparison: z.string(),
  process: z.string(),
  /** Highest VmHWM seen over every run (the kernel's own peak-RSS counter). */
  peakRssMb: z.number(),
  /** Peak of the summed RSS of the process and its children (render pools), when it has any. */
  treePeakRssMb: z.number().optional(),
  /** The highest peak (VmHWM) of any one of its children: a render process is a worker process too. */
  childPeakRssMb: z.number().optional(),
  worker: z.boolean(),
});

export const TargetSchema = z.object({
  id: z.string(),
  description: z.string(),
  /** The measured figure the target is judged on (a ratio, milliseconds or megabytes). */
  value: z.number().nullable(),
  threshold: z.string(),
  met: z.boolean().nullable(),
});

/** The nats-server a set of comparisons ran against: `current` is the primary target, `floor` the oldest supported. */
export const NatsServerSchema = z.object({
  role: z.enum(['current', 'floor']),
  version: z.string(),
  binary: z.string(),
});

/** The comparisons of a full run repeated on another server (the floor), judged on their own. */
export const ServerRunSchema = z.object({
  natsServer: NatsServerSchema,
  jobThroughput: JobThroughputSchema.optional(),
  acceptPath: AcceptPathSchema.optional(),
  fanIn: FanInSchema.optional(),
  memory: z.array(ProcessMemorySchema),
  targets: z.array(TargetSchema),
});

export const BenchResultSchema = z.object({
  schema: z.literal(1),
  mode: z.enum(['quick', 'full', 'custom']),
  startedAt: z.string(),
  finishedAt: z.string(),
  durationSec: z.number(),
  runsPerMeasurement: z.number(),
  /** How every service and worker child ran: `node dist/…` (compiled, as in the container) or under the tsx loader. */
  childForm: z.enum(['compiled', 'source']),
  versions: z.record(z.string(), z.string()),
  /** The server the comparisons below ran against (the current one, unless NATS_SERVER_BIN named another). */
  natsServer: NatsServerSchema,
  machine: z.object({
    cpus: z.number(),
    cpuModel: z.string(),
    memoryGb: z.number(),
    os: z.string(),
    loadAverageAtStart: z.array(z.number()),
    note: z.string(),
  }),
  jobThroughput: JobThroughputSchema.optional(),
  acceptPath: AcceptPathSchema.optional(),
  fanIn: FanInSchema.optional(),
  memory: z.array(ProcessMemorySchema),
  targets: z.array(TargetSchema),
  /** The full run repeats every comparison on the floor server. */
  otherServers: z.array(ServerRunSchema).optional(),
  problems: z.array(z.string()),
});

export type JobSystemResult = z.infer<typeof JobSystemSchema>;
export type JobThroughputResult = z.infer<typeof JobThroughputSchema>;
export type AcceptTargetResult = z.infer<typeof AcceptTargetSchema>;
export type AcceptPathResult = z.infer<typeof AcceptPathSchema>;
export type FanInScenarioResult = z.infer<typeof FanInScenarioSchema>;
export type FanInResult = z.infer<typeof FanInSchema>;
export type ProcessMemory = z.infer<typeof ProcessMemorySchema>;
export type Target = z.infer<typeof TargetSchema>;
export type BenchResult = z.infer<typeof BenchResultSchema>;
export type NatsServerInfo = z.infer<typeof NatsServerSchema>;
export type ServerRun = z.infer<typeof ServerRunSchema>;

export const isMeasured = <T extends { skipped?: string } | object>(r: T): r is Exclude<T, { skipped: string }> => !('skipped' in r);
