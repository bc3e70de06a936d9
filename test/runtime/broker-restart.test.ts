import { afterAll, beforeAll, expect, test } from 'vitest';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { byJob, createRuntimeFixture, type RuntimeFixture } from '../runtime-setup.ts';
import { waitFor } from '../wait.ts';

let server: NatsServer;
let fx: RuntimeFixture;

beforeAll(async () => {
  server = await startNatsServer();
  fx = await createRuntimeFixture(server.url, { concurrency: 5, ackWaitMs: 2_000 });
});
afterAll(async () => {
  await fx?.close();
  await server?.stop();
});

test('the broker is SIGKILLed and restarted on the same store mid-run; the worker reconnects and every job completes', async () => {
  const worker = await fx.startWorker();
  const total = 150;
  for (let i = 0; i < total; i++) await fx.enqueue({ id: `job-${i}`, plan: ['sleep'], sleepMs: 40 });
  await waitFor(async () => (await fx.reports()).filter((r) => r.event === 'done').length >= 20, { what: 'some progress' });

  await server.kill();
  await server.restart();

  await waitFor(
    async () => {
      const jobs = byJob(await fx.reports());
      return jobs.size === total && [...jobs.values()].every((rs) => rs.some((r) => r.event === 'done'));
    },
    { timeoutMs: 60_000, what: 'every job to complete after the restart' },
  );
  expect(worker.child.exitCode).toBeNull();
  expect(worker.output()).toMatch(/nats (disconnect|reconnect)/);
  // Nothing left for the consumer: no pending and no un-acked deliveries. (The stream's own count is
  // not the measure here: a SIGKILLed 2.9 server can forget the removal of acked work-queue messages,
  // while its consumer state still knows they were acknowledged and never redelivers them.)
  await waitFor(
    async () => {
      const info = await fx.jsm.consumers.info(fx.spec.stream, fx.spec.consumer);
      return info.num_pending === 0 && info.num_ack_pending === 0;
    },
    { what: 'every delivery acknowledged' },
  );
});
