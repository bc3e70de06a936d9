import { afterAll, beforeAll, expect, test } from 'vitest';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { byJob, createRuntimeFixture, type RuntimeFixture } from '../runtime-setup.ts';
import { waitFor } from '../wait.ts';

let server: NatsServer;
let fx: RuntimeFixture;

beforeAll(async () => {
  server = await startNatsServer();
  fx = await createRuntimeFixture(server.url, { ackWaitMs: 1_000, timeoutMs: 10_000 });
  await fx.startWorker();
});
afterAll(async () => {
  await fx?.close();
  await server?.stop();
});

test('a job running three times longer than ack-wait completes once, without redelivery', async () => {
  await fx.enqueue({ id: 'long', plan: ['sleep'], sleepMs: 3_000 });
  await waitFor(async () => (await fx.reports()).some((r) => r.id === 'long' && r.event === 'done'), {
    timeoutMs: 15_000,
    what: 'the long job to finish',
  });
  const reports = byJob(await fx.reports()).get('long') ?? [];
  expect(reports.filter((r) => r.event === 'start')).toHaveLength(1);
  expect(reports.filter((r) => r.event === 'done')).toHaveLength(1);
  const info = await fx.jsm.consumers.info(fx.spec.stream, fx.spec.consumer);
  expect(info.num_redelivered).toBe(0);
  expect(info.num_ack_pending).toBe(0);
});
