import type { KV } from '@nats-io/kv';
import { KvWatchInclude } from '@nats-io/kv';
import { isLive, isNotFound } from '#shared/nats/kv';
import type { Log } from '#shared/observability/logger';
import { errorMessage } from '#shared/observability/errors';
import { inForce, pauseKey, PauseRecord } from './pause-record.ts';
import { sleep } from './runner-state.ts';

/** What one runner sees of the operators' pauses (a stream-wide or its own consumer's). */
export interface PauseTracker {
  /** Paused now. */
  paused(): boolean;
  /** Resolves once the state has been read at least once: a starting runner never pulls a paused queue. */
  ready(): Promise<void>;
  /** Called on every change of `paused()`; returns the unsubscribe. */
  onChange(listener: (paused: boolean) => void): () => void;
}

export interface PauseWatch {
  track(stream: string, consumer: string): PauseTracker;
  /** The record under a key, as last seen (every key with `everyKey`, else tracked ones and updates). */
  lookup(key: string): PauseRecord | undefined;
  close(): void;
}

/**
 * One watcher per process over the `queue_pauses` bucket (one ordered consumer, not one per
 * runner). Changes arrive by watch; the keys of tracked runners are also read again every
 * `recheckMs`, so a watch that missed an update across a broker restart is corrected. Until the
 * bucket has been read once, trackers are not ready and runners do not pull: a queue paused
 * before a worker (re)started stays paused. A bucket that does not exist means nothing is paused
 * (it is created with the first pause); it is looked for again every `retryMs`.
 */
export const watchPauses = (open: () => Promise<KV>, log: Log, options: { recheckMs?: number; retryMs?: number; everyKey?: boolean } = {}): PauseWatch => {
  const recheckMs = options.recheckMs ?? 10_000;
  const retryMs = options.retryMs ?? 2_000;
  const records = new Map<string, PauseRecord | undefined>();
  const listeners = new Set<() => void>();
  const tracked = new Set<string>();
  let loaded = false;
  let stopped = false;
  let markLoaded!: () => void;
  const whenLoaded = new Promise<void>((resolve) => (markLoaded = resolve));
  let kv: KV | undefined;
  let stopWatch: (() => void) | undefined;

  const notify = () => {
    for (const listener of listeners) listener();
  };
  const setRecord = (key: string, value: unknown) => {
    const parsed = value === undefined ? undefined : PauseRecord.safeParse(value);
    records.set(key, parsed?.success ? parsed.data : undefined);
  };
  const readKeys = async (bucket: KV, keys: Iterable<string>) => {
    for (const key of keys) {
      const entry = await bucket.get(key);
      setRecord(key, isLive(entry) ? entry.json() : undefined);
    }
    notify();
  };
  const setLoaded = () => {
    if (loaded) return;
    loaded = true;
    markLoaded();
  };

  const connect = async (): Promise<void> => {
    const bucket = await open();
    // Runners read their own keys below (so they know when they know); the console wants every key.
    const watcher = await bucket.watch({ include: options.everyKey ? KvWatchInclude.LastValue : KvWatchInclude.UpdatesOnly });
    stopWatch = () => watcher.stop();
    void (async () => {
      for await (const entry of watcher) {
        setRecord(entry.key, isLive(entry) ? entry.json() : undefined);
        notify();
      }
    })().catch(() => undefined);
    await readKeys(bucket, tracked);
    kv = bucket;
  };

  void (async () => {
    let complained = false;
    while (!stopped && !kv) {
      try {
        await connect();
        setLoaded();
      } catch (error) {
        if (isNotFound(error)) setLoaded();
        else if (!complained) {
          complained = true;
          log.error({ err: errorMessage(error) }, 'queue pauses cannot be read; jobs wait until they can (a paused queue must not run)');
        }
        if (!stopped && !kv) await sleep(retryMs);
      }
    }
    while (!stopped) {
      await sleep(recheckMs);
      if (stopped || !kv) continue;
      await readKeys(kv, tracked).catch(() => undefined);
    }
  })();

  const pausedFor = (stream: string, consumer: string) => {
    const now = Date.now();
    return inForce(records.get(pauseKey(stream)), now) || inForce(records.get(pauseKey(stream, consumer)), now);
  };

  return {
    track(stream, consumer) {
      const keys = [pauseKey(stream), pauseKey(stream, consumer)];
      for (const key of keys) tracked.add(key);
      // A runner added after the first read has its keys read now, before it may pull.
      const ready = loaded && kv ? readKeys(kv, keys).catch(() => undefined) : whenLoaded;
      return {
        paused: () => pausedFor(stream, consumer),
        ready: () => ready.then(() => undefined),
        onChange(listener) {
          let last = pausedFor(stream, consumer);
          const check = () => {
            const now = pausedFor(stream, consumer);
            if (now !== last) {
              last = now;
              listener(now);
            }
          };
          listeners.add(check);
          // A pause with an `until` ends by itself: look again now and then.
          const timer = setInterval(check, 1_000);
          timer.unref();
          return () => {
            listeners.delete(check);
            clearInterval(timer);
          };
        },
      };
    },
    lookup: (key) => records.get(key),
    close() {
      stopped = true;
      stopWatch?.();
    },
  };
};
