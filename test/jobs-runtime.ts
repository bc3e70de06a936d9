import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { ownedBy } from '#shared/contracts/ownership';
import { openJobsRuntime, type JobsRuntime } from '#shared/jobs/workers';
import { ensureOwned } from '#shared/nats/ensure';
import type { Log } from '#shared/observability/logger';

export const quietLog: Log = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };

/**
 * The jobs runtime as a worker process builds it (shared/service/run-service.ts), on a test server
 * where the console has run once: the dead-letter stream and the attempt log exist.
 */
export const testJobsRuntime = async (nc: NatsConnection, log: Log = quietLog, replicas = 1): Promise<JobsRuntime> => {
  await ensureOwned(nc, { jsm: await jetstreamManager(nc), log, replicas }, ownedBy('console'));
  return openJobsRuntime(nc, log);
};

/** A test server as it is once the console has run: the dead-letter stream and the attempt log exist. */
export const ensureConsoleState = async (url: string): Promise<void> => {
  const { connect } = await import('@nats-io/transport-node');
  const nc = await connect({ servers: url });
  try {
    await ensureOwned(nc, { jsm: await jetstreamManager(nc), log: quietLog, replicas: 1 }, ownedBy('console'));
  } finally {
    await nc.close();
  }
};
