import { Kvm } from '@nats-io/kv';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { BUCKETS } from '#shared/contracts/buckets';
import { ensureConsumer } from '#shared/nats/ensure';
import { createPublisher, type Publisher } from '#shared/nats/publish';
import { serverFeatures, type ServerFeatures } from '#shared/nats/server-features';
import type { Log } from '#shared/observability/logger';
import { createKvAttemptLog, type AttemptLog } from './attempt-log.ts';
import type { JobHandler, JobSpec } from './job.ts';
import { startPhantomAcks } from './phantom-acks.ts';
import type { RunnerObserver } from './observer.ts';
import type { PauseWatch } from './pause-watch.ts';
import { createJobScheduler, type JobScheduler } from './schedule.ts';
import { startJobRunner, type JobRunner, type RunnerDeps } from './runner.ts';

/** What runners share in one process: JetStream handles, the publisher, the attempt log, delayed jobs. */
export interface JobsRuntime {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  publisher: Publisher;
  attempts: AttemptLog;
  /** Publishes jobs that run no earlier than a given time. */
  scheduler: JobScheduler;
  log: Log;
  /** The features of the server the connection is on now (read per decision: a reconnect may change it). */
  server: () => ServerFeatures;
}

/**
 * The runtime of one worker process. The attempt log's bucket belongs to the operators' console:
 * it is opened on first use, and until it exists attempts are simply not recorded.
 */
export const createJobsRuntime = (nc: NatsConnection, deps: { js: JetStreamClient; jsm: JetStreamManager; publisher: Publisher; log: Log }): JobsRuntime => ({
  ...deps,
  nc,
  attempts: createKvAttemptLog(() => new Kvm(nc).open(BUCKETS.jobAttempts.name)),
  server: () => serverFeatures(nc),
  scheduler: createJobScheduler({ publisher: deps.publisher, jsm: deps.jsm, serverVersion: () => nc.info?.version, log: deps.log }),
});

/** The runtime on a connection of its own (worker processes outside the service bootstrap: tests, benchmarks). */
export const openJobsRuntime = async (nc: NatsConnection, log: Log): Promise<JobsRuntime> => {
  const js = jetstream(nc);
  return createJobsRuntime(nc, { js, jsm: await jetstreamManager(nc), publisher: createPublisher(js, { retryForMs: 15_000 }), log });
};

/** A job and what to do with it, as a service declares it; `worker()` ties their types. */
export interface Worker {
  job: JobSpec<unknown>;
  handler: JobHandler<unknown>;
  onDeadLetter?: RunnerDeps['onDeadLetter'];
}

export const worker = <T>(job: JobSpec<T>, handler: JobHandler<T>, onDeadLetter?: RunnerDeps['onDeadLetter']): Worker => ({
  job: job as JobSpec<unknown>,
  handler: handler as JobHandler<unknown>,
  onDeadLetter,
});

export interface Workers {
  runners: JobRunner[];
  /** Drains every runner in parallel (grace, then hand back). */
  stop(graceMs: number): Promise<void>;
}

/**
 * Starts one runner per worker. Each consumer belongs to the service that runs it, so the runner
 * ensures it (to its declaration) every time it binds, once the stream's owner has created the stream.
 */
export const startWorkers = async (
  runtime: JobsRuntime,
  workers: readonly Worker[],
  options: { log?: Log; observer?: RunnerObserver; replicas?: number; pauses?: PauseWatch } = {},
): Promise<Workers> => {
  const log = options.log ?? runtime.log;
  const runners: JobRunner[] = [];
  for (const w of workers) {
    const bind = async () => {
      await ensureConsumer({ jsm: runtime.jsm, log, replicas: options.replicas ?? 1 }, w.job);
      return runtime.js.consumers.get(w.job.stream, w.job.consumer);
    };
    runners.push(
      await startJobRunner(w.job, w.handler, {
        bind,
        publisher: runtime.publisher,
        attempts: runtime.attempts,
        log,
        observer: options.observer,
        onDeadLetter: w.onDeadLetter,
        server: runtime.server,
        pause: options.pauses?.track(w.job.stream, w.job.consumer),
      }),
    );
  }
  // Servers before 2.12.7 keep ack-pending entries for deleted messages after a restart (phantom-acks.ts).
  const stopPhantomAcks = workers.map((w) =>
    startPhantomAcks({ nc: runtime.nc, jsm: runtime.jsm, log, serverVersion: () => runtime.nc.info?.version }, w.job),
  );
  return {
    runners,
    stop: async (graceMs) => {
      for (const stopOne of stopPhantomAcks) stopOne();
      await Promise.all(runners.map((r) => r.stop(graceMs)));
    },
  };
};
