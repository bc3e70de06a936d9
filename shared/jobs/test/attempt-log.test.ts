import { expect, test } from 'vitest';
import type { KV } from '@nats-io/kv';
import { createKvAttemptLog, patiently } from '../attempt-log.ts';

/** A bucket that refuses its first `failures` calls (a broker restarting), then stores in memory. */
const flakyBucket = (failures: number) => {
  const values = new Map<string, string>();
  let calls = 0;
  const refuse = () => {
    calls++;
    if (calls <= failures) throw new Error('503 JetStream not ready');
  };
  const kv = {
    async get(key: string) {
      refuse();
      const value = values.get(key);
      return value === undefined ? null : { operation: 'PUT', length: value.length, json: () => JSON.parse(value) as unknown, revision: 1 };
    },
    async put(key: string, value: string) {
      refuse();
      values.set(key, value);
      return 1;
    },
    async delete(key: string) {
      refuse();
      values.delete(key);
    },
  };
  return { kv: kv as unknown as KV, calls: () => calls };
};

test('a deferral written while the bucket is briefly away is recorded once it answers, so it never counts as an attempt', async () => {
  const bucket = flakyBucket(3);
  const log = createKvAttemptLog(async () => bucket.kv, 5_000);
  await log.recordDeferral('AUTH.auth-magic-link.7');
  await log.recordDeferral('AUTH.auth-magic-link.7');
  expect(await log.get('AUTH.auth-magic-link.7')).toMatchObject({ deferred: 2 });
  expect(bucket.calls()).toBeGreaterThan(3);
});

test('past its patience the log gives up with the bucket\'s error', async () => {
  const bucket = flakyBucket(1_000);
  const log = createKvAttemptLog(async () => bucket.kv, 300);
  await expect(log.recordHandBack('MAIL.mailer.1')).rejects.toThrow(/not ready/);
});

test('patiently returns the first success and does not call again', async () => {
  let calls = 0;
  expect(await patiently(async () => ++calls, 1_000)).toBe(1);
  expect(calls).toBe(1);
});

test('a delayed job\'s runs are counted one by one, whatever its deliveries were', async () => {
  const log = createKvAttemptLog(async () => flakyBucket(0).kv, 1_000);
  await log.recordDeferral('ORDER_DEADLINES.ticketing-expiry.3');
  expect(await log.recordStart('ORDER_DEADLINES.ticketing-expiry.3')).toBe(1);
  expect(await log.recordStart('ORDER_DEADLINES.ticketing-expiry.3')).toBe(2);
  expect(await log.get('ORDER_DEADLINES.ticketing-expiry.3')).toMatchObject({ deferred: 1, started: 2 });
});
