import { afterAll, beforeAll, expect, test } from 'vitest';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { byJob, createRuntimeFixture, type RuntimeFixture } from '../runtime-setup.ts';
import { waitFor } from '../wait.ts';

let server: NatsServer;
let fx: RuntimeFixture;

beforeAll(async () => {
  server = await startNatsServer();
  // Grace 1 s: the short jobs finish inside it, the long ones are cancelled and handed back.
  fx = await createRuntimeFixture(server.url, { concurrency: 20, graceMs: 1_000, timeoutMs: 20_000, ackWaitMs: 30_000 });
});
afterAll(async () => {
  await fx?.close();
  await server?.stop();
});

test('SIGTERM with 20 jobs in flight: each completes or is handed back and completed by the next worker; exit 0', async () => {
  const first = await fx.startWorker();
  for (let i = 0; i < 20; i++) await fx.enqueue({ id: `job-${i}`, plan: ['sleep', 'throw'], sleepMs: i % 2 === 0 ? 300 : 8_000 });
  await waitFor(async () => new Set((await fx.reports()).filter((r) => r.event === 'start').map((r) => r.id)).size === 20, {
    what: '20 jobs in flight',
  });

  const exitCode = await first.kill('SIGTERM');
  expect(exitCode).toBe(0);
  expect(first.output()).not.toMatch(/runner failed/);

  const second = await fx.startWorker();
  await waitFor(
    async () => {
      const jobs = byJob(await fx.reports());
      return jobs.size === 20 && [...jobs.values()].every((rs) => rs.some((r) => r.event === 'done'));
    },
    { timeoutMs: 20_000, what: 'every job to complete' },
  ).catch(async (error: unknown) => {
    console.error(second.output(), JSON.stringify([...byJob(await fx.reports())].map(([id, rs]) => [id, rs.map((r) => `${r.event}${r.attempt}@${r.pid}`)])));
    throw error;
  });
  const jobs = byJob(await fx.reports());
  for (const [id, reports] of jobs) {
    const done = reports.filter((r) => r.event === 'done');
    expect(done, id).toHaveLength(1);
    // Long jobs were interrupted and finished by the second worker; short ones by the first.
    expect(done[0]!.pid).toBe(Number(id.split('-')[1]) % 2 === 0 ? first.pid : second.pid);
    // A hand-back at shutdown is not an attempt: the next worker runs the job as attempt 1 again.
    expect(done[0]!.attempt).toBe(1);
  }
  // Handed back with nak(0), not left to time out: nothing is waiting for an ack.
  expect((await fx.jsm.consumers.info(fx.spec.stream, fx.spec.consumer)).num_ack_pending).toBe(0);
});
