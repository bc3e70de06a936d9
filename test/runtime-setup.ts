import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { fileURLToPath } from 'node:url';
import type { JobSpec } from '#shared/contracts/spec';
import { ensureConsumer, ensureStream } from '#shared/nats/ensure';
import { createPublisher, type Publisher } from '#shared/nats/publish';
import { createJobScheduler, type DelayedBy } from '#shared/jobs/schedule';
import type { AttemptReport, TestJob } from './fixtures/job-behaviour.ts';
import { startProcess, type RunningProcess } from './process.ts';
import { uniqueName } from './wait.ts';

export { quietLog } from './jobs-runtime.ts';
import { quietLog } from './jobs-runtime.ts';

export type TestJobSpec = Omit<JobSpec<TestJob>, 'schema'> & { reportSubject: string; graceMs: number };

/** A unique job stream + consumer + report stream on a test server, and a client to drive them. */
export interface RuntimeFixture {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  publisher: Publisher;
  spec: TestJobSpec;
  enqueue(job: Partial<TestJob> & { id: string; plan: TestJob['plan'] }): Promise<void>;
  /** Publishes a delayed job through the runtime's scheduler (the spec needs `delayed` for schedules). */
  enqueueAt(job: Partial<TestJob> & { id: string; plan: TestJob['plan'] }, notBefore: Date): Promise<DelayedBy>;
  reports(): Promise<AttemptReport[]>;
  startWorker(extraEnv?: Record<string, string>): Promise<RunningProcess>;
  close(): Promise<void>;
}

export const createRuntimeFixture = async (url: string, overrides: Partial<TestJobSpec> = {}): Promise<RuntimeFixture> => {
  const nc = await connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const base = uniqueName('T');
  const spec: TestJobSpec = {
    name: 'test.job',
    stream: base,
    subject: `${base.toLowerCase()}.job`,
    consumer: `${base.toLowerCase()}-worker`,
    timeoutMs: 2_000,
    maxAttempts: 3,
    backoff: { initialMs: 200, multiplier: 2, maxMs: 5_000, jitter: 0 },
    concurrency: 10,
    ackWaitMs: 3_000,
    reportSubject: `${base.toLowerCase()}.report`,
    graceMs: 5_000,
    ...overrides,
  };
  const deps = { jsm, log: quietLog, replicas: 1, serverVersion: nc.info?.version };
  const schedules = spec.delayed ? [`${spec.delayed.schedules}.>`] : [];
  await ensureStream(deps, { name: spec.stream, subjects: [spec.subject, ...schedules], retention: 'workqueue', messageSchedules: !!spec.delayed, description: 'test jobs' });
  await ensureStream(deps, { name: `${spec.stream}_R`, subjects: [spec.reportSubject], retention: 'limits', description: 'test reports' });
  await ensureConsumer(deps, { ...spec, schema: undefined as never });
  const publisher = createPublisher(js, { retryForMs: 20_000 });
  const scheduler = createJobScheduler({ publisher, jsm, serverVersion: () => nc.info?.version, log: quietLog });
  const workers: RunningProcess[] = [];
  return {
    nc,
    js,
    jsm,
    publisher,
    spec,
    async enqueue(job) {
      await publisher.publish(spec.subject, { sleepMs: 0, ...job }, { id: job.id });
    },
    enqueueAt: (job, notBefore) => scheduler.schedule({ ...spec, schema: undefined as never }, { sleepMs: 0, ...job }, { id: job.id, notBefore }),
    async reports() {
      const info = await jsm.streams.info(`${spec.stream}_R`);
      if (info.state.messages === 0) return [];
      const consumer = await jsm.consumers.add(`${spec.stream}_R`, { ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, inactive_threshold: 30_000_000_000 });
      const c = await js.consumers.get(`${spec.stream}_R`, consumer.name);
      const out: AttemptReport[] = [];
      while (out.length < info.state.messages) {
        const batch = await c.fetch({ max_messages: 1000, expires: 1000 });
        let got = 0;
        for await (const m of batch) {
          got++;
          out.push(m.json<AttemptReport>());
        }
        if (got === 0) break;
      }
      await c.delete().catch(() => undefined);
      return out;
    },
    async startWorker(extraEnv = {}) {
      const worker = startProcess(fileURLToPath(new URL('./fixtures/job-worker.ts', import.meta.url)), {
        env: { NATS_URL: url, TEST_SPEC: JSON.stringify(spec), LOG_LEVEL: 'warn', ...extraEnv },
        name: 'worker',
      });
      workers.push(worker);
      await worker.waitForOutput(/^ready$/m);
      return worker;
    },
    async close() {
      await Promise.all(workers.map((w) => w.kill('SIGKILL')));
      await nc.close();
    },
  };
};

/** Reports grouped per job id. */
export const byJob = (reports: AttemptReport[]) => {
  const map = new Map<string, AttemptReport[]>();
  for (const r of reports) map.set(r.id, [...(map.get(r.id) ?? []), r]);
  return map;
};
