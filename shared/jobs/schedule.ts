import { createHash } from 'node:crypto';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { JobSpec } from '#shared/contracts/spec';
import { HEADERS } from '#shared/nats/headers';
import type { Publisher } from '#shared/nats/publish';
import { supportsMessageSchedules } from '#shared/nats/server-features';
import type { Log } from '#shared/observability/logger';
import { errorMessage } from '#shared/observability/errors';

/** How a delayed job waits: as a schedule in the server (2.12+), or deferred by the runner. */
export type DelayedBy = 'schedule' | 'runner';

export interface JobScheduler {
  /**
   * Publishes `payload` as `job`, to run no earlier than `notBefore`. Idempotent per `id`: the
   * same id is the same `Nats-Msg-Id` and the same schedule subject, so a repeated call within
   * the stream's duplicate window stores nothing new. The handler still sees the world as it is
   * when the job runs, and should do nothing when that has moved on.
   */
  schedule<T>(job: JobSpec<T>, payload: T, options: { id: string; notBefore: Date }): Promise<DelayedBy>;
}

const SCHEDULE = 'Nats-Schedule';
const SCHEDULE_TARGET = 'Nats-Schedule-Target';

/**
 * The subject a job's schedule waits on. A subject holds one schedule, so each job id gets its
 * own; ids are unique within a stream already (they are its `Nats-Msg-Id`s).
 */
export const scheduleSubject = (prefix: string, id: string): string =>
  `${prefix}.${/^[A-Za-z0-9_:-]{1,128}$/.test(id) ? id : `sha256-${createHash('sha256').update(id).digest('hex')}`}`;

/** A negative answer is asked again after this long: the stream's owner may enable schedules at its next start. */
const RECHECK_MS = 30_000;

/**
 * Delayed jobs. Where the server schedules messages (2.12+) and the job's stream allows it, the
 * job is stored as a schedule (`Nats-Schedule: @at …`, `Nats-Schedule-Target: <job subject>`)
 * that the server publishes to the job's subject at its time, through restarts. Elsewhere (2.9)
 * it is published at once and the runner defers it until its time (defer.ts). Either way it
 * carries its not-before time, which the runner checks before every run.
 */
export const createJobScheduler = (deps: {
  publisher: Pick<Publisher, 'publish'>;
  jsm: Pick<JetStreamManager, 'streams'>;
  /** The connected server's version, read on each call: a reconnect may land on another server. */
  serverVersion: () => string | undefined;
  log: Log;
}): JobScheduler => {
  const known = new Map<string, { schedules: boolean; at: number }>();
  const streamSchedules = async (stream: string): Promise<boolean> => {
    if (!supportsMessageSchedules(deps.serverVersion())) return false;
    const cached = known.get(stream);
    // Once on, schedules cannot be turned off on a stream: a yes is for good.
    if (cached && (cached.schedules || Date.now() - cached.at < RECHECK_MS)) return cached.schedules;
    try {
      const schedules = (await deps.jsm.streams.info(stream)).config.allow_msg_schedules === true;
      known.set(stream, { schedules, at: Date.now() });
      return schedules;
    } catch (error) {
      deps.log.warn({ stream, err: errorMessage(error) }, 'stream info unavailable; the delayed job waits in the runner');
      return false;
    }
  };
  return {
    async schedule(job, payload, options) {
      const notBefore = options.notBefore.toISOString();
      const headers = { [HEADERS.notBefore]: notBefore };
      if (job.delayed && options.notBefore.getTime() > Date.now() && (await streamSchedules(job.stream))) {
        await deps.publisher.publish(scheduleSubject(job.delayed.schedules, options.id), payload, {
          id: options.id,
          // The server copies every other header to the job it publishes (not Nats-Msg-Id).
          headers: { ...headers, [SCHEDULE]: `@at ${notBefore}`, [SCHEDULE_TARGET]: job.subject },
        });
        return 'schedule';
      }
      await deps.publisher.publish(job.subject, payload, { id: options.id, headers });
      return 'runner';
    },
  };
};
