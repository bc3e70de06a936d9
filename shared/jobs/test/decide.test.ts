import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { nominalDelay, retryDelay } from '#shared/jobs/backoff';
import { decide, type AttemptOutcome } from '#shared/jobs/decide';

const policy = { initialMs: 1_000, multiplier: 2, maxMs: 30_000, jitter: 0.2 };

describe('retryDelay', () => {
  test('grows exponentially from the initial delay and stops at the cap', () => {
    const exact = { ...policy, jitter: 0 };
    expect([1, 2, 3, 4, 5, 6, 7].map((a) => retryDelay(exact, a))).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
  });

  test('jitter stays within ±jitter of the nominal delay and never exceeds the cap', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), (attempt, r) => {
        const delay = retryDelay(policy, attempt, () => r);
        const nominal = nominalDelay(policy, attempt);
        expect(delay).toBeGreaterThanOrEqual(Math.floor(nominal * 0.8));
        expect(delay).toBeLessThanOrEqual(Math.min(policy.maxMs, Math.ceil(nominal * 1.2)));
      }),
    );
  });
});

describe('decide', () => {
  const job = { maxAttempts: 4, backoff: { ...policy, jitter: 0 } };

  test('success acks; invalid payload and permanent errors dead-letter at once', () => {
    expect(decide({ kind: 'ok' }, 1, job)).toEqual({ kind: 'ack' });
    expect(decide({ kind: 'invalid', error: 'x' }, 1, job)).toMatchObject({ kind: 'dead-letter', reason: 'invalid_payload' });
    expect(decide({ kind: 'permanent', error: 'x' }, 1, job)).toMatchObject({ kind: 'dead-letter', reason: 'permanent' });
  });

  test('failures and timeouts retry with the backoff delay until the last attempt, then dead-letter', () => {
    expect(decide({ kind: 'failed', error: 'x' }, 1, job)).toEqual({ kind: 'nak', delayMs: 1_000 });
    expect(decide({ kind: 'timeout', error: 'x' }, 3, job)).toEqual({ kind: 'nak', delayMs: 4_000 });
    expect(decide({ kind: 'failed', error: 'x' }, 4, job)).toMatchObject({ kind: 'dead-letter', reason: 'exhausted' });
  });

  test('an attempt interrupted by shutdown is handed back without delay', () => {
    expect(decide({ kind: 'interrupted' }, 4, job)).toEqual({ kind: 'nak', delayMs: 0 });
  });

  test('no outcome sequence retries past maxAttempts', () => {
    const outcome = fc.constantFrom<AttemptOutcome>(
      { kind: 'ok' },
      { kind: 'failed', error: 'e' },
      { kind: 'timeout', error: 't' },
      { kind: 'permanent', error: 'p' },
    );
    fc.assert(
      fc.property(fc.array(outcome, { minLength: 1, maxLength: 10 }), (outcomes) => {
        let attempt = 0;
        for (const o of outcomes) {
          attempt++;
          const reply = decide(o, attempt, job);
          if (reply.kind !== 'nak') return;
          expect(attempt).toBeLessThan(job.maxAttempts);
        }
      }),
    );
  });
});
