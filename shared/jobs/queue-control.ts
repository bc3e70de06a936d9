import type { JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { isLive } from '#shared/nats/kv';
import type { ConsumerRow } from '#shared/nats/queue-stats';
import { supportsConsumerPause } from '#shared/nats/server-features';
import { inForce, pauseKey, PauseRecord } from './pause-record.ts';
import { PULL_EXPIRES_MS, sleep } from './runner-state.ts';

/**
 * Pause and resume, for the CLI and the console alike. A name is a stream (every durable consumer
 * on it) or a consumer as `queues` lists it (`CONSUMER`, or `STREAM/CONSUMER` when the name is
 * not unique). Servers with consumer pause (2.11+) pause on the server: nothing is delivered, and
 * the pause lives in the consumer's config (restarts of workers and server keep it). Older
 * servers get the runtime's own pause: a key in `queue_pauses` that every runner watches.
 */

/** A name the operator gave that names no queue (CLI: exit 1; console: 404). */
export class UnknownQueueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnknownQueueError';
  }
}

export interface QueueTarget {
  stream: string;
  /** Set when one consumer was named; otherwise the whole stream. */
  consumer?: string;
  /** The durable consumers the pause covers now. */
  consumers: string[];
}

export interface QueueControlDeps {
  jsm: JetStreamManager;
  /** The connected server's version (`nc.info.version`): consumer pause from 2.11. */
  serverVersion: string | undefined;
  /** The `queue_pauses` bucket (the CLI creates it when the console has not yet). */
  pauses(): Promise<KV>;
  /** Who pauses: `cli` or `console`. */
  by: string;
}

const durableConsumers = async (jsm: JetStreamManager, stream: string) => {
  const names: string[] = [];
  for await (const c of jsm.consumers.list(stream)) if (c.config.durable_name) names.push(c.name);
  return names.sort();
};

export const resolveQueue = async (jsm: JetStreamManager, name: string): Promise<QueueTarget> => {
  const streams: string[] = [];
  for await (const s of jsm.streams.names()) streams.push(s);
  const [streamPart, consumerPart, ...rest] = name.split('/');
  if (consumerPart !== undefined) {
    if (rest.length > 0 || !streamPart || !streams.includes(streamPart)) throw new UnknownQueueError(`no queue ${name}`);
    const consumers = await durableConsumers(jsm, streamPart);
    if (!consumers.includes(consumerPart)) throw new UnknownQueueError(`stream ${streamPart} has no consumer ${consumerPart}`);
    return { stream: streamPart, consumer: consumerPart, consumers: [consumerPart] };
  }
  if (streams.includes(name)) return { stream: name, consumers: await durableConsumers(jsm, name) };
  const found: QueueTarget[] = [];
  for (const stream of streams) if ((await durableConsumers(jsm, stream)).includes(name)) found.push({ stream, consumer: name, consumers: [name] });
  if (found.length === 1) return found[0]!;
  if (found.length > 1) throw new UnknownQueueError(`${name} is a consumer of ${found.map((t) => t.stream).join(' and ')}: say STREAM/${name}`);
  throw new UnknownQueueError(`no stream or consumer named ${name} (see \`queues\`)`);
};

// "Until resumed": far enough to never end, near enough for the server's nanosecond arithmetic.
const FOREVER_MS = 100 * 365 * 24 * 3_600_000;
export const isForever = (until: string | undefined, now = Date.now()) => !until || Date.parse(until) - now > FOREVER_MS / 2;

export interface PauseResult {
  target: QueueTarget;
  how: 'server' | 'runtime';
  until?: string;
  /** Runtime pause: consumers that still had workers pulling when we stopped waiting (old workers?). */
  stillPulling: string[];
}

/**
 * Waits until no worker pulls from the consumers any more (their last pull requests have expired):
 * from then on nothing new is delivered, so a job published after `queues pause` returns stays
 * in its queue. Returns the consumers that still have pull requests waiting.
 */
const untilNotPulling = async (jsm: JetStreamManager, stream: string, consumers: readonly string[]) => {
  const deadline = Date.now() + PULL_EXPIRES_MS + 3_000;
  for (;;) {
    const pulling: string[] = [];
    for (const c of consumers) if ((await jsm.consumers.info(stream, c)).num_waiting > 0) pulling.push(c);
    if (pulling.length === 0 || Date.now() > deadline) return pulling;
    await sleep(100);
  }
};

