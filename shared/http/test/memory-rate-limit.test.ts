import { expect, test } from 'vitest';
import { createMemoryRateLimiter } from '../memory-rate-limit.ts';
import type { RateCheck } from '../rate-limit.ts';

const MINUTE = 60_000;
const check = (scope: string, subject: string, max: number, windowMs = MINUTE): RateCheck => ({ scope, subject, rule: { max, windowMs } });

test('a window lets exactly max through with 429 material after it, and the next window starts from zero', async () => {
  let clock = 10 * MINUTE + 15_000;
  const limiter = createMemoryRateLimiter({ now: () => clock });
  const c = [check('ip', '10.0.0.1', 3)];
  const decisions = [];
  for (let i = 0; i < 4; i++) decisions.push(await limiter.take(c));
  expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false]);
  // 45 s left of the window: the refusal says so, as the KV limiter's does.
  expect(decisions[3]).toMatchObject({ allowed: false, refused: [0], retryAfterSeconds: 45 });

  clock += 45_000; // the next fixed window
  expect(await limiter.counts(c)).toEqual([0]);
  expect((await limiter.take(c)).allowed).toBe(true);
  expect(await limiter.counts(c)).toEqual([1]);
});

test('all or nothing: a request refused by one full counter takes from none, and release gives an allowed one back', async () => {
  const limiter = createMemoryRateLimiter({ now: () => 0 });
  const narrow = check('email-net', 'a@example.test 10.0.0.0/24', 1);
  const wide = check('email', 'a@example.test', 5);
  expect((await limiter.take([narrow, wide])).allowed).toBe(true);
  const refused = await limiter.take([wide, narrow]);
  expect(refused).toMatchObject({ allowed: false, refused: [1] });
  expect(await limiter.counts([narrow, wide])).toEqual([1, 1]);

  const other = await limiter.take([wide]);
  expect(other.allowed).toBe(true);
  if (other.allowed) {
    await other.release();
    await other.release(); // twice gives back once
  }
  expect(await limiter.counts([narrow, wide])).toEqual([1, 1]);
});

test('counters of an ended window are evicted whole, and each window length holds at most maxCounters', async () => {
  let clock = 0;
  const limiter = createMemoryRateLimiter({ now: () => clock, maxCounters: 100 });
  for (let i = 0; i < 50; i++) await limiter.take([check('ip', `10.0.0.${i}`, 5), check('email', `u${i}@example.test`, 5, 2 * MINUTE)]);
  expect(limiter.size()).toBe(100);
  clock = MINUTE; // the 1-minute window ended; the 2-minute one has not
  await limiter.take([check('ip', '10.0.9.9', 5)]);
  expect(limiter.size()).toBe(51);

  for (let i = 0; i < 300; i++) await limiter.take([check('ip', `10.1.${i >> 8}.${i & 255}`, 5)]);
  expect(limiter.size()).toBe(100 + 50);
  // The newest counters are the ones kept: the last client is still counted.
  expect(await limiter.counts([check('ip', '10.1.1.43', 5)])).toEqual([1]);
});

test('a release after its window ended gives nothing back to the new window', async () => {
  let clock = 0;
  const limiter = createMemoryRateLimiter({ now: () => clock });
  const c = [check('ip', '10.0.0.1', 2)];
  const first = await limiter.take(c);
  clock = MINUTE;
  await limiter.take(c);
  if (first.allowed) await first.release();
  expect(await limiter.counts(c)).toEqual([1]);
});

test('hit counts one and says how many remain, like the KV limiter', async () => {
  const limiter = createMemoryRateLimiter({ now: () => 0 });
  const rule = { max: 2, windowMs: MINUTE };
  expect(await limiter.hit('orders', 'user-1', rule)).toEqual({ allowed: true, remaining: 1 });
  expect(await limiter.hit('orders', 'user-1', rule)).toEqual({ allowed: true, remaining: 0 });
  expect(await limiter.hit('orders', 'user-1', rule)).toMatchObject({ allowed: false });
});
