import { z } from 'zod';
import type { JobSpec } from '#shared/contracts/spec';
import { PermanentError } from '#shared/jobs/job';
import { ensureStream } from '#shared/nats/ensure';
import { startWorkers, worker, type JobsRuntime } from '#shared/jobs/workers';
import { quietLog } from '../runtime-setup.ts';
import { uniqueName, waitFor } from '../wait.ts';

const Payload = z.object({ order: z.string(), note: z.string() });

export interface DeadJobFixture {
  job: JobSpec<z.infer<typeof Payload>>;
  /** Publishes a job that dies at once (a permanent failure) until `heal()`. */
  enqueue(jobId: string): Promise<void>;
  /** From now on the handler succeeds, so a replay completes. */
  heal(): void;
  /** Job ids the handler completed. */
  completed(): readonly string[];
  waitCompleted(jobId: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A job on its own stream, run by the shared job runner in the test process: it fails permanently
 * (→ dead letter) until healed, then succeeds — what an operator's replay after a fix looks like.
 */
export const createDeadJobFixture = async (m: JobsRuntime): Promise<DeadJobFixture> => {
  const base = uniqueName('DEAD');
  const job: JobSpec<z.infer<typeof Payload>> = {
    name: 'test.replayable',
    stream: base,
    subject: `${base.toLowerCase()}.job`,
    consumer: `${base.toLowerCase()}-worker`,
    schema: Payload,
    timeoutMs: 5_000,
    maxAttempts: 2,
    backoff: { initialMs: 100, multiplier: 2, maxMs: 1_000, jitter: 0 },
    concurrency: 2,
    ackWaitMs: 10_000,
  };
  await ensureStream({ jsm: m.jsm, log: quietLog, replicas: 1 }, { name: base, subjects: [job.subject], retention: 'workqueue', description: 'admin test jobs' });
  let healed = false;
  const done: string[] = [];
  const runner = await startWorkers(m, [
    worker(job, async (_payload, ctx) => {
      if (!healed) throw new PermanentError('550 5.1.1 mailbox unavailable (the test says no)');
      done.push(ctx.jobId);
    }),
  ]);
  return {
    job,
    async enqueue(jobId) {
      await m.publisher.publish(job.subject, { order: `ord_${jobId.slice(-8)}`, note: 'a job that needs a fix before it can run' }, { id: jobId });
    },
    heal: () => void (healed = true),
    completed: () => done,
    waitCompleted: (jobId) => waitFor(() => done.includes(jobId) || undefined, { timeoutMs: 15_000, what: `job ${jobId} to complete` }).then(() => undefined),
    stop: () => runner.stop(1_000),
  };
};
