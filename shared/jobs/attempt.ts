import type { JsMsg } from '@nats-io/jetstream';
import { deliveryLimit } from '#shared/nats/ensure';
import { firstHeaders, HEADERS } from '#shared/nats/headers';
import { errorMessage } from '#shared/observability/errors';
import { ATTEMPT_LOG_PATIENCE_MS, attemptKey, type FailedAttempt } from './attempt-log.ts';
import type { Cancel } from './cancel.ts';
import { decide, type AttemptOutcome, type Reply } from './decide.ts';
import { deferDelivery, notBeforeOf } from './defer.ts';
import { isPermanent, JobTimeoutError, ShutdownError } from './errors.ts';
import { retryLaterDelay } from './retry-later.ts';
import type { JobContext } from './job.ts';
import type { AttemptInfo } from './observer.ts';
import { recordHandBack, sendReply } from './replies.ts';
import { sleep, type RunnerState } from './runner-state.ts';

const OK: AttemptOutcome = Object.freeze({ kind: 'ok' });
const decoder = new TextDecoder();

/**
 * How long an attempt waits for its hand-back count before running as the server counts it:
 * the log's own patience (it retries across a broker restart) and a little more.
 */
const ATTEMPT_LOOKUP_MS = ATTEMPT_LOG_PATIENCE_MS + 2_000;

/**
 * The attempt number: deliveries minus those handed back unrun or interrupted by a shutdown, and
 * minus those of a delayed job deferred before its time.
 */
const attemptOf = async <T>(state: RunnerState<T>, m: JsMsg): Promise<number> => {
  const deliveries = m.info.deliveryCount;
  if (deliveries === 1) return 1;
  // Bounded: this runs before the attempt's timeout is armed, and a lookup stuck across a broker
  // restart must not hold the message (kept alive by the heartbeat) for ever.
  const history = await Promise.race([
    state.deps.attempts.get(attemptKey(state.job.stream, state.job.consumer, m.seq)).catch(() => undefined),
    sleep(ATTEMPT_LOOKUP_MS).then(() => undefined),
  ]);
  return Math.max(1, deliveries - (history?.handedBack ?? 0) - (history?.deferred ?? 0));
};

/** Parses the payload and runs the handler; never throws. */
const runHandler = async <T>(state: RunnerState<T>, m: JsMsg, ctx: JobContext, cancel: Cancel): Promise<AttemptOutcome> => {
  let payload: T;
  try {
    const parsed = state.job.schema.safeParse(JSON.parse(decoder.decode(m.data)));
    if (!parsed.success) return { kind: 'invalid', error: `invalid payload: ${parsed.error.message}` };
    payload = parsed.data;
  } catch (error) {
    return { kind: 'invalid', error: `unparseable payload: ${errorMessage(error)}` };
  }
  try {
    // The race lets the runner reply at the timeout even when a handler ignores its signal;
    // work that cannot be interrupted belongs in a process pool, which is killed on abort.
    await cancel.race(state.handler(payload, ctx));
    return OK;
  } catch (error) {
    const reason: unknown = cancel.reason ?? error;
    if (reason instanceof ShutdownError) return { kind: 'interrupted' };
    if (reason instanceof JobTimeoutError) return { kind: 'timeout', error: errorMessage(reason) };
    if (isPermanent(error)) return { kind: 'permanent', error: errorMessage(error) };
    const delayMs = retryLaterDelay(error);
    if (delayMs !== undefined) return { kind: 'deferred', error: errorMessage(error), delayMs };
    return { kind: 'failed', error: errorMessage(error) };
  }
};

const describe = <T>(state: RunnerState<T>, m: JsMsg, attempt: number): AttemptInfo => {
  let headers: Record<string, string> | undefined;
  return {
    job: state.job.name,
    jobId: m.headers?.get(HEADERS.jobId) || m.headers?.get(HEADERS.msgId) || `${m.info.stream}:${m.seq}`,
    attempt,
    stream: m.info.stream,
    consumer: state.job.consumer,
    subject: m.subject,
    streamSeq: m.seq,
    maxAttempts: state.job.maxAttempts,
    timeoutMs: state.job.timeoutMs,
    data: m.data,
    // Decoded only when someone reads them (the tracer, a handler).
    get headers() {
      return (headers ??= firstHeaders(m.headers));
    },
  };
};

