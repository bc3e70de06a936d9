import { afterAll, beforeAll, expect, test } from 'vitest';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { byJob, createRuntimeFixture, type RuntimeFixture } from '../runtime-setup.ts';
import { waitFor } from '../wait.ts';

let server: NatsServer;
let fx: RuntimeFixture;
const policy = { initialMs: 400, multiplier: 2, maxMs: 1_200, jitter: 0 };

beforeAll(async () => {
  server = await startNatsServer();
  fx = await createRuntimeFixture(server.url, { maxAttempts: 5, backoff: policy });
  await fx.startWorker();
});
afterAll(async () => {
  await fx?.close();
  await server?.stop();
});

// Tolerance: a retry may come later than its nominal delay by scheduling and round trips, never
// earlier. 300 ms of slack absorbs a busy 2-core CI machine.
const SLACK_MS = 300;

test('gaps between attempts of a failing job follow the exponential policy, capped', async () => {
  await fx.enqueue({ id: 'backoff', plan: ['throw', 'throw', 'throw', 'throw', 'ok'] });
  await waitFor(async () => (await fx.reports()).some((r) => r.id === 'backoff' && r.event === 'done'), {
    timeoutMs: 20_000,
    what: 'the job to succeed on attempt 5',
  });
  const starts = (byJob(await fx.reports()).get('backoff') ?? [])
    .filter((r) => r.event === 'start')
    .sort((a, b) => a.attempt - b.attempt);
  expect(starts.map((r) => r.attempt)).toEqual([1, 2, 3, 4, 5]);
  const gaps = starts.slice(1).map((r, i) => r.at - starts[i]!.at);
  const expected = [400, 800, 1_200, 1_200]; // 400·2^(n−1), capped at 1200
  gaps.forEach((gap, i) => {
    expect(gap).toBeGreaterThanOrEqual(expected[i]!);
    expect(gap).toBeLessThanOrEqual(expected[i]! + SLACK_MS);
  });
});
