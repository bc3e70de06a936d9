import {
  jetstreamManager,
  AckPolicy,
  DeliverPolicy,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import type { Owned } from '#shared/contracts/ownership';
import type { BucketSpec, JobSpec, ObjectStoreSpec, StreamSpec } from '#shared/contracts/spec';
import type { Log } from '#shared/observability/logger';
import { isNotFound } from './kv.ts';
import { supportsMessageSchedules } from './server-features.ts';

/**
 * Idempotent start-up declarations: create what is missing, update what is safe to update, and
 * report drift that only an operator should resolve (a retention change would drop messages).
 */

export interface EnsureDeps {
  jsm: JetStreamManager;
  log: Log;
  replicas: number;
  /** The connected server's version (`nc.info.version`): which features a declaration may use. */
  serverVersion?: string;
}


export const streamConfig = (spec: Omit<StreamSpec, 'owner'>, replicas: number, serverVersion?: string): Partial<StreamConfig> & { name: string } => {
  // Schedules are stored as rollup messages: the server turns rollups on with them, so the
  // declaration says so too (or every start would "fix" it back). Only a stream written by its
  // owner alone declares messageSchedules.
  const schedules = spec.messageSchedules === true && supportsMessageSchedules(serverVersion);
  return {
    name: spec.name,
    subjects: [...spec.subjects],
    retention: spec.retention === 'workqueue' ? RetentionPolicy.Workqueue : RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: replicas,
    max_age: spec.maxAgeMs ? nanos(spec.maxAgeMs) : 0,
    duplicate_window: nanos(Math.min(spec.duplicateWindowMs ?? 120_000, spec.maxAgeMs ?? Number.MAX_SAFE_INTEGER)),
    description: spec.description,
    max_bytes: spec.maxBytes ?? -1,
    // A `Nats-Rollup` header purges a subject (or the whole stream); every stream here is written by
    // services that must not be able to delete what others wrote (e.g. every worker writes the DLQ).
    allow_rollup_hdrs: schedules,
    ...(schedules ? { allow_msg_schedules: true } : {}),
  };
};

export const ensureStream = async (deps: EnsureDeps, spec: Omit<StreamSpec, 'owner'>): Promise<void> => {
  const wanted = streamConfig(spec, deps.replicas, deps.serverVersion);
  try {
    const info = await deps.jsm.streams.info(spec.name);
    const current = info.config;
    if (current.retention !== wanted.retention) {
      deps.log.error(
        { stream: spec.name, current: current.retention, wanted: wanted.retention },
        'stream drift: retention differs and cannot be changed in place; recreate it by hand',
      );
      return;
    }
    const changed =
      JSON.stringify([...current.subjects].sort()) !== JSON.stringify([...(wanted.subjects ?? [])].sort()) ||
      current.max_age !== wanted.max_age ||
      current.duplicate_window !== wanted.duplicate_window ||
      current.num_replicas !== wanted.num_replicas ||
      current.description !== wanted.description ||
      current.max_bytes !== wanted.max_bytes ||
      Boolean(current.allow_rollup_hdrs) !== wanted.allow_rollup_hdrs ||
      (wanted.allow_msg_schedules === true && current.allow_msg_schedules !== true);
    if (changed) {
      await deps.jsm.streams.update(spec.name, { ...current, ...wanted });
      deps.log.info({ stream: spec.name }, 'stream updated to its declaration');
    }
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await deps.jsm.streams.add(wanted);
    deps.log.info({ stream: spec.name }, 'stream created');
  }
};

/**
 * The server's delivery limit. The runner counts attempts itself (hand-backs at shutdown are not
 * attempts) and dead-letters a delivery past the attempt limit; this limit leaves room for many
 * hand-backs, and the runner also dead-letters the last delivery the server will make, so a
 * message is never dropped silently. (An unlimited `max_deliver: -1` left a message ack-pending
 * and never redelivered after a 2.9 server restart in the chaos test.)
 */
export const deliveryLimit = (job: Pick<JobSpec, 'maxAttempts' | 'delayed'>): number => job.maxAttempts + 50 + (job.delayed ? DEFERRALS : 0);

/**
 * Deliveries a delayed job may spend being deferred on a server without schedules. Each deferral
 * waits out the whole remaining delay, so one is the rule; a broker restart or a worker dying
 * with the job in hand can add one each.
 */
const DEFERRALS = 200;

/**
 * Ack-pending messages a consumer may have. On a server without schedules every delayed job
 * waits ack-pending (deferred) until its time: a delay lane leaves room for many. (Within one lane
 * the delay is the same for every job, so a lane that reaches the bound only holds back jobs that
 * are due later than every waiting one.)
 */
const maxAckPending = (job: Pick<JobSpec, 'concurrency' | 'delayed'>): number =>
  job.delayed ? 10_000 : Math.max(1_000, job.concurrency * 20);

export const consumerConfig = (job: JobSpec): Partial<ConsumerConfig> & { durable_name: string } => ({
  durable_name: job.consumer,
  filter_subject: job.subject,
  ack_policy: AckPolicy.Explicit,
  ack_wait: nanos(job.ackWaitMs),
  max_deliver: deliveryLimit(job),
  max_ack_pending: maxAckPending(job),
  deliver_policy: job.deliverPolicy === 'new' ? DeliverPolicy.New : DeliverPolicy.All,
  description: `${job.name}: ${job.maxAttempts} attempts, timeout ${job.timeoutMs} ms`,
});

export const ensureConsumer = async (deps: EnsureDeps, job: JobSpec): Promise<void> => {
  const wanted = consumerConfig(job);
  try {
    const info = await deps.jsm.consumers.info(job.stream, job.consumer);
    const current = info.config;
    if (current.filter_subject !== wanted.filter_subject) {
      deps.log.error({ consumer: job.consumer, current: current.filter_subject }, 'consumer drift: filter subject differs');
      return;
    }
    if (
      current.ack_wait !== wanted.ack_wait ||
      current.max_deliver !== wanted.max_deliver ||
      current.max_ack_pending !== wanted.max_ack_pending ||
      current.description !== wanted.description
    ) {
      const { ack_wait, max_deliver, max_ack_pending, description } = wanted;
      await deps.jsm.consumers.update(job.stream, job.consumer, { ack_wait, max_deliver, max_ack_pending, description });
      deps.log.info({ consumer: job.consumer }, 'consumer updated to its declaration');
    }
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await deps.jsm.consumers.add(job.stream, wanted);
    deps.log.info({ consumer: job.consumer, stream: job.stream }, 'consumer created');
  }
};

export const ensureBucket = async (nc: NatsConnection, spec: BucketSpec, replicas: number): Promise<KV> => {
  const kv = await new Kvm(nc).create(spec.name, {
    history: spec.history ?? 1,
    replicas,
    ttl: spec.ttlMs ?? 0,
    ...(spec.maxBytes ? { max_bytes: spec.maxBytes } : {}),
    description: spec.description,
    // Direct gets may be answered by any replica, and a follower can lag the leader: on an R3
    // cluster a read right after a write then returns the old value (seen in
    // test/deploy/cluster-failover.test.ts: an order marked paid read back as pending_payment).
    // Reads through the stream leader see every acknowledged write.
    allow_direct: false,
  });
  await keepToDeclaration(await jetstreamManager(nc), `KV_${spec.name}`, spec);
  return kv;
};

/**
 * create() leaves an existing bucket as it is, and the KV client always makes buckets that accept
 * `Nats-Rollup` (its purge is a rollup of one key). So the stream is brought to the declaration
 * after: its size bound, and, for a bucket written by other services than its owner, no rollups
 * (the client made the config, so the stream stays a KV bucket to every client; a rollup in the
 * moment between creation and the switch could only remove what was written in that moment).
 */
const keepToDeclaration = async (jsm: JetStreamManager, stream: string, spec: BucketSpec) => {
  const { config } = await jsm.streams.info(stream);
  const wanted = { max_bytes: spec.maxBytes ?? -1, allow_rollup_hdrs: spec.writtenByOthers ? false : config.allow_rollup_hdrs };
  if (config.max_bytes !== wanted.max_bytes || config.allow_rollup_hdrs !== wanted.allow_rollup_hdrs) {
    await jsm.streams.update(stream, { ...config, ...wanted });
  }
};

/**
 * The object store client creates stores with `allow_direct`; a store made otherwise (another
 * client, by hand) gets it switched on: readers fetch objects with direct gets, never with a
 * consumer per read (shared/nats/object-reader.ts).
 */
export const ensureObjectStore = async (nc: NatsConnection, spec: ObjectStoreSpec, replicas: number): Promise<ObjectStore> => {
  const store = await new Objm(nc).create(spec.name, { replicas, ttl: spec.ttlMs ?? 0, description: spec.description });
  const jsm = await jetstreamManager(nc);
  const { config } = await jsm.streams.info(`OBJ_${spec.name}`);
  if (config.allow_direct !== true) await jsm.streams.update(config.name, { ...config, allow_direct: true });
  return store;
};

/** Creates (or brings to their declaration) the streams, buckets and object stores a service owns. */
export const ensureOwned = async (nc: NatsConnection, deps: EnsureDeps, owned: Owned): Promise<void> => {
  const withVersion = { ...deps, serverVersion: deps.serverVersion ?? nc.info?.version };
  for (const stream of owned.streams) await ensureStream(withVersion, stream);
  for (const bucket of owned.buckets) await ensureBucket(nc, bucket, deps.replicas);
  for (const store of owned.objectStores) await ensureObjectStore(nc, store, deps.replicas);
};
