import type { KV } from '@nats-io/kv';

/** One failed attempt, kept so a dead letter shows the whole story, not just the last error. */
export interface FailedAttempt {
  attempt: number;
  at: string;
  error: string;
}

export interface AttemptHistory {
  firstAttemptAt: string;
  failures: FailedAttempt[];
}

/** Failure history of jobs still retrying. Written only when an attempt fails: success costs nothing. */
export interface AttemptLog {
  get(key: string): Promise<AttemptHistory | undefined>;
  recordFailure(key: string, firstAttemptAt: string, failure: FailedAttempt): Promise<AttemptHistory>;
  forget(key: string): Promise<void>;
}

const MAX_KEPT = 20;

export const attemptKey = (stream: string, consumer: string, streamSeq: number): string =>
  `${stream}.${consumer}.${streamSeq}`;

export const createKvAttemptLog = (kv: KV): AttemptLog => {
  const get = async (key: string) => {
    const entry = await kv.get(key);
    if (!entry || entry.operation !== 'PUT') return undefined;
    return entry.json<AttemptHistory>();
  };
  return {
    get,
    async recordFailure(key, firstAttemptAt, failure) {
      // One message is handled by one worker at a time, so a plain read-modify-write is safe here.
      const previous = await get(key);
      const history: AttemptHistory = {
        firstAttemptAt: previous?.firstAttemptAt ?? firstAttemptAt,
        failures: [...(previous?.failures ?? []), failure].slice(-MAX_KEPT),
      };
      await kv.put(key, JSON.stringify(history));
      return history;
    },
    async forget(key) {
      await kv.purge(key);
    },
  };
};

/** In-memory attempt log for unit tests and single-process tools. */
export const createMemoryAttemptLog = (): AttemptLog => {
  const store = new Map<string, AttemptHistory>();
  return {
    get: async (key) => store.get(key),
    async recordFailure(key, firstAttemptAt, failure) {
      const previous = store.get(key);
      const history = {
        firstAttemptAt: previous?.firstAttemptAt ?? firstAttemptAt,
        failures: [...(previous?.failures ?? []), failure].slice(-MAX_KEPT),
      };
      store.set(key, history);
      return history;
    },
    forget: async (key) => void store.delete(key),
  };
};
