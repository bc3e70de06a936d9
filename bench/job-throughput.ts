import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Queue } from 'bullmq';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureConsumer, ensureStream } from '#shared/nats/ensure';
import { createPublisher } from '#shared/nats/publish';
import { parseResultLine, startChild } from './child-process.ts';
import { benchJobSpec, type BenchJob, type JobSystem, type WorkerSettings } from './job-shape.ts';
import type { MemoryTracker } from './memory.ts';
import { sendAll } from './pace.ts';
import type { RedisTarget } from './redis.ts';
import type { JobSystemResult, JobThroughputResult } from './result.ts';
import { nowMs, summarize } from './stats.ts';

export interface JobThroughputOptions {
  natsUrl: string;
  /** Undefined: BullMQ is reported as skipped (no Redis). */
  redis?: RedisTarget;
  systems: readonly JobSystem[];
  runs: number;
  warmupJobs: number;
  jobs: number;
  concurrency: number;
  latencyRatePerSec: number;
  latencySeconds: number;
  /** Log level of the Handoff worker (default `info`, what services ship with). */
  logLevel?: string;
  memory?: MemoryTracker;
  progress?: (line: string) => void;
  /** Write a V8 CPU profile of every worker child here (`node --cpu-prof`). */
  profileDir?: string;
}

