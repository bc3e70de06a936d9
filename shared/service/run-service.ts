import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { ConfigError, parseEnv, type CommonConfig } from '#shared/config/env';
import { ownedBy } from '#shared/contracts/ownership';
import type { ServiceName } from '#shared/contracts/spec';
import { consumerSampler } from '#shared/jobs/consumer-sampler';
import { combineObservers, observeJobEvents, workerName } from '#shared/jobs/job-events';
import { observeAttempts } from '#shared/jobs/observe-attempts';
import { watchPauses } from '#shared/jobs/pause-watch';
import { BUCKETS } from '#shared/contracts/buckets';
import { openBucket } from '#shared/nats/kv';
import { createJobsRuntime, startWorkers, type JobsRuntime, type Worker, type Workers } from '#shared/jobs/workers';
import { connectNats } from '#shared/nats/connect';
import { watchConnection } from '#shared/nats/connection-state';
import { ensureOwned } from '#shared/nats/ensure';
import { createPublisher, type Publisher } from '#shared/nats/publish';
import { serveRpc, type RpcRoute } from '#shared/nats/rpc';
import { startHealthServer } from '#shared/observability/health';
import { createLogger, type Logger } from '#shared/observability/logger';
import { createMetrics, type Metrics } from '#shared/observability/metrics';
import { installShutdown } from './shutdown.ts';

/** What the bootstrap hands a service's `start`: everything built once, in one place. */
export interface ServiceContext<C> {
  name: ServiceName;
  config: C;
  log: Logger;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** Durable publishes (PubAck), retried for up to 15 s through leader elections and reconnects. */
  publisher: Publisher;
  /** Shared by the service's job runners (attempt log, dead letters). */
  jobs: JobsRuntime;
  metrics: Metrics;
  /** Connected to NATS and not draining: readiness. */
  isReady(): boolean;
}

/** What a service starts; the bootstrap runs it and stops it in order on SIGTERM. */
export interface Started {
  workers?: readonly Worker[];
  rpc?: { queue: string; routes: readonly RpcRoute[] };
  /** A public HTTP app (built with createApp); it listens on `port`/`host`. */
  http?: { app: FastifyInstance; port: number; host: string };
  /** Closes what the service built itself (a process pool, an SMTP transport) once its work has drained. */
  close?(): Promise<void> | void;
  /** Extra fields for the "service ready" line. */
  ready?: Record<string, unknown>;
}

export interface ServiceDefinition<C extends CommonConfig> {
  name: ServiceName;
  /** The service's settings schema (keys are environment variable names; includes commonEnv). */
  env: z.ZodType<C>;
  start(ctx: ServiceContext<Readonly<C>>): Promise<Started>;
}

/** Ties a service's declaration to its config type (main.ts default-exports the result). */
export const defineService = <C extends CommonConfig>(definition: ServiceDefinition<C>): ServiceDefinition<C> => definition;

const loadConfig = <C extends CommonConfig>(definition: ServiceDefinition<C>, env: Record<string, string | undefined>): Readonly<C> => {
  try {
    return parseEnv(definition.env, env);
  } catch (error) {
    // A missing or bad setting stops the service with a message that names it.
    console.error(`${definition.name}: ${error instanceof ConfigError ? error.message : String(error)}`);
    process.exit(1);
  }
};

/**
 * The one bootstrap of every service: config (zod, frozen; a bad setting exits naming it), logger,
 * NATS, what the service owns (contracts name the owner; nothing else is created), its jobs, RPC
 * and HTTP app, a health server with /metrics on HEALTH_PORT, and SIGTERM → drain in order:
 * stop taking requests, stop RPC, let jobs finish (grace, then hand back), close, disconnect.
 */
export const runService = async <C extends CommonConfig>(definition: ServiceDefinition<C>, env: Record<string, string | undefined>): Promise<void> => {
  const config = loadConfig(definition, env);
  const log = createLogger({ service: definition.name, level: config.LOG_LEVEL });
  const nc = await connectNats({ url: config.NATS_URL, name: definition.name, user: config.NATS_USER, password: config.NATS_PASSWORD, log });
  const connection = watchConnection(nc);
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  await ensureOwned(nc, { jsm, log, replicas: config.JS_REPLICAS }, ownedBy(definition.name));
  const publisher = createPublisher(js, { retryForMs: 15_000 });
  let draining = false;
  let sampled: Worker[] = [];
  const metrics = createMetrics({ service: definition.name, sampleConsumers: () => consumerSampler(jsm, sampled.map((w) => w.job))() });
  const jobs = createJobsRuntime(nc, { js, jsm, publisher, log });
  const isReady = () => !draining && connection.connected();

  const started = await definition.start({ name: definition.name, config, log, nc, js, jsm, publisher, jobs, metrics, isReady });
  sampled = [...(started.workers ?? [])];
  // Workers watch the operators' runtime pauses (one watcher per process) and tell every attempt's
  // start and end to JOB_EVENTS (jobs show, the console's rates).
  const pauses = sampled.length ? watchPauses(() => openBucket(nc, BUCKETS.queuePauses), log) : undefined;
  const observer = combineObservers(observeAttempts(metrics), observeJobEvents({ publish: (subject, data) => nc.publish(subject, data), worker: workerName(definition.name) }));
  const workers: Workers | undefined = sampled.length
    ? await startWorkers(jobs, sampled, { observer, replicas: config.JS_REPLICAS, pauses })
    : undefined;
  const rpc = started.rpc ? serveRpc(nc, started.rpc.routes, { queue: started.rpc.queue, log }) : undefined;
  const health = await startHealthServer({ port: config.HEALTH_PORT, checks: { isReady, metrics: () => metrics.render() }, log });
  let port: number | undefined;
  if (started.http) {
    await started.http.app.listen({ port: started.http.port, host: started.http.host });
    const address = started.http.app.server.address();
    port = typeof address === 'object' && address ? address.port : started.http.port;
  }

  installShutdown(async () => {
    draining = true;
    await started.http?.app.close();
    await rpc?.stop();
    await workers?.stop(config.SHUTDOWN_GRACE_MS);
    pauses?.close();
    await started.close?.();
    await health.close();
    await nc.drain();
  }, log);
  log.info({ ...(port === undefined ? {} : { port }), healthPort: health.port, pid: process.pid, ...started.ready }, 'service ready');
};
