import { JetStreamApiCodes, JetStreamApiError, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV, type KvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { z } from 'zod';
import type { BucketSpec } from '#shared/contracts/spec';

/**
 * KV the way every service uses it: typed records written only with revision checks, and the
 * server's answers (a lost compare-and-set, a missing key, a deleted entry) recognised in one place.
 */

/** Opens a bucket that exists (its owner ensured it at start). */
export const openBucket = (nc: NatsConnection, spec: Pick<BucketSpec, 'name'>): Promise<KV> => new Kvm(nc).open(spec.name);

/** How full a bucket is: bytes stored and its max_bytes (undefined: unbounded). */
export interface BucketUsage {
  bytes: number;
  maxBytes: number | undefined;
}

/** Reads a bucket's usage from its stream's state (one STREAM.INFO). */
export const bucketUsage = (jsm: Pick<JetStreamManager, 'streams'>, spec: Pick<BucketSpec, 'name'>) => async (): Promise<BucketUsage> => {
  const { config, state } = await jsm.streams.info(`KV_${spec.name}`);
  return { bytes: state.bytes, maxBytes: config.max_bytes > 0 ? config.max_bytes : undefined };
};

/** A revision-checked write lost a race; `create()` of a key that exists answers the same way. */
export const isConflict = (error: unknown): boolean =>
  error instanceof JetStreamApiError
    ? error.code === JetStreamApiCodes.StreamWrongLastSequence || error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown
    : error instanceof Error && /wrong last sequence|key exists/i.test(error.message);

/** A stream, consumer or message the server does not have. */
export const isNotFound = (error: unknown): boolean =>
  error instanceof JetStreamApiError
    ? error.code === JetStreamApiCodes.StreamNotFound || error.code === JetStreamApiCodes.ConsumerNotFound || error.code === JetStreamApiCodes.NoMessageFound
    : error instanceof Error && /not found/i.test(error.message);

/** An entry holding a value: not missing, not a delete or purge marker. */
export const isLive = (entry: KvEntry | null | undefined): entry is KvEntry => !!entry && entry.operation === 'PUT' && entry.length > 0;

/** The narrow surface typed records need; tests pass an in-memory fake. */
export type RecordKv = Pick<KV, 'get' | 'create' | 'update'> & {
  keys(filter: string): Promise<AsyncIterable<string> | Iterable<string>>;
};

/**
 * A bucket's keys matching `filter`, from the stream's per-subject counts (STREAM.INFO with a
 * subjects filter; 2.9+) instead of `kv.keys()`, which creates a consumer per call that lingers
 * on the server: listed on a request path (a user's orders), that piles up toward the server's
 * consumer limit. A deleted key keeps its delete marker and is listed until the marker goes, so a
 * listed key's value may be gone (callers read it anyway).
 */
export const listKeys = async (jsm: Pick<JetStreamManager, 'streams'>, bucket: string, filter = '>'): Promise<string[]> => {
  const prefix = `$KV.${bucket}.`;
  const info = await jsm.streams.info(`KV_${bucket}`, { subjects_filter: `${prefix}${filter}` });
  return Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(prefix.length));
};

/** Typed records' surface over a real bucket, its keys listed without a consumer (listKeys). */
export const recordBucket = (kv: KV, jsm: Pick<JetStreamManager, 'streams'>, bucket: string): RecordKv => ({
  get: (key) => kv.get(key),
  create: (key, value) => kv.create(key, value),
  update: (key, value, revision) => kv.update(key, value, revision),
  keys: (filter) => listKeys(jsm, bucket, filter),
});

const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

export interface KvRecords<T> {
  read(key: string): Promise<{ value: T; revision: number } | undefined>;
  /** false when the key already exists (another writer, or a redelivery, got there first). */
  create(key: string, value: T): Promise<boolean>;
  /**
   * Applies `mutate` to the current value until the revision-checked write wins. `mutate`
   * returning undefined means "no change". Resolves with the value now stored and its revision
   * (undefined if none).
   */
  change(key: string, mutate: (current: T) => T | undefined): Promise<{ value: T; revision: number; changed: boolean } | undefined>;
  keys(filter: string): Promise<string[]>;
}

/** Typed JSON records: concurrent writers on several replicas never overwrite each other. */
export const kvRecords = <T>(kv: RecordKv, schema: z.ZodType<T>): KvRecords<T> => {
  const read = async (key: string) => {
    const entry = await kv.get(key);
    if (!isLive(entry)) return undefined;
    return { value: schema.parse(entry.json()), revision: entry.revision };
  };
  return {
    read,
    async create(key, value) {
      try {
        await kv.create(key, encode(value));
        return true;
      } catch (error) {
        if (isConflict(error)) return false;
        throw error;
      }
    },
    async change(key, mutate) {
      for (let tries = 0; ; tries++) {
        const current = await read(key);
        if (!current) return undefined;
        const next = mutate(current.value);
        if (next === undefined) return { value: current.value, revision: current.revision, changed: false };
        try {
          const revision = await kv.update(key, encode(next), current.revision);
          return { value: next, revision, changed: true };
        } catch (error) {
          if (!isConflict(error) || tries >= 100) throw error;
          await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(200, 5 * (tries + 1))));
        }
      }
    },
    async keys(filter) {
      const out: string[] = [];
      for await (const key of await kv.keys(filter)) out.push(key);
      return out;
    },
  };
};
