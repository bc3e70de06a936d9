import type { KV } from '@nats-io/kv';
import { isLive } from '#shared/nats/kv';

/** One failed attempt, kept so a dead letter shows the whole story, not just the last error. */
export interface FailedAttempt {
  attempt: number;
  at: string;
  error: string;
}

export interface AttemptHistory {
  firstAttemptAt?: string;
  failures: FailedAttempt[];
  /**
   * Deliveries handed back unrun or interrupted by a worker shutting down. The server counts them
   * as deliveries; the runner does not count them as attempts, so rolling deploys do not use up
   * a job's retries.
   */
  handedBack?: number;
  /**
   * Deliveries of a delayed job that came before its time and were deferred (nak with the
   * remaining delay) unrun: on servers without message schedules. Not attempts either.
   */
  deferred?: number;
  /**
   * Runs of a delayed job's handler that began (recorded before each run). A delayed job's attempt
   * number is this plus one rather than a count of deliveries: on servers without message
   * schedules it is delivered and deferred several times before its time, and a broker restart
   * in between leaves deliveries no worker could record.
   */
  started?: number;
}

/** Failure history of jobs still retrying. Written only when an attempt fails: success costs nothing. */
export interface AttemptLog {
  get(key: string): Promise<AttemptHistory | undefined>;
  recordFailure(key: string, firstAttemptAt: string, failure: FailedAttempt): Promise<AttemptHistory>;
  recordHandBack(key: string): Promise<void>;
  recordDeferral(key: string): Promise<void>;
  /** Counts one run of a delayed job's handler, before it runs; resolves with the run's number. */
  recordStart(key: string): Promise<number>;
  forget(key: string): Promise<void>;
}

const MAX_KEPT = 20;

export const attemptKey = (stream: string, consumer: string, streamSeq: number): string =>
  `${stream}.${consumer}.${streamSeq}`;

/** How long one read or write of the log keeps trying across a broker restart or a reconnect. */
export const ATTEMPT_LOG_PATIENCE_MS = 8_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Tries `work` again with growing pauses for up to `patienceMs`: a hand-back or a deferral that
 * is not recorded counts as an attempt later, and the moments these are written (a worker
 * stopping, a broker just restarted and redelivering) are the moments the bucket is briefly away.
 * A write whose answer was lost may land twice; that undercounts by one, never overcounts.
 */
export const patiently = async <T>(work: () => Promise<T>, patienceMs = ATTEMPT_LOG_PATIENCE_MS): Promise<T> => {
  const giveUpAt = Date.now() + patienceMs;
  for (let pause = 100; ; pause = Math.min(pause * 2, 1_000)) {
    try {
      return await work();
    } catch (error) {
      if (Date.now() + pause > giveUpAt) throw error;
      await sleep(pause);
    }
  }
};

/** The log in a KV bucket, opened on first use and again after a failed open. */
export const createKvAttemptLog = (open: () => Promise<KV>, patienceMs = ATTEMPT_LOG_PATIENCE_MS): AttemptLog => {
  let bucket: Promise<KV> | undefined;
  const kv = () =>
    (bucket ??= open().catch((error: unknown) => {
      bucket = undefined;
      throw error;
    }));
  const read = async (key: string) => {
    const entry = await (await kv()).get(key);
    if (!isLive(entry)) return undefined;
    return entry.json<AttemptHistory>();
  };
  // One message is handled by one worker at a time, so a plain read-modify-write is safe here.
  const change = (key: string, next: (previous: AttemptHistory | undefined) => AttemptHistory) =>
    patiently(async () => {
      const history = next(await read(key));
      await (await kv()).put(key, JSON.stringify(history));
      return history;
    }, patienceMs);
  return {
    get: (key) => patiently(() => read(key), patienceMs),
    recordFailure: (key, firstAttemptAt, failure) =>
      change(key, (previous) => ({
        ...previous,
        firstAttemptAt: previous?.firstAttemptAt ?? firstAttemptAt,
        failures: [...(previous?.failures ?? []), failure].slice(-MAX_KEPT),
      })),
    async recordHandBack(key) {
      await change(key, (previous) => ({ ...previous, failures: previous?.failures ?? [], handedBack: (previous?.handedBack ?? 0) + 1 }));
    },
    async recordDeferral(key) {
      await change(key, (previous) => ({ ...previous, failures: previous?.failures ?? [], deferred: (previous?.deferred ?? 0) + 1 }));
    },
    async recordStart(key) {
      const history = await change(key, (previous) => ({ ...previous, failures: previous?.failures ?? [], started: (previous?.started ?? 0) + 1 }));
      return history.started ?? 1;
    },
    async forget(key) {
      // A delete marker, not a purge: a purge is a rollup, which the bucket refuses (BUCKETS.jobAttempts
      // is written by every worker). With history 1 the marker replaces the value all the same.
      await (await kv()).delete(key);
    },
  };
};