export const pauseQueue = async (deps: QueueControlDeps, name: string, options: { forMs?: number } = {}): Promise<PauseResult> => {
  const target = await resolveQueue(deps.jsm, name);
  const now = Date.now();
  const until = options.forMs === undefined ? undefined : new Date(now + options.forMs).toISOString();
  if (supportsConsumerPause(deps.serverVersion) && target.consumers.length > 0) {
    const when = new Date(until ? Date.parse(until) : now + FOREVER_MS);
    for (const c of target.consumers) await deps.jsm.consumers.pause(target.stream, c, when);
    return { target, how: 'server', ...(until ? { until } : {}), stillPulling: [] };
  }
  const record: PauseRecord = { pausedAt: new Date(now).toISOString(), by: deps.by, ...(until ? { until } : {}) };
  await (await deps.pauses()).put(pauseKey(target.stream, target.consumer), JSON.stringify(record));
  return { target, how: 'runtime', ...(until ? { until } : {}), stillPulling: await untilNotPulling(deps.jsm, target.stream, target.consumers) };
};

export interface ResumeResult {
  target: QueueTarget;
  /** A consumer named alone stays paused while its whole stream is (runtime pause). */
  stillPausedByStream: boolean;
}

/** Ends every pause the name covers, on the server and in the runtime, whichever made it. */
export const resumeQueue = async (deps: QueueControlDeps, name: string): Promise<ResumeResult> => {
  const target = await resolveQueue(deps.jsm, name);
  if (supportsConsumerPause(deps.serverVersion)) {
    for (const c of target.consumers) {
      const info = await deps.jsm.consumers.info(target.stream, c);
      if (info.paused) await deps.jsm.consumers.resume(target.stream, c);
    }
  }
  const kv = await deps.pauses();
  const keys = target.consumer ? [pauseKey(target.stream, target.consumer)] : [pauseKey(target.stream), ...target.consumers.map((c) => pauseKey(target.stream, c))];
  for (const key of keys) if (isLive(await kv.get(key))) await kv.delete(key);
  const streamWide = target.consumer ? await kv.get(pauseKey(target.stream)) : null;
  return { target, stillPausedByStream: isLive(streamWide) && inForce(PauseRecord.safeParse(streamWide.json()).data) };
};

export interface QueuePause {
  how: 'server' | 'runtime';
  /** Unset: until resumed. */
  until?: string;
  /** Runtime pauses: the whole stream, or this consumer. */
  scope: 'stream' | 'consumer';
}

export type QueueRow = ConsumerRow & { paused?: QueuePause };

/** A runtime pause record by key (from gets, or from a watch that holds them). */
export type PauseLookup = (key: string) => PauseRecord | undefined | Promise<PauseRecord | undefined>;

export const kvPauseLookup =
  (kv: Pick<KV, 'get'>): PauseLookup =>
  async (key) => {
    const entry = await kv.get(key);
    if (!isLive(entry)) return undefined;
    const parsed = PauseRecord.safeParse(entry.json());
    return parsed.success ? parsed.data : undefined;
  };

/** `queues` rows with their pause: the server's (2.11+) or the runtime's (`queue_pauses`). */
export const withPauses = async (rows: readonly ConsumerRow[], lookup: PauseLookup | undefined, now = Date.now()): Promise<QueueRow[]> => {
  const out: QueueRow[] = [];
  for (const row of rows) {
    if (row.serverPausedUntil) {
      out.push({ ...row, paused: { how: 'server', scope: 'consumer', ...(isForever(row.serverPausedUntil, now) ? {} : { until: row.serverPausedUntil }) } });
      continue;
    }
    const stream = lookup ? await lookup(pauseKey(row.stream)) : undefined;
    const own = lookup && row.consumer !== '-' ? await lookup(pauseKey(row.stream, row.consumer)) : undefined;
    const record = inForce(stream, now) ? stream : inForce(own, now) ? own : undefined;
    out.push(record ? { ...row, paused: { how: 'runtime', scope: record === stream ? 'stream' : 'consumer', ...(record.until ? { until: record.until } : {}) } } : { ...row });
  }
  return out;
};

/** `paused (server)`, `paused (runtime, stream) until 12:00:00Z`, or `active`, for tables. */
export const describePause = (paused: QueuePause | undefined): string => {
  if (!paused) return 'active';
  const how = paused.how === 'server' ? 'server' : `runtime${paused.scope === 'stream' ? ', stream' : ''}`;
  return `paused (${how})${paused.until ? ` until ${paused.until.slice(0, 19)}Z` : ''}`;
};
