import type { JsMsg } from '@nats-io/jetstream';
import { HEADERS, headersToRecord } from '#shared/nats/headers';
import { errorMessage } from '#shared/observability/errors';
import { attemptKey, type FailedAttempt } from './attempt-log.ts';
import { buildDeadLetter, publishDeadLetter } from './dead-letter.ts';
import type { Reply } from './decide.ts';
import type { AttemptInfo, ReplyResult } from './observer.ts';
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
  const stored = await publishDeadLetter(deps.publisher, record);
  await deps.attempts.forget(keyOf(state, m)).catch(() => undefined);
  if (deps.onDeadLetter) {
    await deps.onDeadLetter(record).catch((error: unknown) =>
      deps.log.error({ job: job.name, jobId: info.jobId, err: errorMessage(error) }, 'dead-letter hook failed'),
    );
  }
  return stored.seq;
};

/** Gives the server the runner's decision: ack, nak(delay), or dead letter + term. */
export const sendReply = async <T>(state: RunnerState<T>, m: JsMsg, info: AttemptInfo, decision: Reply, failure: FailedAttempt | undefined): Promise<ReplyResult> => {
  const { deps, replies } = state;
  if (decision.kind === 'ack') {
    replies.ack(m);
    // Any earlier delivery (a failure, a hand-back, a deferral) or a delayed job's run may have left a record.
    if (m.info.deliveryCount > 1 || m.headers?.has(HEADERS.notBefore)) await deps.attempts.forget(keyOf(state, m)).catch(() => undefined);
    return {};
  }
  if (decision.kind === 'nak') {
    if (failure) {
      await deps.attempts.recordFailure(keyOf(state, m), failure.at, failure).catch((error: unknown) =>
        deps.log.warn({ job: state.job.name, jobId: info.jobId, err: errorMessage(error) }, 'attempt history not recorded'),
      );
    }
    replies.push(() => m.nak(decision.delayMs));
    return {};
  }
  let deadLetterId: number;
  try {
    deadLetterId = await deadLetter(state, m, info, decision, failure);
  } catch (error) {
    // Never term() a job whose dead letter is not stored: retry the whole thing later instead.
    deps.log.error({ job: state.job.name, jobId: info.jobId, err: errorMessage(error) }, 'dead letter could not be stored; job handed back');
    replies.push(() => m.nak(5_000));
    return {};
  }
  // The reason reaches the MSG_TERMINATED advisory on 2.10+; 2.9 does not parse `+TERM <reason>`
  // and redelivers, so there it is a plain term().
  if (deps.server?.().termReason) {
    const why = termReason(decision);
    replies.push(() => m.term(why));
  } else {
    replies.push(() => m.term());
  }
  return { deadLetterId };
};

/** One line for the advisory: the dead-letter reason and the start of the error (the DLQ keeps it whole). */
export const termReason = (decision: Pick<DeadLetterReply, 'reason' | 'error'>): string => {
  const line = `dead-lettered (${decision.reason}): ${decision.error.split('\n')[0] ?? ''}`;
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
};

/** A delivery handed back unrun or interrupted by shutdown: recorded so it does not count as an attempt. */
export const recordHandBack = <T>(state: RunnerState<T>, m: JsMsg) =>
  state.deps.attempts.recordHandBack(keyOf(state, m)).catch((error: unknown) =>
    state.deps.log.warn({ job: state.job.name, err: errorMessage(error) }, 'hand-back not recorded; it will count as an attempt'),
  );
