import { BUCKETS, OBJECT_STORES } from './buckets.ts';
import type { BucketSpec, ObjectStoreSpec, ServiceName, StreamSpec } from './spec.ts';
import { STREAMS } from './streams.ts';

/** What one service creates and keeps to its declaration at start. */
export interface Owned {
  streams: readonly StreamSpec[];
  buckets: readonly BucketSpec[];
  objectStores: readonly ObjectStoreSpec[];
}

/** The streams, buckets and object stores whose owner is `service`. */
export const ownedBy = (service: ServiceName): Owned => ({
  streams: Object.values(STREAMS).filter((s) => s.owner === service),
  buckets: Object.values(BUCKETS).filter((b) => b.owner === service),
  objectStores: Object.values(OBJECT_STORES).filter((o) => o.owner === service),
});
