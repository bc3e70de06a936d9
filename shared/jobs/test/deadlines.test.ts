import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { AttemptCancel } from '../cancel.ts';
import { createDeadlines } from '../deadlines.ts';

let clock = 0;
const now = () => clock;
const advance = (ms: number) => {
  clock += ms;
  vi.advanceTimersByTime(ms);
};

beforeEach(() => {
  clock = 0;
  vi.useFakeTimers();
});
afterEach(() => vi.useRealTimers());

const expiredInto = (list: AttemptCancel[]) => (c: AttemptCancel) => {
  list.push(c);
  c.cancel(new Error('timeout'));
};

test('attempts time out in the order they were armed, each at its own deadline; disarmed ones never do', () => {
  const expired: AttemptCancel[] = [];
  const deadlines = createDeadlines(1_000, expiredInto(expired), now);
  const [a, b, c] = [new AttemptCancel(), new AttemptCancel(), new AttemptCancel()];
  deadlines.arm(a);
  advance(300);
  deadlines.arm(b);
  advance(300);
  deadlines.arm(c);
  deadlines.disarm(b);
  expect(deadlines.armed()).toBe(2);

  advance(399);
  expect(expired).toEqual([]);
  advance(1);
  expect(expired).toEqual([a]);
  expect(a.reason).toBeInstanceOf(Error);
  advance(599);
  expect(expired).toEqual([a]);
  advance(1);
  expect(expired).toEqual([a, c]);
  expect(b.reason).toBeUndefined();
  expect(deadlines.armed()).toBe(0);
  deadlines.stop();
});

test('one slow attempt at the head does not let finished ones pile up, and still times out', () => {
  const expired: AttemptCancel[] = [];
  const deadlines = createDeadlines(30_000, expiredInto(expired), now);
  const slow = new AttemptCancel();
  deadlines.arm(slow);
  for (let i = 0; i < 100_000; i++) {
    const quick = new AttemptCancel();
    deadlines.arm(quick);
    deadlines.disarm(quick);
  }
  expect(deadlines.armed()).toBe(1);
  // What it keeps is bounded by the compaction slack, not by the 100,000 finished attempts.
  expect(deadlines.queued()).toBeLessThan(1_000);
  expect(vi.getTimerCount()).toBe(1);
  advance(30_000);
  expect(expired).toEqual([slow]);
  deadlines.stop();
});

test('one timer serves many attempts: after the head expires it is set again for the next one', () => {
  const expired: AttemptCancel[] = [];
  const deadlines = createDeadlines(100, expiredInto(expired), now);
  const all = Array.from({ length: 50 }, () => new AttemptCancel());
  for (const c of all) {
    deadlines.arm(c);
    expect(vi.getTimerCount()).toBe(1);
    advance(10);
  }
  advance(1_000);
  expect(expired).toEqual(all);
  expect(vi.getTimerCount()).toBe(0);
});

test('a cancelled race rejects with the reason; the signal is made on first read and reflects an earlier cancel', async () => {
  const c = new AttemptCancel();
  const never = new Promise<void>(() => undefined);
  const raced = c.race(never);
  c.cancel('why');
  await expect(raced).rejects.toBe('why');
  expect(c.signal.aborted).toBe(true);
  expect(c.signal.reason).toBe('why');
  await expect(c.race(Promise.resolve(1))).rejects.toBe('why');
});