const contextOf = <T>(state: RunnerState<T>, info: AttemptInfo, cancel: Cancel): JobContext => ({
  jobId: info.jobId,
  attempt: info.attempt,
  maxAttempts: state.job.maxAttempts,
  get signal() {
    return cancel.signal;
  },
  get headers() {
    return info.headers;
  },
  log: state.deps.log,
});

const logLine = <T>(state: RunnerState<T>, info: AttemptInfo, outcome: AttemptOutcome, decision: Reply, durationMs: number, failure: FailedAttempt | undefined) => {
  // The stream sequence lets an operator (and the chaos report) follow one message across workers.
  const line: Record<string, unknown> = { job: state.job.name, jobId: info.jobId, streamSeq: info.streamSeq, attempt: info.attempt, durationMs, outcome: outcome.kind, reply: decision.kind };
  if (decision.kind === 'nak') line.retryInMs = decision.delayMs;
  if (failure) line.err = failure.error;
  const { log } = state.deps;
  if (decision.kind === 'dead-letter') log.error(line, 'job dead-lettered');
  else if (outcome.kind === 'ok') log.info(line, 'job done');
  else if (outcome.kind === 'deferred') log.info({ ...line, reason: outcome.error }, 'job deferred; not counted as an attempt');
  else log.warn(line, 'job attempt failed');
};

/** Why a delivery is dead-lettered unrun, or undefined when it may run. */
const unrunnable = (attempt: number, maxAttempts: number, lastDelivery: boolean, due: number | undefined): string | undefined => {
  if (due !== undefined) return `not due before ${new Date(due).toISOString()}, and the server will not deliver it again`;
  // A delivery past the limit means a worker died during the last attempt: dead-letter it unrun.
  // So is the last delivery the server will make, however many were hand-backs.
  if (attempt > maxAttempts || lastDelivery) return `delivered ${attempt} times; a worker stopped during an earlier attempt`;
  return undefined;
};

/** One attempt of one message: run it under its timeout, decide, reply, log, observe. */
export const runAttempt = async <T>(state: RunnerState<T>, m: JsMsg, cancel: Cancel): Promise<void> => {
  const { job } = state;
  const started = Date.now();
  const lastDelivery = m.info.deliveryCount >= deliveryLimit(job);
  const due = notBeforeOf(m);
  const early = due !== undefined && due > started ? due : undefined;
  if (early !== undefined && !lastDelivery) return deferDelivery(state, m, early);
  const info = describe(state, m, await attemptOf(state, m));
  state.deps.log.debug({ job: job.name, jobId: info.jobId, streamSeq: m.seq, attempt: info.attempt, deliveries: m.info.deliveryCount }, 'job started');
  const observation = state.observer.attemptStarted(info);
  const timeout = setTimeout(() => cancel.cancel(new JobTimeoutError(job.timeoutMs)), job.timeoutMs);
  const refused = unrunnable(info.attempt, job.maxAttempts, lastDelivery, early);
  const outcome: AttemptOutcome = refused
    ? { kind: 'failed', error: refused }
    : await observation.run(() => runHandler(state, m, contextOf(state, info, cancel), cancel));
  clearTimeout(timeout);

  const decision = decide(outcome, lastDelivery ? Math.max(info.attempt, job.maxAttempts) : info.attempt, job, state.random);
  // A deferral is no failure: nothing goes to the attempt log, and the next delivery is the same attempt.
  const failure = 'error' in outcome && outcome.kind !== 'deferred' ? { attempt: info.attempt, at: new Date(started).toISOString(), error: outcome.error } : undefined;
  const durationMs = Date.now() - started;
  // Replied and logged inside the attempt's span, so publishes and the log line carry its trace.
  const result = await observation.run(async () => {
    if (outcome.kind === 'interrupted' || outcome.kind === 'deferred') await recordHandBack(state, m);
    const replied = await sendReply(state, m, info, decision, failure);
    logLine(state, info, outcome, decision, durationMs, failure);
    return replied;
  });
  observation.finished(outcome, decision, durationMs, result);
};