const WORKER = fileURLToPath(new URL('./children/job-worker.ts', import.meta.url));
const LABELS: Record<JobSystem, string> = {
  handoff: 'Handoff runner',
  jetstream: 'bare JetStream consume/ack (ceiling)',
  bullmq: 'BullMQ Worker on Redis',
};
const encoder = new TextEncoder();
const uid = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`.toUpperCase();

interface RunFigures {
  jobsPerSec: number;
  writesPerJob: number;
  cpuUsPerJob: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  achievedPerSec: number;
  peakRssMb: number;
}

/** Enqueues on the system under test: the Handoff publisher, a bare js.publish, or a BullMQ Queue. */
interface Producer {
  enqueue(job: BenchJob): Promise<unknown>;
  prefill(count: number): Promise<void>;
  close(): Promise<void>;
}

const natsProducer = async (js: JetStreamClient, jsm: JetStreamManager, system: JobSystem, spec: ReturnType<typeof benchJobSpec>): Promise<Producer> => {
  const deps = { jsm, log: { info() {}, warn() {}, error() {}, debug() {} }, replicas: 1 };
  // The same stream and consumer declaration for both NATS systems: only the consuming code differs.
  await ensureStream(deps, { name: spec.stream, subjects: [spec.subject], retention: 'workqueue', description: 'benchmark jobs' });
  await ensureConsumer(deps, { ...spec, schema: undefined as never });
  // Handoff jobs go through the services' publisher (job-id header, Nats-Msg-Id, trace context);
  // the ceiling's are bare messages, so it also shows what those headers cost the consumer.
  const publisher = createPublisher(js);
  const enqueue =
    system === 'handoff'
      ? (job: BenchJob) => publisher.publish(spec.subject, job)
      : (job: BenchJob) => js.publish(spec.subject, encoder.encode(JSON.stringify(job)));
  return {
    enqueue,
    prefill: async (count) => void (await sendAll(count, (i) => enqueue({ p: 'sat', t: nowMs(), i }), { maxInFlight: 2_000 })),
    close: async () => void (await jsm.streams.delete(spec.stream).catch(() => undefined)),
  };
};

const bullProducer = (redis: RedisTarget, queueName: string): Producer => {
  const queue = new Queue(queueName, { connection: { host: redis.host, port: redis.port, maxRetriesPerRequest: null } });
  // Completed jobs are removed, as a work-queue stream removes acked messages.
  const opts = { removeOnComplete: true, removeOnFail: true };
  return {
    enqueue: (job) => queue.add('noop', job, opts),
    async prefill(count) {
      for (let from = 0; from < count; from += 1_000) {
        const n = Math.min(1_000, count - from);
        await queue.addBulk(Array.from({ length: n }, (_, k) => ({ name: 'noop', data: { p: 'sat', t: nowMs(), i: from + k } as BenchJob, opts })));
      }
    },
    async close() {
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
    },
  };
};

const runOnce = async (
  system: JobSystem,
  options: JobThroughputOptions,
  nats: { nc: NatsConnection; js: JetStreamClient; jsm: JetStreamManager },
): Promise<RunFigures> => {
  const id = uid();
  const spec = benchJobSpec(id, options.concurrency);
  const queue = `bench-${id.toLowerCase()}`;
  const producer = system === 'bullmq' ? bullProducer(options.redis as RedisTarget, queue) : await natsProducer(nats.js, nats.jsm, system, spec);
  const latencyJobs = Math.round(options.latencyRatePerSec * options.latencySeconds);
  try {
    // Saturation is measured on a pre-filled backlog: the worker never waits for the producer,
    // and the producer does not compete with it for the machine's two cores while it is timed.
    await producer.prefill(options.warmupJobs + options.jobs);
    const settings: WorkerSettings = {
      mode: system,
      natsUrl: options.natsUrl,
      job: spec,
      redisHost: options.redis?.host ?? '',
      redisPort: options.redis?.port ?? 0,
      queue,
      concurrency: options.concurrency,
      warmupJobs: options.warmupJobs,
      jobs: options.jobs,
      latencyJobs,
      logLevel: options.logLevel ?? 'info',
    };
    const child = startChild(`job-worker:${system}`, WORKER, {
      env: { BENCH_WORKER: JSON.stringify(settings) },
      // One directory per run: the tsx loader thread writes its own profile next to the main thread's.
      nodeArgs: options.profileDir ? ['--cpu-prof', '--cpu-prof-dir', join(options.profileDir, `${system}-${id}`)] : [],
    });
    const stopWatching = options.memory?.watch({ comparison: 'jobs', process: `${system} worker`, pid: child.pid, worker: true });
    try {
      await child.waitForLine(/^\{"bench":\{"phase":"ready"/, 60_000);
      const saturation = parseResultLine<{ jobs: number; ms: number; writesPerJob: number | null; cpuUsPerJob: number }>(await child.waitForLine(/^\{"bench":\{"phase":"saturation"/, 180_000));
      const sent = await sendAll(latencyJobs, (i) => producer.enqueue({ p: 'lat', t: nowMs(), i }), {
        maxInFlight: 1_000,
        ratePerSec: options.latencyRatePerSec,
      });
      const latency = parseResultLine<{ p50Ms: number; p99Ms: number; maxMs: number; peakRssMb: number }>(
        await child.waitForLine(/^\{"bench":\{"phase":"latency"/, 120_000),
      );
      return {
        jobsPerSec: (saturation.jobs * 1000) / saturation.ms,
        writesPerJob: saturation.writesPerJob ?? Number.NaN,
        cpuUsPerJob: saturation.cpuUsPerJob,
        p50Ms: latency.p50Ms,
        p99Ms: latency.p99Ms,
        maxMs: latency.maxMs,
        achievedPerSec: sent.achievedPerSec,
        peakRssMb: latency.peakRssMb,
      };
    } finally {
      stopWatching?.();
      await child.stop('SIGTERM', 5_000);
    }
  } finally {
    await producer.close();
  }
};

/** Runs every system `runs` times, interleaved (A B C A B C …) so machine noise hits all alike. */
export const runJobThroughput = async (options: JobThroughputOptions): Promise<JobThroughputResult> => {
  const nc = await connect({ servers: options.natsUrl, name: 'bench-producer' });
  const nats = { nc, js: jetstream(nc), jsm: await jetstreamManager(nc) };
  const figures = new Map<JobSystem, RunFigures[]>();
  const failures = new Map<JobSystem, string>();
  const systems = options.systems.filter((s) => {
    if (s === 'bullmq' && !options.redis) failures.set(s, 'no Redis available');
    return !(s === 'bullmq' && !options.redis);
  });
  try {
    for (let run = 1; run <= options.runs; run++) {
      for (const system of systems) {
        if (failures.has(system)) continue;
        try {
          const f = await runOnce(system, options, nats);
          figures.set(system, [...(figures.get(system) ?? []), f]);
          options.progress?.(
            `jobs ${system} run ${run}: ${Math.round(f.jobsPerSec)} jobs/s (${f.cpuUsPerJob.toFixed(1)} µs CPU/job, ${f.writesPerJob.toFixed(2)} write syscalls/job); at ${options.latencyRatePerSec}/s p50 ${f.p50Ms.toFixed(2)} ms p99 ${f.p99Ms.toFixed(2)} ms`,
          );
        } catch (error) {
          failures.set(system, error instanceof Error ? error.message.split('\n')[0] ?? error.message : String(error));
          options.progress?.(`jobs ${system} run ${run} failed: ${failures.get(system)}`);
        }
      }
    }
  } finally {
    await nc.close();
  }
  const results: JobSystemResult[] = options.systems.map((system) => {
    const runs = figures.get(system) ?? [];
    if (runs.length === 0) return { id: system, label: LABELS[system], skipped: failures.get(system) ?? 'not run' };
    const pick = (k: keyof RunFigures) => summarize(runs.map((r) => r[k]));
    return {
      id: system,
      label: LABELS[system],
      saturation: {
        jobsPerSec: pick('jobsPerSec'),
        ...(runs.every((r) => Number.isFinite(r.writesPerJob)) ? { writeSyscallsPerJob: pick('writesPerJob') } : {}),
        cpuUsPerJob: pick('cpuUsPerJob'),
      },
      latency: { p50Ms: pick('p50Ms'), p99Ms: pick('p99Ms'), maxMs: pick('maxMs'), achievedPerSec: pick('achievedPerSec') },
      workerPeakRssMb: pick('peakRssMb'),
    };
  });
  for (const r of results) {
    if ('workerPeakRssMb' in r) options.memory?.record({ comparison: 'jobs', process: `${r.id} worker`, worker: true, peakRssMb: r.workerPeakRssMb.max });
  }
  return {
    method: {
      jobs: options.jobs,
      warmupJobs: options.warmupJobs,
      concurrency: options.concurrency,
      latencyRatePerSec: options.latencyRatePerSec,
      latencySeconds: options.latencySeconds,
      notes: [
        `Each worker runs in its own child process (concurrency ${options.concurrency}); the producer is the benchmark process.`,
        `Saturation: ${options.warmupJobs + options.jobs} no-op jobs pre-published, the worker started, the clock runs from job ${options.warmupJobs} (warm-up excluded) until the last job's ack reached the broker.`,
        `Latency: jobs published at a fixed ${options.latencyRatePerSec}/s for ${options.latencySeconds} s with their enqueue time in the payload; enqueue→handler-start recorded in an HDR histogram in the worker.`,
        `Handoff worker log level: ${options.logLevel ?? 'info'} (the services' default; the runner logs one line per job at info).`,
        'Runs are interleaved across systems; each run uses a fresh stream/consumer (or BullMQ queue, obliterated afterwards).',
      ],
    },
    systems: results,
  };
};
