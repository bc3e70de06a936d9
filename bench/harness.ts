import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startNatsServer, type NatsServer } from '../test/nats-server.ts';
import type { JobSystem } from './job-shape.ts';
import { runAcceptPath } from './accept-path.ts';
import { runFanIn } from './fan-in.ts';
import { runJobThroughput } from './job-throughput.ts';
import { createMemoryTracker, type MemoryTracker } from './memory.ts';
import { ensureRedis, type RedisTarget } from './redis.ts';
import { evaluateTargets, renderMarkdown } from './report.ts';
import { BenchResultSchema, type BenchResult } from './result.ts';
import { collectVersions, machineFacts } from './versions.ts';

export const COMPARISONS = ['accept', 'jobs', 'fanin'] as const;
export type Comparison = (typeof COMPARISONS)[number];

export interface BenchPlan {
  mode: BenchResult['mode'];
  runs: number;
  only: readonly Comparison[];
  jobs: {
    systems: readonly JobSystem[];
    warmupJobs: number;
    jobs: number;
    concurrency: number;
    latencyRatePerSec: number;
    latencySeconds: number;
    logLevel: string;
    /** `--profile`: V8 CPU profiles of every job-worker child land here. */
    profileDir?: string;
  };
  accept: { connections: number; durationSec: number; smtpDelayMs: number };
  fanIn: { bigOrder: number; smallOrders: number; smallOrderSize: number; workerCounts: readonly number[] };
}

const base = {
  runs: 3,
  only: COMPARISONS,
  jobs: { systems: ['handoff', 'jetstream', 'bullmq'] as const, concurrency: 50, latencyRatePerSec: 5_000, logLevel: 'info' },
  accept: { connections: 100, smtpDelayMs: 200 },
  fanIn: { bigOrder: 100, smallOrders: 20, smallOrderSize: 5, workerCounts: [1, 2] },
};

/** `--quick` must finish in under 3 minutes on two shared cores; the full run takes longer windows. */
export const PLANS: Record<'quick' | 'full', BenchPlan> = {
  quick: {
    ...base,
    mode: 'quick',
    jobs: { ...base.jobs, warmupJobs: 2_000, jobs: 10_000, latencySeconds: 1.5 },
    accept: { ...base.accept, durationSec: 3 },
  },
  full: {
    ...base,
    mode: 'full',
    jobs: { ...base.jobs, warmupJobs: 5_000, jobs: 50_000, latencySeconds: 5 },
    accept: { ...base.accept, durationSec: 10 },
  },
};

const errorLine = (error: unknown) => (error instanceof Error ? (error.message.split('\n')[0] ?? error.message) : String(error));

/**
 * Runs the selected comparisons, each against its own fresh nats-server (so one comparison's
 * leftovers never slow the next), and returns the validated result. Writes nothing itself.
 */
export const runBenchmark = async (plan: BenchPlan, progress: (line: string) => void = () => undefined): Promise<BenchResult> => {
  const started = new Date();
  const memory: MemoryTracker = createMemoryTracker();
  const problems: string[] = [];
  const versions = collectVersions();
  const result: Omit<BenchResult, 'finishedAt' | 'durationSec' | 'memory' | 'targets'> = {
    schema: 1,
    mode: plan.mode,
    startedAt: started.toISOString(),
    runsPerMeasurement: plan.runs,
    versions,
    machine: {
      ...machineFacts(),
      note: 'Measured on one machine with every process (load generator, services, nats-server, Redis) sharing its cores; ratios within one run are the meaningful figures.',
    },
    problems,
  };

  const withNats = async <T>(what: string, fn: (server: NatsServer) => Promise<T>): Promise<T | undefined> => {
    const server = await startNatsServer();
    const pid = server.pid();
    const stopWatching = pid ? memory.watch({ comparison: what, process: 'nats-server', pid, worker: false }) : undefined;
    try {
      return await fn(server);
    } catch (error) {
      problems.push(`${what}: ${errorLine(error)}`);
      progress(`${what} failed: ${errorLine(error)}`);
      return undefined;
    } finally {
      stopWatching?.();
      await server.stop();
    }
  };

  if (plan.only.includes('accept')) {
    result.acceptPath = await withNats('accept', (server) => runAcceptPath({ ...plan.accept, natsUrl: server.url, runs: plan.runs, memory, progress }));
  }

  if (plan.only.includes('jobs')) {
    let redis: RedisTarget | undefined;
    if (plan.jobs.systems.includes('bullmq')) {
      try {
        redis = await ensureRedis();
        versions['redis (server used)'] = `${redis.version} at ${redis.host}:${redis.port}${redis.pid ? ' (started by the benchmark)' : ''}`;
      } catch (error) {
        problems.push(`jobs: Redis unavailable, BullMQ skipped: ${errorLine(error)}`);
      }
    }
    const stopRedisWatch = redis?.pid ? memory.watch({ comparison: 'jobs', process: 'redis-server', pid: redis.pid, worker: false }) : undefined;
    result.jobThroughput = await withNats('jobs', (server) =>
      runJobThroughput({ ...plan.jobs, natsUrl: server.url, redis, runs: plan.runs, memory, progress }),
    );
    stopRedisWatch?.();
    await redis?.stop();
  }

  if (plan.only.includes('fanin')) {
    result.fanIn = await withNats('fan-in', (server) => runFanIn({ ...plan.fanIn, natsUrl: server.url, runs: plan.runs, memory, progress }));
  }

  memory.stop();
  const finished = new Date();
  const full: BenchResult = {
    ...result,
    finishedAt: finished.toISOString(),
    durationSec: Math.round((finished.getTime() - started.getTime()) / 100) / 10,
    memory: memory.peaks(),
    targets: [],
  };
  full.targets = evaluateTargets(full);
  // Validating our own output keeps latest.json's shape a contract rather than an accident.
  return BenchResultSchema.parse(full);
};

/** Writes latest.json and latest.md atomically (a crashed run never leaves half a file). */
export const writeResults = (result: BenchResult, dir: string): { json: string; markdown: string } => {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, 'latest.json');
  const markdown = join(dir, 'latest.md');
  writeFileSync(`${json}.tmp`, `${JSON.stringify(result, null, 2)}\n`);
  renameSync(`${json}.tmp`, json);
  writeFileSync(`${markdown}.tmp`, renderMarkdown(result));
  renameSync(`${markdown}.tmp`, markdown);
  return { json, markdown };
};
