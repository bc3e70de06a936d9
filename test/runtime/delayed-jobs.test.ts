import { afterAll, beforeAll, expect, test } from 'vitest';
import { supportsMessageSchedules } from '#shared/nats/server-features';
import type { AttemptReport } from '../fixtures/job-behaviour.ts';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { createRuntimeFixture, type RuntimeFixture } from '../runtime-setup.ts';
import { uniqueName, waitFor } from '../wait.ts';

// Runs against the server NATS_SERVER_BIN names: on 2.12+ delayed jobs wait as server-side
// schedules, on 2.9 the runner defers them. Run the file under both (README, "Delayed jobs").
let server: NatsServer;
let fx: RuntimeFixture;
let version: string | undefined;

/** How late a delayed job may start: the acceptance bound. */
const WITHIN_MS = 1_000;

beforeAll(async () => {
  server = await startNatsServer();
  const schedules = uniqueName('sched').toLowerCase();
  fx = await createRuntimeFixture(server.url, { ackWaitMs: 3_000, delayed: { schedules } });
  version = fx.nc.info?.version;
});
afterAll(async () => {
  await fx?.close();
  await server?.stop();
});

const expectedPath = () => (supportsMessageSchedules(version) ? 'schedule' : 'runner');
const starts = (reports: AttemptReport[], id: string) => reports.filter((r) => r.id === id && r.event === 'start');

/** Every job is waiting for its time: held as a schedule by the server, or deferred (ack-pending) by a worker. */
const allWaiting = async (count: number) => {
  const consumer = await fx.jsm.consumers.info(fx.spec.stream, fx.spec.consumer);
  if (expectedPath() === 'schedule') {
    const stream = await fx.jsm.streams.info(fx.spec.stream);
    return stream.state.messages === count && consumer.num_pending === 0 && consumer.num_ack_pending === 0;
  }
  return consumer.num_ack_pending === count && consumer.num_pending === 0;
};

test('a delayed job runs no earlier than its not-before time and within a second of it, as its first attempt', async () => {
  await fx.startWorker({ TEST_REPORT_EVERY_RUN: '1' });
  const now = Date.now();
  const jobs = [1_500, 2_500, 3_500].map((delayMs, i) => ({ id: `soon-${i}`, notBefore: new Date(now + delayMs) }));
  for (const job of jobs) expect(await fx.enqueueAt({ id: job.id, plan: ['ok'] }, job.notBefore)).toBe(expectedPath());
  await fx.enqueue({ id: 'now', plan: ['ok'] });

  const reports = await waitFor(
    async () => {
      const all = await fx.reports();
      return jobs.every((job) => all.some((r) => r.id === job.id && r.event === 'done')) ? all : undefined;
    },
    { timeoutMs: 30_000, what: 'every delayed job to run' },
  );
  for (const job of jobs) {
    const [start, ...again] = starts(reports, job.id);
    expect(again, `${job.id} ran more than once`).toEqual([]);
    expect(start!.at, `${job.id} ran before its time`).toBeGreaterThanOrEqual(job.notBefore.getTime());
    expect(start!.at - job.notBefore.getTime(), `${job.id} ran late`).toBeLessThan(WITHIN_MS);
    // Waiting (a deferral on 2.9) is not an attempt.
    expect(start!.attempt).toBe(1);
  }
  // A job without a delay was not held up behind the delayed ones.
  expect(starts(reports, 'now')[0]!.at).toBeLessThan(jobs[0]!.notBefore.getTime());
});

test('with jobs waiting, a worker is SIGKILLed and the nats-server killed and restarted: each job runs once, on time', async () => {
  const doomed = await fx.startWorker({ TEST_REPORT_EVERY_RUN: '1' });
  await fx.startWorker({ TEST_REPORT_EVERY_RUN: '1' });
  // Every job left over from the first test is finished: the consumer holds nothing.
  await waitFor(async () => (await allWaiting(0)) || undefined, { what: 'an idle consumer' });
  const now = Date.now();
  const jobs = Array.from({ length: 8 }, (_, i) => ({ id: `restart-${i}`, notBefore: new Date(now + 7_000 + i * 250) }));
  for (const job of jobs) await fx.enqueueAt({ id: job.id, plan: ['ok'] }, job.notBefore);
  await waitFor(async () => (await allWaiting(jobs.length)) || undefined, { what: 'every job waiting for its time' });

  await doomed.kill('SIGKILL');
  await server.kill();
  await server.restart();

  const reports = await waitFor(
    async () => {
      const all = await fx.reports();
      return jobs.every((job) => all.some((r) => r.id === job.id && r.event === 'done')) ? all : undefined;
    },
    { timeoutMs: 60_000, what: 'every delayed job to run after the restart' },
  );
  for (const job of jobs) {
    const [start, ...again] = starts(reports, job.id);
    expect(again, `${job.id} ran more than once`).toEqual([]);
    expect(start!.pid).not.toBe(doomed.pid);
    expect(start!.at, `${job.id} ran before its time`).toBeGreaterThanOrEqual(job.notBefore.getTime());
    expect(start!.at - job.notBefore.getTime(), `${job.id} ran late`).toBeLessThan(WITHIN_MS);
    expect(start!.attempt).toBe(1);
  }
  // Nothing is left waiting or unacknowledged, and no job ran a second time meanwhile.
  await waitFor(async () => (await allWaiting(0)) || undefined, { what: 'every delivery acknowledged' });
  const final = await fx.reports();
  expect(jobs.flatMap((job) => starts(final, job.id))).toHaveLength(jobs.length);
});
