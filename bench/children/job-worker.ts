/**
 * The consuming side of the job-throughput comparison, one process per run, so each system's worker
 * has its own event loop (as in production) and its own peak RSS. Modes: `handoff` (the shared job
 * runner, exactly as services wire it), `jetstream` (a bare consume/ack loop on the same stream and
 * consumer: the ceiling), `bullmq` (a BullMQ Worker on Redis).
 *
 * Protocol on stdout, one JSON line each: `{"bench":{"phase":"ready"}}`, then
 * `{"bench":{"phase":"saturation",…}}` once the pre-filled backlog is done, then
 * `{"bench":{"phase":"latency",…}}` once every fixed-rate job has reached its handler.
 */
import { jetstream } from '@nats-io/jetstream';
import { readFileSync } from 'node:fs';
import { Worker as BullWorker } from 'bullmq';
import { z } from 'zod';
import { connectNats } from '#shared/nats/connect';
import { openJobsRuntime, startWorkers, worker } from '#shared/jobs/workers';
import { createLogger } from '#shared/observability/logger';
import { createLatencyRecorder, nowMs } from '../stats.ts';
import { BenchJob, type WorkerSettings } from '../job-shape.ts';

const settings = JSON.parse(process.env.BENCH_WORKER ?? '{}') as WorkerSettings;
const say = (bench: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ bench })}\n`);

const latency = createLatencyRecorder();
/** Write syscalls so far (Linux /proc/self/io): tells batched acks from one write per ack. */
const writeSyscalls = (): number => {
  try {
    return Number(/^syscw:\s+(\d+)/m.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? Number.NaN);
  } catch {
    return Number.NaN;
  }
};
let writesAtStart = 0;
/** CPU time (user + system, all threads) at the clock's start: CPU per job holds up on a loaded machine, jobs/s does not. */
let cpuAtStart = process.cpuUsage();
let saturationDone = 0;
let saturationStart = 0;
let latencyDone = 0;
let flush: () => Promise<void> = async () => undefined;

/** Called at handler start for every job: the latency clock stops here, the saturation count moves. */
const onJob = (job: BenchJob) => {
  if (job.p === 'lat') {
    latency.recordMs(nowMs() - job.t);
    if (++latencyDone === settings.latencyJobs) {
      const rss = process.resourceUsage().maxRSS / 1024;
      say({ phase: 'latency', ...latency.percentiles(), peakRssMb: rss });
    }
    return;
  }
  saturationDone++;
  if (saturationDone === settings.warmupJobs) {
    saturationStart = nowMs();
    writesAtStart = writeSyscalls();
    cpuAtStart = process.cpuUsage();
  }
  if (saturationDone === settings.warmupJobs + settings.jobs) {
    // Let the runner reply to this last job, then flush: the clock stops once the server has the acks.
    setImmediate(() => {
      void flush().then(() => {
        const cpu = process.cpuUsage(cpuAtStart);
        say({
          phase: 'saturation',
          jobs: settings.jobs,
          ms: nowMs() - saturationStart,
          writesPerJob: (writeSyscalls() - writesAtStart) / settings.jobs,
          cpuUsPerJob: (cpu.user + cpu.system) / settings.jobs,
        });
      });
    });
  }
};

const silent = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };

if (settings.mode === 'bullmq') {
  const w = new BullWorker(
    settings.queue,
    async (job) => onJob(job.data as BenchJob),
    { connection: { host: settings.redisHost, port: settings.redisPort, maxRetriesPerRequest: null }, concurrency: settings.concurrency },
  );
  // BullMQ reports completion after its moveToFinished script ran: the Redis counterpart of an ack.
  let completed = 0;
  let completedAll: () => void = () => undefined;
  const allCompleted = new Promise<void>((resolve) => (completedAll = resolve));
  w.on('completed', () => {
    if (++completed === settings.warmupJobs + settings.jobs) completedAll();
  });
  flush = () => allCompleted;
  await w.waitUntilReady();
  process.once('SIGTERM', () => void w.close().then(() => process.exit(0)));
} else {
  const log = settings.logLevel === 'silent' ? silent : createLogger({ service: `bench-${settings.mode}`, level: settings.logLevel });
  const nc = await connectNats({ url: settings.natsUrl, name: `bench-${settings.mode}`, log: silent });
  flush = () => nc.flush();
  if (settings.mode === 'handoff') {
    const messaging = await openJobsRuntime(nc, log);
    const job = { ...settings.job, schema: BenchJob };
    const workers = await startWorkers(messaging, [worker(job, async (payload: z.infer<typeof BenchJob>) => onJob(payload))], { log });
    process.once('SIGTERM', () => void workers.stop(1_000).then(() => nc.close()).then(() => process.exit(0)));
  } else {
    const js = jetstream(nc);
    const consumer = await js.consumers.get(settings.job.stream, settings.job.consumer);
    const messages = await consumer.consume({ max_messages: settings.concurrency });
    void (async () => {
      for await (const m of messages) {
        onJob(JSON.parse(new TextDecoder().decode(m.data)) as BenchJob);
        m.ack();
      }
    })();
    process.once('SIGTERM', () => void messages.close().then(() => nc.close()).then(() => process.exit(0)));
  }
}
say({ phase: 'ready' });
