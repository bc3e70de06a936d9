import { afterAll, beforeAll, expect, test } from 'vitest';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { byJob, createRuntimeFixture, type RuntimeFixture } from '../runtime-setup.ts';
import { waitFor } from '../wait.ts';

let server: NatsServer;
let fx: RuntimeFixture;

beforeAll(async () => {
  server = await startNatsServer();
  fx = await createRuntimeFixture(server.url, { ackWaitMs: 2_000, timeoutMs: 20_000 });
});
afterAll(async () => {
  await fx?.close();
  await server?.stop();
});

test('a job whose worker is SIGKILLed mid-job is redelivered and completed by another worker process', async () => {
  const first = await fx.startWorker();
  await fx.enqueue({ id: 'crash-1', plan: ['sleep', 'ok'], sleepMs: 60_000 });
  await waitFor(async () => (await fx.reports()).some((r) => r.event === 'start' && r.pid === first.pid), { what: 'first attempt to start' });

  await first.kill('SIGKILL');
  const second = await fx.startWorker();

  const done = await waitFor(
    async () => (await fx.reports()).find((r) => r.event === 'done'),
    { timeoutMs: 20_000, what: 'the job to complete after the crash' },
  );
  expect(done.pid).toBe(second.pid);
  expect(done.attempt).toBe(2);
  const attempts = byJob(await fx.reports()).get('crash-1') ?? [];
  expect(attempts.filter((r) => r.event === 'done')).toHaveLength(1);
});
