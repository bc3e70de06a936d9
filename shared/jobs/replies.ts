import type { JsMsg } from '@nats-io/jetstream';
import { headersToRecord } from '#shared/nats/headers';
import { errorMessage } from '#shared/observability/errors';
import { attemptKey, type FailedAttempt } from './attempt-log.ts';
import { buildDeadLetter, publishDeadLetter } from './dead-letter.ts';
import type { Reply } from './decide.ts';
import type { AttemptInfo } from './observer.ts';
import type { RunnerState } from './runner-state.ts';

type DeadLetterReply = Extract<Reply, { kind: 'dead-letter' }>;

const keyOf = <T>(state: RunnerState<T>, m: JsMsg) => attemptKey(state.job.stream, state.job.consumer, m.seq);

/** Stores the dead letter with the job's whole failure history, then runs the service's hook. */
const deadLetter = async <T>(state: RunnerState<T>, m: JsMsg, info: AttemptInfo, reply: DeadLetterReply, failure: FailedAttempt | undefined) => {
  const { job, deps } = state;
  const history = await deps.attempts.get(keyOf(state, m)).catch(() => undefined);
  const record = buildDeadLetter({
    job: job.name,
    jobId: info.jobId,
    consumer: job.consumer,
    stream: info.stream,
    subject: m.subject,
    streamSeq: m.seq,
    data: m.data,
    headers: headersToRecord(m.headers),
    reason: reply.reason,
    error: reply.error,
    attempts: Math.min(info.attempt, job.maxAttempts),
    maxAttempts: job.maxAttempts,
    enqueuedAt: Number(m.info.timestampNanos / 1e6),
    firstAttemptAt: history?.firstAttemptAt ?? (info.attempt === 1 ? failure?.at : undefined),
    lastAttemptAt: failure?.at ?? new Date().toISOString(),
    failures: [...(history?.failures ?? []), ...(failure ? [failure] : [])],
  });
  await publishDeadLetter(deps.publisher, record);
  await deps.attempts.forget(keyOf(state, m)).catch(() => undefined);
  if (deps.onDeadLetter) {
    await deps.onDeadLetter(record).catch((error: unknown) =>
      deps.log.error({ job: job.name, jobId: info.jobId, err: errorMessage(error) }, 'dead-letter hook failed'),
    );
  }
};

/** Gives the server the runner's decision: ack, nak(delay), or dead letter + term. */
export const sendReply = async <T>(state: RunnerState<T>, m: JsMsg, info: AttemptInfo, decision: Reply, failure: FailedAttempt | undefined) => {
  const { deps, replies } = state;
  if (decision.kind === 'ack') {
    replies.push(() => m.ack());
    // Any earlier delivery (a failure, a hand-back, a deferral) may have left a record.
    if (m.info.deliveryCount > 1) await deps.attempts.forget(keyOf(state, m)).catch(() => undefined);
    return;
  }
  if (decision.kind === 'nak') {
    if (failure) {
      await deps.attempts.recordFailure(keyOf(state, m), failure.at, failure).catch((error: unknown) =>
        deps.log.warn({ job: state.job.name, jobId: info.jobId, err: errorMessage(error) }, 'attempt history not recorded'),
      );
    }
    replies.push(() => m.nak(decision.delayMs));
    return;
  }
  try {
    await deadLetter(state, m, info, decision, failure);
  } catch (error) {
    // Never term() a job whose dead letter is not stored: retry the whole thing later instead.
    deps.log.error({ job: state.job.name, jobId: info.jobId, err: errorMessage(error) }, 'dead letter could not be stored; job handed back');
    replies.push(() => m.nak(5_000));
    return;
  }
  // term() without a reason: 2.9 does not honour term with a reason and redelivers.
  replies.push(() => m.term());
};

/** A delivery handed back unrun or interrupted by shutdown: recorded so it does not count as an attempt. */
export const recordHandBack = <T>(state: RunnerState<T>, m: JsMsg) =>
  state.deps.attempts.recordHandBack(keyOf(state, m)).catch((error: unknown) =>
    state.deps.log.warn({ job: state.job.name, err: errorMessage(error) }, 'hand-back not recorded; it will count as an attempt'),
  );
