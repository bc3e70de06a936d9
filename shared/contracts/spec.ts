import type { z } from 'zod';

/**
 * Declarations of streams, consumers and buckets. They are plain data: `ensure` turns them into
 * server state, the runner reads its timing from them, and the operator CLI lists them.
 */

/** The services of the system: every stream, bucket and object store names one as its owner. */
export type ServiceName = 'gateway' | 'webhook-ingest' | 'auth' | 'ticketing' | 'mailer' | 'console';

export interface StreamSpec {
  name: string;
  /**
   * The one service that creates and updates it: a job stream belongs to the service that does
   * the work, an event stream to the service that publishes the events. Others use it as it is.
   */
  owner: ServiceName;
  subjects: readonly string[];
  /** `workqueue` for jobs (one consumer per subject, removed on ack); `limits` for events. */
  retention: 'workqueue' | 'limits';
  maxAgeMs?: number;
  /** Window in which `Nats-Msg-Id` deduplicates; must not exceed `maxAgeMs`. */
  duplicateWindowMs?: number;
  /** Most bytes a limits stream keeps; the oldest messages go first (a bound on what traffic can grow). */
  maxBytes?: number;
  /**
   * Holds delayed jobs as server-side schedules where the server has them (2.12+,
   * `allow_msg_schedules`). Schedules are rollup messages, so the server then allows rollups on
   * the stream: only for a stream that its owner alone writes.
   */
  messageSchedules?: boolean;
  description: string;
}

/** Exponential backoff with full-range jitter around the nominal delay, capped. */
export interface BackoffPolicy {
  initialMs: number;
  multiplier: number;
  maxMs: number;
  /** 0 = exact delays; 0.2 = each delay drawn uniformly from ±20% of the nominal one. */
  jitter: number;
}

/**
 * A job (or event reaction) consumed through the shared runner: one durable consumer, one payload
 * schema, one timing policy.
 */
export interface JobSpec<T = unknown> {
  /** Human name in logs, metrics and dead letters, e.g. `tickets.generate`. */
  name: string;
  stream: string;
  /** The subject the consumer filters on. */
  subject: string;
  /** Durable consumer name, `<service>-<purpose>`. */
  consumer: string;
  schema: z.ZodType<T>;
  /** The handler's hard limit per attempt; the AbortSignal fires and isolated work is killed. */
  timeoutMs: number;
  /** Attempts before the job is dead-lettered (1 = no retry). */
  maxAttempts: number;
  backoff: BackoffPolicy;
  /** Handlers run at once in one process. */
  concurrency: number;
  /** Server redelivers an un-acked message after this long; heartbeats keep long jobs alive. */
  ackWaitMs: number;
  /** Where a new consumer starts on a limits stream; jobs always start at the beginning. */
  deliverPolicy?: 'all' | 'new';
  /**
   * A lane of delayed jobs (published with a not-before time, shared/jobs/schedule.ts). On 2.12+
   * each waits as a schedule under `schedules.<token>` (a subject of a stream with
   * `messageSchedules`) until the server publishes it to `subject`; on older servers it is
   * delivered at once and the runner defers it (nak with the remaining delay), so the consumer
   * leaves room for many deliveries and many waiting jobs.
   */
  delayed?: { schedules: string };
}

/**
 * One lane of a shared, rate-capped resource (the SMTP provider's sends per second). Lanes are
 * separate jobs (own stream, consumer and slots); where they meet — the send slots — a lower
 * `priority` goes first, and a lane with `maxSkipped` is never starved: after that many slots in a
 * row went to higher lanes while it waited, the next slot is its.
 */
export interface LaneSpec {
  name: string;
  /** 0 goes first. */
  priority: number;
  /** The jobs whose sends travel in this lane. */
  jobs: readonly Pick<JobSpec, 'name' | 'stream' | 'consumer'>[];
  maxSkipped?: number;
  description: string;
}

export interface BucketSpec {
  name: string;
  /** Bucket-wide TTL (2.9 has no per-key TTL): bounds how long garbage stays. */
  ttlMs?: number;
  history?: number;
  /**
   * Most bytes the bucket may hold (its stream's `max_bytes`, discard new): a bound on storage that
   * requests can grow. When full, new keys are refused; updates of existing ones still fit.
   */
  maxBytes?: number;
  description: string;
  owner: ServiceName;
  /**
   * Written by services other than its owner (the attempt log: every worker). Its stream then
   * refuses `Nats-Rollup` headers: a writer's rollup on a key it may write (`Nats-Rollup: all`)
   * would purge every other service's keys, and subject permissions cannot look at headers.
   * Writers delete keys instead of purging them.
   */
  writtenByOthers?: boolean;
}

export interface ObjectStoreSpec {
  name: string;
  ttlMs?: number;
  description: string;
  owner: ServiceName;
  /** Read by other services as a published artifact (read-only for them, no consumer per read). */
  readers?: readonly ServiceName[];
}

/**
 * A core-NATS request/reply call (`<domain>.rpc.<name>`): its subject and the schemas both sides
 * validate against. The owner of the data serves it in a queue group; callers never read its buckets.
 */
export interface RpcSpec<Req extends z.ZodType = z.ZodType, Res extends z.ZodType = z.ZodType> {
  subject: string;
  request: Req;
  reply: Res;
}
