import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { JobSpec } from '#shared/contracts/spec';
import { errorMessage } from '#shared/observability/errors';
import type { Log } from '#shared/observability/logger';

/**
 * nats-server before 2.12.7 (and 2.14.0) never clears an ack-pending entry whose message the
 * stream no longer has: its redelivery finds no message and skips it, and the entry stays for
 * ever. nats-io/nats-server#7984 ("Consumer's MaxAckPending is stuck after message delete",
 * 2.12.7 and 2.14.0) terminates such entries; before it, #6387 (2.10.25, 2.11.0) only stopped
 * them from slowing the consumer down. A single server SIGKILLed after it removed an acked
 * work-queue message but before its consumer's state reached disk (written at most every 100 ms
 * on 2.9) comes back with such an entry: nothing is lost, but the consumer reports an ack-pending
 * message for ever (test/runtime/phantom-acks.test.ts builds that state).
 */
export const keepsPhantomAcks = (version: string | undefined): boolean => {
  const [major = 0, minor = 0, patch = 0] = (version ?? '').split(/[.-]/).map((part) => Number.parseInt(part, 10) || 0);
  return major === 2 && (minor < 12 || (minor === 12 && patch < 7));
};

// The reply-subject form every server parses (2.9 accepts only this one): stream, consumer,
// deliveries, stream sequence, consumer sequence, timestamp, pending. Only the stream sequence
// matters to an ack; a consumer sequence of 0 never moves the ack floor by itself.
const ackSubject = (job: Pick<JobSpec, 'stream' | 'consumer'>, seq: number) => `$JS.ACK.${job.stream}.${job.consumer}.1.${seq}.0.0.0`;

export interface PhantomAckDeps {
  nc: Pick<NatsConnection, 'publish' | 'flush'>;
  jsm: Pick<JetStreamManager, 'consumers' | 'streams'>;
  log: Log;
}

/**
 * Acks the entries of `job`'s consumer that wait for a message the stream has deleted. Only
 * sequences the stream reports deleted are acked: an ack removes the message from a work-queue
 * stream whatever consumer holds it, so a stored message is never touched, and an ack for a
 * deleted sequence that is not pending changes nothing. Resolves with how many it acked.
 */
export const ackPhantoms = async (deps: PhantomAckDeps, job: Pick<JobSpec, 'stream' | 'consumer'>): Promise<number> => {
  const consumer = await deps.jsm.consumers.info(job.stream, job.consumer);
  if (consumer.num_ack_pending === 0) return 0;
  const floor = consumer.ack_floor.stream_seq;
  const delivered = consumer.delivered.stream_seq;
  const stream = await deps.jsm.streams.info(job.stream, { deleted_details: true });
  // Below the stream's first sequence the server drops pending entries itself.
  const gone = (stream.state.deleted ?? []).filter((seq) => seq > floor && seq <= delivered);
  if (gone.length === 0) return 0;
  for (const seq of gone) deps.nc.publish(ackSubject(job, seq), '+ACK');
  await deps.nc.flush();
  return gone.length;
};

/**
 * On servers that keep phantom entries, looks for ack-pending entries of this runner's consumer
 * whose messages are gone and acks them: two ack-waits after the start (a worker often starts
 * right after the restart that left them), then every few ack-waits, at least every 30 s. The
 * server's version is read on each look: a reconnect may land on another one. Returns the stop.
 */
export const startPhantomAcks = (
  deps: PhantomAckDeps & { serverVersion: () => string | undefined },
  job: Pick<JobSpec, 'name' | 'stream' | 'consumer' | 'ackWaitMs'>,
  everyMs = Math.max(30_000, job.ackWaitMs * 3),
): (() => void) => {
  let running = false;
  const look = async () => {
    if (running || !keepsPhantomAcks(deps.serverVersion())) return;
    running = true;
    try {
      const acked = await ackPhantoms(deps, job);
      if (acked > 0) deps.log.warn({ job: job.name, stream: job.stream, consumer: job.consumer, acked }, 'acked ack-pending entries whose messages the stream deleted (left by a server restart; this server keeps them)');
    } catch (error) {
      deps.log.debug({ job: job.name, err: errorMessage(error) }, 'phantom ack check failed; next time');
    } finally {
      running = false;
    }
  };
  const first = setTimeout(() => void look(), Math.min(everyMs, job.ackWaitMs * 2));
  const timer = setInterval(() => void look(), everyMs);
  first.unref();
  timer.unref();
  return () => {
    clearTimeout(first);
    clearInterval(timer);
  };
};
