import type { NatsConnection } from '@nats-io/transport-node';

/**
 * What JetStream offers on the server a connection is on now, from the version in its INFO
 * (`nc.info.version`). Read it when deciding, not once at start: after a reconnect the connection
 * may be on another node (a rolling upgrade). The floor is 2.9.10; each feature names the first
 * release that has it.
 */
export const FEATURE_SINCE = {
  /** `term(reason)`: the reason reaches the MSG_TERMINATED advisory. 2.9 does not parse `+TERM <reason>` and redelivers. */
  termReason: '2.10.0',
  /** Stream and consumer `metadata`. */
  metadata: '2.10.0',
  /** Per-message TTL (`Nats-TTL`, stream `allow_msg_ttl`): KV keys that expire on their own. */
  perMessageTtl: '2.11.0',
  /** Pausing a consumer (`pause_until`, `$JS.API.CONSUMER.PAUSE`): the operator pause of a queue. */
  consumerPause: '2.11.0',
  /** Pull consumer priority groups (overflow, pinned client). */
  priorityGroups: '2.11.0',
  /** Direct gets of many messages in one request (`batch`, `multi_last`). */
  batchDirectGet: '2.11.0',
  /** Message schedules (`Nats-Schedule`): a message published later by the server. */
  messageSchedules: '2.12.0',
  /** Atomic batch publish (`Nats-Batch-Id`): all messages of a batch stored, or none. */
  atomicBatch: '2.12.0',
  /** Distributed counters (`Nats-Incr`). */
  counters: '2.12.0',
} as const;

export type Feature = keyof typeof FEATURE_SINCE;

export type ServerFeatures = { version: string } & Record<Feature, boolean>;

/** `[2, 15, 1]` from `2.15.1` (a pre-release suffix is ignored); unknown parts are 0. */
export const parseVersion = (version: string): [number, number, number] => {
  const [major = 0, minor = 0, patch = 0] = (/^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(version.trim()) ?? [])
    .slice(1)
    .map((part) => Number(part ?? 0));
  return [major, minor, patch];
};

export const atLeast = (version: string, minimum: string): boolean => {
  const have = parseVersion(version);
  const need = parseVersion(minimum);
  for (let i = 0; i < 3; i++) if (have[i] !== need[i]) return have[i]! > need[i]!;
  return true;
};

export const featuresOf = (version: string): ServerFeatures => {
  const features = { version } as ServerFeatures;
  for (const [feature, since] of Object.entries(FEATURE_SINCE) as Array<[Feature, string]>) features[feature] = atLeast(version, since);
  return features;
};

/** The features of the server this connection is on now; an unknown version gets the floor's (none). */
export const serverFeatures = (nc: Pick<NatsConnection, 'info'>): ServerFeatures => featuresOf(nc.info?.version ?? '0.0.0');

/** Consumer pause (`$JS.API.CONSUMER.PAUSE`, `pause_until` in the consumer's config). */
export const supportsConsumerPause = (version: string | undefined): boolean => atLeast(version ?? '0.0.0', FEATURE_SINCE.consumerPause);

/** Message scheduling (`allow_msg_schedules`, `Nats-Schedule: @at …`, ADR-51). */
export const supportsMessageSchedules = (version: string | undefined): boolean => atLeast(version ?? '0.0.0', FEATURE_SINCE.messageSchedules);
