import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { floorNatsServerBin, natsServerVersion, resolveNatsServerBin } from '../deploy/nats/nats-server-binary.ts';
import { startNatsServer, type NatsServer } from '../test/nats-server.ts';
import { setDefaultChildForm, type ChildForm } from './child-process.ts';
import { ensureCompiled } from './compiled.ts';
import type { JobSystem } from './job-shape.ts';
import { runAcceptPath } from './accept-path.ts';
import { runFanIn } from './fan-in.ts';
import { runJobThroughput } from './job-throughput.ts';
import { createMemoryTracker, type MemoryTracker } from './memory.ts';
import { ensureRedis, type RedisTarget } from './redis.ts';
import { evaluateTargets, renderMarkdown } from './report.ts';
import { BenchResultSchema, type BenchResult, type NatsServerInfo, type ServerRun } from './result.ts';
import { collectVersions, machineFacts } from './versions.ts';

export const COMPARISONS = ['accept', 'jobs', 'fanin'] as const;
export type Comparison = (typeof COMPARISONS)[number];

export type ServerRole = NatsServerInfo['role'];

export interface BenchPlan {
  mode: BenchResult['mode'];
  /** The servers every comparison runs against, in order; the first one's figures are the headline. */
  servers: readonly ServerRole[];
  /** Binaries per role; default: NATS_SERVER_BIN or the current one (current-server.sh), and the floor. */
  binaries?: Partial<Record<ServerRole, string>>;
  runs: number;
  only: readonly Comparison[];
  /** How services and worker children run: compiled (`node dist/…`, the container's form; default) or under tsx. */
  form?: ChildForm;
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
  /** `hugeOrder`: one order of that many tickets too (issue 18: 1,000); 0 leaves it out. */
  fanIn: { bigOrder: number; hugeOrder?: number; smallOrders: number; smallOrderSize: number; workerCounts: readonly number[] };
}

const base = {
  runs: 3,
  only: COMPARISONS,
  jobs: { systems: ['handoff', 'jetstream', 'bullmq'] as const, concurrency: 50, latencyRatePerSec: 5_000, logLevel: 'info' },
  accept: { connections: 100, smtpDelayMs: 200 },
  fanIn: { bigOrder: 100, hugeOrder: 1_000, smallOrders: 20, smallOrderSize: 5, workerCounts: [1, 2] },
};

/**
 * `--quick` must finish in under 3 minutes on two shared cores: the current server only. The full
 * run takes longer windows and repeats everything on the floor (2.9.10), so both are reported.
 */
export const PLANS: Record<'quick' | 'full', BenchPlan> = {
  quick: {
    ...base,
    mode: 'quick',
    servers: ['current'],
    jobs: { ...base.jobs, warmupJobs: 2_000, jobs: 10_000, latencySeconds: 1.5 },
    accept: { ...base.accept, durationSec: 3 },
  },
  full: {
    ...base,
    mode: 'full',
    servers: ['current', 'floor'],
    jobs: { ...base.jobs, warmupJobs: 5_000, jobs: 50_000, latencySeconds: 5 },
    accept: { ...base.accept, durationSec: 10 },
  },
};

const errorLine = (error: unknown) => (error instanceof Error ? (error.message.split('\n')[0] ?? error.message) : String(error));

const defaultBinary = (role: ServerRole) => (role === 'current' ? resolveNatsServerBin() : floorNatsServerBin());

export const resolveServers = (plan: Pick<BenchPlan, 'servers' | 'binaries'>): NatsServerInfo[] =>
  plan.servers.map((role) => {
    const binary = plan.binaries?.[role] ?? defaultBinary(role);
    return { role, binary, version: natsServerVersion(binary) };
  });

/**
 * Runs the selected comparisons on one server, each against its own fresh nats-server (so one
 * comparison's leftovers never slow the next).
 */
