import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { BUCKETS } from '#shared/contracts/buckets';
import type { BucketSpec, JobSpec, ObjectStoreSpec, StreamSpec } from '#shared/contracts/spec';
import { STREAMS } from '#shared/contracts/streams';
import type { Log } from '#shared/observability/logger';
import { createKvAttemptLog, type AttemptLog } from './attempt-log.ts';
import { ensureBucket, ensureConsumer, ensureObjectStore, ensureStream } from '#shared/nats/ensure';
import { startJobRunner, type JobHandler, type JobRunner, type RunnerDeps } from './runner.ts';
import { createPublisher, type Publisher } from '#shared/nats/publish';

/** The JetStream handles a service works with, built once in its main.ts. */
export interface Messaging {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  publisher: Publisher;
  attempts: AttemptLog;
  replicas: number;
  log: Log;
}

/** Binds JetStream and ensures what every worker needs: the dead-letter stream and attempt log. */
export const createMessaging = async (nc: NatsConnection, options: { replicas: number; log: Log }): Promise<Messaging> => {
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  await ensureStream({ jsm, log: options.log, replicas: options.replicas }, STREAMS.DLQ);
  const attemptsKv = await ensureBucket(nc, BUCKETS.jobAttempts, options.replicas);
  return {
    nc,
    js,
    jsm,
    publisher: createPublisher(js, { retryForMs: 15_000 }),
    attempts: createKvAttemptLog(attemptsKv),
    replicas: options.replicas,
    log: options.log,
  };
};

export interface Declarations {
  streams?: readonly StreamSpec[];
  jobs?: readonly JobSpec<never>[];
  buckets?: readonly BucketSpec[];
  objectStores?: readonly ObjectStoreSpec[];
}

/** Ensures a service's own streams, consumers and buckets (idempotent; safe on every start). */
export const ensureDeclarations = async (m: Messaging, declarations: Declarations) => {
  const deps = { jsm: m.jsm, log: m.log, replicas: m.replicas };
  for (const stream of declarations.streams ?? []) await ensureStream(deps, stream);
  for (const job of declarations.jobs ?? []) await ensureConsumer(deps, job as JobSpec);
  for (const bucket of declarations.buckets ?? []) await ensureBucket(m.nc, bucket, m.replicas);
  for (const store of declarations.objectStores ?? []) await ensureObjectStore(m.nc, store, m.replicas);
};

/** A job and what to do with it, as a service's main.ts wires it; `worker()` ties their types. */
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

/** Starts one runner per worker; `stop` drains them all in parallel. */
export const startWorkers = async (
  m: Messaging,
  workers: readonly Worker[],
  extra: Pick<RunnerDeps, 'observer' | 'log'> = { log: m.log },
): Promise<{ runners: JobRunner[]; stop(graceMs: number): Promise<void> }> => {
  const runners: JobRunner[] = [];
  for (const w of workers) {
    runners.push(
      await startJobRunner(w.job, w.handler, {
        js: m.js,
        publisher: m.publisher,
        attempts: m.attempts,
        log: extra.log,
        observer: extra.observer,
        onDeadLetter: w.onDeadLetter,
      }),
    );
  }
  return { runners, stop: async (graceMs) => void (await Promise.all(runners.map((r) => r.stop(graceMs)))) };
};
