import { afterEach, expect, test } from 'vitest';
import { createLaneGate, type GateStore, type LaneGate } from '#shared/jobs/lane-gate';
import type { GateRecord } from '#shared/jobs/lane-schedule';
import { RetryLaterError } from '#shared/jobs/retry-later';
import { quietLog } from '#test/jobs-runtime';

const lanes = [
  { name: 'signin', priority: 0 },
  { name: 'bulk', priority: 1, maxSkipped: 4 },
];

/** The KV record in memory: compare-and-set on a revision, like the bucket. Records every slot handed out. */
const memoryStore = () => {
  let current: { record: GateRecord; revision: number } | undefined;
  const slots: number[] = [];
  const store: GateStore & { slots: number[]; failing: boolean } = {
    slots,
    failing: false,
    async read() {
      if (store.failing) throw new Error('NATS unreachable');
      await Promise.resolve();
      return current && { record: structuredClone(current.record), revision: current.revision };
    },
    async write(record, revision) {
      if (store.failing) throw new Error('NATS unreachable');
      await Promise.resolve();
      if ((current?.revision ?? undefined) !== revision) return false;
      // A taken slot moves `next`; an announcement leaves it.
      if (record.next !== (current?.record.next ?? 0)) slots.push(record.next);
      current = { record: structuredClone(record), revision: (current?.revision ?? 0) + 1 };
      return true;
    },
  };
  return store;
};

const gates: LaneGate[] = [];
const gate = (store: GateStore, options: { rate?: number; maxWaitMs?: number } = {}) => {
  const g = createLaneGate({ lanes, ratePerSec: options.rate, store, maxWaitMs: options.maxWaitMs ?? 10_000, cooldown: { initialMs: 2_000, maxMs: 8_000 }, log: quietLog });
  gates.push(g);
  return g;
};
afterEach(() => {
  for (const g of gates.splice(0)) g.close();
});

test('two replicas sharing the record never hand out two slots closer than 1/rate', async () => {
  const store = memoryStore();
  const [a, b] = [gate(store, { rate: 40 }), gate(store, { rate: 40 })];
  await Promise.all(Array.from({ length: 24 }, (_, i) => (i % 2 ? a : b).acquire(i % 3 ? 'bulk' : 'signin')));
  // Each slot taken moves `next` on by the interval from the later of now and the previous slot.
  expect(store.slots).toHaveLength(24);
  for (let i = 1; i < store.slots.length; i++) expect(store.slots[i]! - store.slots[i - 1]!).toBeGreaterThanOrEqual(25);
});

test('a sign-in send that arrives behind a queue of bulk sends takes the next slot', async () => {
  const store = memoryStore();
  const [a, b] = [gate(store, { rate: 20 }), gate(store, { rate: 20 })];
  const order: string[] = [];
  const bulk = Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).acquire('bulk').then(() => order.push('bulk')));
  while (order.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
  // The sign-in waits on the replica that is not about to take a slot for itself.
  await b.acquire('signin').then(() => order.push('signin'));
  await Promise.all(bulk);
  // At most the slot already being taken goes to bulk before sign-in.
  expect(order.indexOf('signin')).toBeLessThanOrEqual(3);
  expect(order.filter((o) => o === 'bulk')).toHaveLength(12);
});

test('sign-in first, but bulk still gets one slot in five while both wait', async () => {
  const store = memoryStore();
  const g = gate(store, { rate: 200 });
  const order: string[] = [];
  const sends = [...Array.from({ length: 20 }, () => 'signin'), ...Array.from({ length: 5 }, () => 'bulk')].map((lane) => g.acquire(lane).then(() => order.push(lane)));
  await Promise.all(sends);
  const firstTwenty = order.slice(0, 20);
  expect(firstTwenty.filter((l) => l === 'bulk').length).toBeGreaterThanOrEqual(3);
  expect(order.slice(0, 4)).toEqual(['signin', 'signin', 'signin', 'signin']);
});

test('when the record cannot be reached, no send goes ahead: the job is sent back to wait, unspent', async () => {
  const store = memoryStore();
  store.failing = true;
  const g = gate(store, { rate: 10, maxWaitMs: 300 });
  const error = await g.acquire('signin').catch((e: unknown) => e);
  expect(error).toBeInstanceOf(RetryLaterError);
  expect((error as RetryLaterError).delayMs).toBeGreaterThanOrEqual(1_000);
  expect(store.slots).toHaveLength(0);
});

test('without a rate cap sends go at once, and a slowed-down lane sends its jobs back for the cooldown', async () => {
  const store = memoryStore();
  const g = gate(store, { maxWaitMs: 500 });
  await g.acquire('signin');
  const cooldown = await g.slowDown('bulk');
  expect(cooldown).toBe(2_000);
  // Another replica sees the slow-down through the shared record.
  const other = gate(store, { maxWaitMs: 500 });
  const error = await other.acquire('bulk').catch((e: unknown) => e);
  expect(error).toBeInstanceOf(RetryLaterError);
  expect((error as RetryLaterError).delayMs).toBeGreaterThan(1_500);
  await other.acquire('signin');
});
