import { expect, test } from 'vitest';
import { decide } from '#shared/jobs/decide';
import { RetryLaterError, retryLaterDelay } from '#shared/jobs/retry-later';

const job = { maxAttempts: 2, backoff: { initialMs: 1_000, multiplier: 2, maxMs: 30_000, jitter: 0 } };

test('a deferred attempt goes back after its own delay, even at the last attempt: it was not an attempt', () => {
  expect(decide({ kind: 'deferred', error: 'slow down', delayMs: 4_000 }, 1, job)).toEqual({ kind: 'nak', delayMs: 4_000 });
  expect(decide({ kind: 'deferred', error: 'slow down', delayMs: 4_000 }, 2, job)).toEqual({ kind: 'nak', delayMs: 4_000 });
  expect(decide({ kind: 'failed', error: 'x' }, 2, job)).toMatchObject({ kind: 'dead-letter', reason: 'exhausted' });
});

test('RetryLaterError carries its delay, also across copies of the module (matched by name)', () => {
  expect(retryLaterDelay(new RetryLaterError('later', 1_500.4))).toBe(1_500);
  const foreign = Object.assign(new Error('later'), { name: 'RetryLaterError', delayMs: 250 });
  expect(retryLaterDelay(foreign)).toBe(250);
  expect(retryLaterDelay(new Error('plain'))).toBeUndefined();
  expect(retryLaterDelay('not an error')).toBeUndefined();
});
