import type { KV } from '@nats-io/kv';
import { isConflict, isLive } from '#shared/nats/kv';
import type { Log } from '#shared/observability/logger';
import { errorMessage } from '#shared/observability/errors';
import { announce, emptyRecord, GateRecord, grant, laneInTurn, slowDown, type Lane } from './lane-schedule.ts';
import { RetryLaterError } from './retry-later.ts';
import { sleep } from './runner-state.ts';

/** The shared record of send slots, read and written only with revision checks. */
export interface GateStore {
  read(): Promise<{ record: GateRecord; revision: number } | undefined>;
  /** false when another writer got there first (revision undefined: create). */
  write(record: GateRecord, revision: number | undefined): Promise<boolean>;
}

const withTimeout = <T>(work: Promise<T>, ms: number, what: string): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer from NATS in ${ms} ms`)), ms)));
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
};

export const kvGateStore = (kv: Pick<KV, 'get' | 'create' | 'update'>, key: string, timeoutMs = 2_000): GateStore => ({
  async read() {
    const entry = await withTimeout(kv.get(key), timeoutMs, 'reading the send slots');
    if (!isLive(entry)) return undefined;
    const parsed = GateRecord.safeParse(entry.json());
    // A record that does not parse (an older shape) is replaced by the next write.
    return { record: parsed.success ? parsed.data : emptyRecord(), revision: entry.revision };
  },
  async write(record, revision) {
    try {
      const data = JSON.stringify(record);
      await withTimeout(revision === undefined ? kv.create(key, data) : kv.update(key, data, revision), timeoutMs, 'taking a send slot');
      return true;
    } catch (error) {
      if (isConflict(error)) return false;
      throw error;
    }
  },
});

export interface LaneGate {
  /**
   * Resolves when `lane` may send now. Throws RetryLaterError when the lane is slowed down past
   * `maxWaitMs`, or no slot came within it (NATS slow or unreachable included): the job goes back
   * to its queue without using an attempt.
   */
  acquire(lane: string, signal?: AbortSignal): Promise<void>;
  /** The provider said slow down: the lane pauses for a cooldown on every replica. Returns the cooldown (ms). */
  slowDown(lane: string): Promise<number>;
  close(): void;
}

export interface LaneGateOptions {
  lanes: readonly Lane[];
  /** Sends per second across every replica sharing `store`; undefined: no cap. */
  ratePerSec?: number;
  store: GateStore;
  /** Longest a send waits for its slot before its job goes back to the queue. */
  maxWaitMs: number;
  cooldown: { initialMs: number; maxMs: number };
  log: Log;
  now?: () => number;
}

interface Waiter {
  lane: string;
  deadline: number;
  resolve(): void;
  reject(error: unknown): void;
}

const retryLater = (why: string, delayMs: number) => new RetryLaterError(why, Math.max(1_000, Math.round(delayMs * (0.9 + Math.random() * 0.2))));

/**
 * Send slots shared by every replica, handed out by lane priority. Each process keeps its own
 * queue of waiting sends and one loop that speaks to the shared record for all of them (two KV
 * operations per slot, not one per waiting send): it announces which lanes it has waiting, and
 * takes the slot when it is the lane's turn and the slot's time. Without a rate, slots are free
 * and only slow-downs are shared (read from the record at most every 500 ms; if it cannot be read
 * the send goes ahead: no cap was asked for). With a rate, no send starts without a slot: when
 * NATS is slow, sends slow down and never speed up.
 */
/**
 * Slots are spaced a fifth wider than 1/rate: between a slot and the moment the provider sees the
 * send lie a new SMTP connection and its greeting, which a loaded machine delays unevenly, and a
 * cap is only kept if it holds where the provider counts (6 starts in one second at 5/s were seen
 * under load with exact spacing). Up to 200 ms of uneven delay per five sends still keeps it.
 */
const SLOT_HEADROOM = 1.2;

export const createLaneGate = (options: LaneGateOptions): LaneGate => {
  const now = options.now ?? Date.now;
  const interval = options.ratePerSec ? (SLOT_HEADROOM * 1_000) / options.ratePerSec : 0;
  const announceMs = Math.max(1_000, 2 * interval);
  const priority = new Map(options.lanes.map((l) => [l.name, l.priority]));
  const waiters: Waiter[] = [];
  const localSlowUntil = new Map<string, number>();
  let driving = false;
  let wake: (() => void) | undefined;
  let closed = false;
  let cached: { at: number; record: GateRecord } | undefined;
  let complained = false;

  const storeTrouble = (error: unknown) => {
    if (complained) return;
    complained = true;
    options.log.warn({ err: errorMessage(error) }, 'send slots unreachable; sends wait (jobs go back to their queues after MAIL_RATE_MAX_WAIT_MS)');
  };

  const slowedUntil = (record: GateRecord | undefined, lane: string) =>
    Math.max(localSlowUntil.get(lane) ?? 0, record?.lanes[lane]?.slowUntil ?? 0);

  const settle = (waiter: Waiter, error?: unknown) => {
    waiters.splice(waiters.indexOf(waiter), 1);
    if (error) waiter.reject(error);
    else waiter.resolve();
  };

  const expire = (record: GateRecord | undefined, at: number) => {
    for (const w of [...waiters]) {
      const slowUntil = slowedUntil(record, w.lane);
      if (slowUntil > w.deadline) settle(w, retryLater(`lane ${w.lane} slowed down by the provider`, slowUntil - at));
      else if (at >= w.deadline) settle(w, retryLater(`no send slot for lane ${w.lane} within ${options.maxWaitMs} ms`, options.maxWaitMs / 2));
    }
  };

  const localLanes = () => [...new Set(waiters.map((w) => w.lane))].sort((a, b) => (priority.get(a) ?? 99) - (priority.get(b) ?? 99));

  // One pass: read, then take the slot, announce, or say how long to sleep.
  const step = async (): Promise<number> => {
    const current = await options.store.read();
    const at = now();
    const record = current?.record ?? emptyRecord();
    expire(record, at);
    const local = localLanes().filter((lane) => slowedUntil(record, lane) <= at);
    if (local.length === 0) return waiters.length === 0 ? 0 : Math.min(250, Math.max(10, Math.min(...waiters.map((w) => slowedUntil(record, w.lane))) - at));
    // A clock far ahead on another replica must not stall every sender.
    const base = record.next - at > 10 * interval + 1_000 ? { ...record, next: at } : record;
    const merged = announce(base, local, at + announceMs);
    const turn = laneInTurn(merged, options.lanes, at);
    if (turn && local.includes(turn) && at >= merged.next) {
      const more = waiters.filter((w) => w.lane === turn).length > 1;
      if (await options.store.write(grant(merged, options.lanes, turn, at, interval, more), current?.revision)) {
        const first = waiters.find((w) => w.lane === turn);
        if (first) settle(first);
      }
      return 0;
    }
    const stale = local.some((lane) => (record.lanes[lane]?.waitingUntil ?? 0) < at + announceMs / 2);
    if (stale) {
      await options.store.write(merged, current?.revision);
      return 0;
    }
    // Another replica's turn: it takes the slot in a moment (or its announcement runs out).
    if (turn && !local.includes(turn)) return Math.min(25, Math.max(5, interval / 4));
    return Math.min(250, Math.max(5, merged.next - at));
  };

  const drive = async () => {
    if (driving) return;
    driving = true;
    try {
      while (!closed && waiters.length > 0) {
        let pause: number;
        try {
          pause = await step();
          complained = false;
        } catch (error) {
          storeTrouble(error);
          expire(undefined, now());
          pause = 200;
        }
        if (pause > 0 && waiters.length > 0) await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, pause);
        });
      }
    } finally {
      driving = false;
    }
  };

  const unlimited = async (lane: string, signal?: AbortSignal) => {
    const at = now();
    if (!cached || at - cached.at > 500) {
      try {
        cached = { at, record: (await options.store.read())?.record ?? emptyRecord() };
      } catch (error) {
        storeTrouble(error);
        cached = { at, record: emptyRecord() };
      }
    }
    const wait = slowedUntil(cached.record, lane) - at;
    if (wait <= 0) return;
    if (wait > options.maxWaitMs) throw retryLater(`lane ${lane} slowed down by the provider`, wait);
    await sleep(wait);
    signal?.throwIfAborted();
  };

  return {
    async acquire(lane, signal) {
      if (!interval) return unlimited(lane, signal);
      signal?.throwIfAborted();
      await new Promise<void>((resolve, reject) => {
        const waiter: Waiter = { lane, deadline: now() + options.maxWaitMs, resolve, reject };
        waiters.push(waiter);
        signal?.addEventListener('abort', () => waiters.includes(waiter) && settle(waiter, signal.reason), { once: true });
        wake?.();
        void drive();
      });
    },
    async slowDown(lane) {
      const at = now();
      let cooldownMs = options.cooldown.initialMs;
      for (let tries = 0; tries < 10; tries++) {
        try {
          const current = await options.store.read();
          const next = slowDown(current?.record ?? emptyRecord(), lane, at, options.cooldown);
          cooldownMs = next.cooldownMs;
          if (await options.store.write(next.record, current?.revision)) break;
        } catch (error) {
          // Not shared this time; this replica still holds back.
          storeTrouble(error);
          break;
        }
      }
      localSlowUntil.set(lane, Math.max(localSlowUntil.get(lane) ?? 0, at + cooldownMs));
      cached = undefined;
      options.log.warn({ lane, cooldownMs }, 'the mail provider said slow down; lane paused');
      return cooldownMs;
    },
    close() {
      closed = true;
      for (const w of [...waiters]) settle(w, retryLater('mailer shutting down', 1_000));
      wake?.();
    },
  };
};