const runOnServer = async (
  plan: BenchPlan,
  server: NatsServerInfo,
  problems: string[],
  versions: Record<string, string>,
  progress: (line: string) => void,
): Promise<Omit<ServerRun, 'natsServer'>> => {
  const memory: MemoryTracker = createMemoryTracker();
  const tag = plan.servers.length > 1 ? `[nats-server ${server.version}] ` : '';
  const withNats = async <T>(what: string, fn: (nats: NatsServer) => Promise<T>): Promise<T | undefined> => {
    const nats = await startNatsServer({ binary: server.binary });
    const pid = nats.pid();
    const stopWatching = pid ? memory.watch({ comparison: what, process: 'nats-server', pid, worker: false }) : undefined;
    try {
      return await fn(nats);
    } catch (error) {
      problems.push(`${tag}${what}: ${errorLine(error)}`);
      progress(`${tag}${what} failed: ${errorLine(error)}`);
      return undefined;
    } finally {
      stopWatching?.();
      await nats.stop();
    }
  };

  const part: Omit<ServerRun, 'natsServer' | 'targets'> = { memory: [] };
  if (plan.only.includes('accept')) {
    part.acceptPath = await withNats('accept', (nats) => runAcceptPath({ ...plan.accept, natsUrl: nats.url, runs: plan.runs, memory, progress }));
  }

  if (plan.only.includes('jobs')) {
    let redis: RedisTarget | undefined;
    if (plan.jobs.systems.includes('bullmq')) {
      try {
        redis = await ensureRedis();
        versions['redis (server used)'] = `${redis.version} at ${redis.host}:${redis.port}${redis.pid ? ' (started by the benchmark)' : ''}`;
      } catch (error) {
        problems.push(`${tag}jobs: Redis unavailable, BullMQ skipped: ${errorLine(error)}`);
      }
    }
    const stopRedisWatch = redis?.pid ? memory.watch({ comparison: 'jobs', process: 'redis-server', pid: redis.pid, worker: false }) : undefined;
    part.jobThroughput = await withNats('jobs', (nats) => runJobThroughput({ ...plan.jobs, natsUrl: nats.url, redis, runs: plan.runs, memory, progress }));
    stopRedisWatch?.();
    await redis?.stop();
  }

  if (plan.only.includes('fanin')) {
    part.fanIn = await withNats('fan-in', (nats) => runFanIn({ ...plan.fanIn, natsUrl: nats.url, runs: plan.runs, memory, progress }));
  }

  memory.stop();
  part.memory = memory.peaks();
  return { ...part, targets: evaluateTargets(part) };
};

/**
 * Runs the selected comparisons on each of the plan's servers and returns the validated result:
 * the first server's figures at the top, the others' (the floor, in a full run) in `otherServers`.
 * Writes nothing itself.
 */
export const runBenchmark = async (plan: BenchPlan, progress: (line: string) => void = () => undefined): Promise<BenchResult> => {
  const started = new Date();
  const machine = machineFacts();
  const problems: string[] = [];
  const servers = resolveServers(plan);
  const [primary, ...others] = servers;
  if (!primary) throw new Error('the plan names no nats-server');
  const form = plan.form ?? 'compiled';
  setDefaultChildForm(form);
  if (form === 'compiled') {
    const started = Date.now();
    const { built } = ensureCompiled();
    progress(built ? `built dist/ (npm run build) in ${((Date.now() - started) / 1000).toFixed(0)} s; children run compiled` : 'dist/ is up to date; children run compiled');
  }
  const versions = collectVersions(primary.binary);
  for (const other of others) versions[`nats-server (${other.role})`] = other.version;

  const runs: Array<Omit<ServerRun, 'natsServer'>> = [];
  for (const server of servers) {
    progress(`on nats-server ${server.version} (${server.role}, ${server.binary})`);
    runs.push(await runOnServer(plan, server, problems, versions, progress));
  }
  const finished = new Date();
  const full: BenchResult = {
    schema: 1,
    mode: plan.mode,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationSec: Math.round((finished.getTime() - started.getTime()) / 100) / 10,
    runsPerMeasurement: plan.runs,
    childForm: form,
    versions,
    natsServer: primary,
    machine: {
      ...machine,
      note: 'Measured on one machine with every process (load generator, services, nats-server, Redis) sharing its cores; ratios within one run are the meaningful figures.',
    },
    ...runs[0]!,
    ...(others.length > 0 ? { otherServers: others.map((natsServer, i) => ({ natsServer, ...runs[i + 1]! })) } : {}),
    problems,
  };
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
