import { MAIL_JOBS, type MailSend } from '#shared/contracts/mail';
import type { JobSpec } from '#shared/contracts/spec';
import { STREAMS } from '#shared/contracts/streams';
import { PermanentError } from '#shared/jobs/job';
import { startWorkers, worker, type JobsRuntime } from '#shared/jobs/workers';
import { ensureStream } from '#shared/nats/ensure';
import type { Publisher } from '#shared/nats/publish';
import { quietLog } from '../runtime-setup.ts';
import { waitFor } from '../wait.ts';

export interface DeadJobFixture {
  /** The contracts' `mail.send` job (its stream, consumer and subject), with fast test timing. */
  job: JobSpec<MailSend>;
  /** Publishes a mail job that dies at once (a permanent failure) while the fixture is broken. */
  enqueue(jobId: string): Promise<void>;
  /** From now on the handler succeeds, so a replay completes. */
  heal(): void;
  /** From now on the handler fails again (a job that dies while an operator watches). */
  breakAgain(): void;
  /** Job ids the handler completed. */
  completed(): readonly string[];
  waitCompleted(jobId: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The real `mail.send` job — its stream, durable consumer and subject from the contracts, so a
 * replay may target it — run by the shared job runner in the test process with a handler that
 * fails permanently (→ dead letter) until healed, then succeeds: what an operator's replay after
 * a fix looks like. Use it on a test server of its own (it binds the real `mailer-send` consumer).
 * `worker` runs the consumer (the mailer's NATS user where permissions apply); `enqueue` publishes
 * the jobs (the auth user's right), by default through the worker's own publisher.
 */
export const createDeadJobFixture = async (runtime: JobsRuntime, options: { enqueue?: Publisher } = {}): Promise<DeadJobFixture> => {
  const job: JobSpec<MailSend> = {
    ...MAIL_JOBS.send,
    maxAttempts: 2,
    backoff: { initialMs: 100, multiplier: 2, maxMs: 1_000, jitter: 0 },
    ackWaitMs: 10_000,
  };
  await ensureStream({ jsm: runtime.jsm, log: quietLog, replicas: 1 }, STREAMS.MAIL);
  let healed = false;
  const done: string[] = [];
  const runner = await startWorkers(runtime, [
    worker(job, async (_mail, ctx) => {
      if (!healed) throw new PermanentError('550 5.1.1 mailbox unavailable (the test says no)');
      done.push(ctx.jobId);
    }),
  ]);
  const publisher = options.enqueue ?? runtime.publisher;
  return {
    job,
    async enqueue(jobId) {
      const mail: MailSend = {
        v: 1,
        mailId: jobId.replace(/[^A-Za-z0-9_-]/g, '_'),
        to: 'ops-test@example.test',
        name: 'a job that needs a fix before it can run',
        content: { template: 'magic_link', token: `tok_${jobId}_${'x'.repeat(16)}`, expiresAt: new Date(Date.now() + 900_000).toISOString() },
      };
      await publisher.publish(job.subject, mail, { id: jobId });
    },
    heal: () => void (healed = true),
    breakAgain: () => void (healed = false),
    completed: () => done,
    waitCompleted: (jobId) => waitFor(() => done.includes(jobId) || undefined, { timeoutMs: 15_000, what: `job ${jobId} to complete` }).then(() => undefined),
    stop: () => runner.stop(1_000),
  };
};
