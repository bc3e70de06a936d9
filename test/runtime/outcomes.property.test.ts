import fc from 'fast-check';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { listDeadLetters } from '#shared/jobs/dead-letter';
import type { TestJob } from '../fixtures/job-behaviour.ts';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { byJob, createRuntimeFixture, type RuntimeFixture } from '../runtime-setup.ts';
import { waitFor } from '../wait.ts';

let server: NatsServer;
let fx: RuntimeFixture;
const MAX_ATTEMPTS = 3;

beforeAll(async () => {
  server = await startNatsServer();
  fx = await createRuntimeFixture(server.url, {
    maxAttempts: MAX_ATTEMPTS,
    timeoutMs: 300,
    concurrency: 20,
    backoff: { initialMs: 20, multiplier: 2, maxMs: 100, jitter: 0.5 },
  });
  await fx.startWorker();
});
afterAll(async () => {
  await fx?.close();
  await server?.stop();
});

type Outcome = 'ok' | 'throw' | 'permanent' | 'timeout';

/** What the policy promises for a plan: the terminal state and how many attempts it takes. */
const expected = (plan: Outcome[]): { end: 'done' | 'dead'; attempts: number } => {
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const outcome = plan[Math.min(attempt, plan.length) - 1];
    if (outcome === 'ok') return { end: 'done', attempts: attempt };
    if (outcome === 'permanent') return { end: 'dead', attempts: attempt };
  }
  return { end: 'dead', attempts: MAX_ATTEMPTS };
};

let run = 0;

test('for random outcome sequences every job ends exactly once, done or dead-lettered, within its attempts', async () => {
  const outcome = fc.constantFrom<Outcome>('ok', 'throw', 'permanent', 'timeout');
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(outcome, { minLength: 1, maxLength: 4 }), { minLength: 5, maxLength: 15 }), async (plans) => {
      run++;
      const ids = plans.map((_, i) => `r${run}-j${i}`);
      await Promise.all(plans.map((plan, i) => fx.enqueue({ id: ids[i]!, plan: plan as TestJob['plan'] })));

      const terminal = async () => {
        const reports = byJob(await fx.reports());
        const dead = (await listDeadLetters(fx.jsm)).filter((d) => ids.includes(d.record.jobId));
        return ids.map((id) => ({
          id,
          done: (reports.get(id) ?? []).filter((r) => r.event === 'done').length,
          starts: (reports.get(id) ?? []).filter((r) => r.event === 'start').length,
          dead: dead.filter((d) => d.record.jobId === id),
        }));
      };
      const states = await waitFor(
        async () => {
          const s = await terminal();
          return s.every((j) => j.done + j.dead.length > 0) ? s : undefined;
        },
        { timeoutMs: 30_000, what: 'every job to end' },
      );
      // Settle: nothing may still be pending or in flight for the consumer.
      await waitFor(async () => {
        const info = await fx.jsm.consumers.info(fx.spec.stream, fx.spec.consumer);
        return info.num_pending === 0 && info.num_ack_pending === 0;
      });
      const settled = await terminal();
      settled.forEach((job, i) => {
        const want = expected(plans[i] as Outcome[]);
        expect(job.done + job.dead.length, job.id).toBe(1);
        expect(job.starts, job.id).toBeLessThanOrEqual(MAX_ATTEMPTS);
        expect(job.starts, job.id).toBe(want.attempts);
        expect(job.done === 1 ? 'done' : 'dead', job.id).toBe(want.end);
        if (job.dead[0]) expect(job.dead[0].record.attempts, job.id).toBe(want.attempts);
      });
      expect(states).toHaveLength(plans.length);
    }),
    { numRuns: 4 },
  );
});
