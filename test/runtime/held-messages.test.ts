import { afterEach, expect, test } from 'vitest';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { byJob, createRuntimeFixture, type RuntimeFixture } from '../runtime-setup.ts';
import { waitFor } from '../wait.ts';

// Messages a worker has been sent but not started yet: held (kept alive) from their arrival, and
// never started once their ack-wait may have run out, so no job runs on two workers at once.
let server: NatsServer | undefined;
let fx: RuntimeFixture | undefined;

afterEach(async () => {
  await fx?.close();
  await server?.stop();
  fx = undefined;
  server = undefined;
});

const startsPerJob = async (f: RuntimeFixture) => {
  const out = new Map<string, number>();
  for (const [id, reports] of byJob(await f.reports())) out.set(id, reports.filter((r) => r.event === 'start').length);
  return out;
};

const allDone = async (f: RuntimeFixture, ids: string[]) => {
  const done = new Set((await f.reports()).filter((r) => r.event === 'done').map((r) => r.id));
  return ids.every((id) => done.has(id));
};

test('two busy workers: jobs waiting for a slot far longer than ack-wait are kept alive and each starts exactly once', async () => {
  server = await startNatsServer();
  // Each worker runs 2 at a time; 12 jobs of 3.5 s (more than both workers hold at once) keep
  // messages waiting for a slot for 3.5 s and more, well past the 1.5 s ack-wait: unless every
  // message is kept alive from its arrival, the server hands it to the other worker while the
  // first still holds it, and it runs twice.
  const f = (fx = await createRuntimeFixture(server.url, { concurrency: 2, ackWaitMs: 1_500, timeoutMs: 20_000, maxAttempts: 3 }));
  await Promise.all([f.startWorker(), f.startWorker()]);
  const ids = Array.from({ length: 12 }, (_, i) => `slow-${i}`);
  for (const id of ids) await f.enqueue({ id, plan: ['sleep'], sleepMs: 3_500 });

  await waitFor(() => allDone(f, ids), { timeoutMs: 90_000, what: 'every slow job to finish' });
  const starts = await startsPerJob(f);
  expect(ids.map((id) => [id, starts.get(id)])).toEqual(ids.map((id) => [id, 1]));
  const info = await f.jsm.consumers.info(f.spec.stream, f.spec.consumer);
  expect(info.num_ack_pending).toBe(0);
  expect(info.num_pending).toBe(0);
});

test('a starved worker does not start the messages whose ack-wait ran out while it could not run; the other worker runs each once', async () => {
  server = await startNatsServer();
  const f = (fx = await createRuntimeFixture(server.url, { concurrency: 1, ackWaitMs: 1_000, timeoutMs: 20_000, maxAttempts: 5 }));
  const starved = await f.startWorker();
  // The blocker occupies the starved worker's event loop for 10 s (nothing runs, the keep-alive
  // included) while it holds the next job waiting for its one slot.
  await f.enqueue({ id: 'blocker', plan: ['block', 'ok'], sleepMs: 10_000 });
  await f.enqueue({ id: 'held', plan: ['ok'] });
  await waitFor(async () => (await f.reports()).some((r) => r.id === 'blocker' && r.event === 'start' && r.attempt === 1), {
    timeoutMs: 30_000,
    what: 'the blocker to start',
  });
  await f.startWorker();
  const others = ['after-1', 'after-2', 'after-3'];
  for (const id of others) await f.enqueue({ id, plan: ['ok'] });

  const ids = ['held', ...others];
  await waitFor(() => allDone(f, [...ids, 'blocker']), { timeoutMs: 60_000, what: 'every job to finish' });
  // A stale copy started late would report its start after the job was done elsewhere.
  await waitFor(() => starved.output().includes('its ack wait ran out') || undefined, { timeoutMs: 10_000, what: 'the starved worker to let its stale message go' }).catch(() => undefined);
  const starts = await startsPerJob(f);
  expect(ids.map((id) => [id, starts.get(id)])).toEqual(ids.map((id) => [id, 1]));
  expect(starved.output()).toMatch(/"streamSeq":2\b.*message not started: its ack wait ran out/);
  await waitFor(async () => (await f.jsm.consumers.info(f.spec.stream, f.spec.consumer)).num_ack_pending === 0, {
    timeoutMs: 30_000,
    what: 'nothing left ack-pending',
  });
});
