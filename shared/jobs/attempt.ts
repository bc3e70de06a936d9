import type { JsMsg } from '@nats-io/jetstream';
import { deliveryLimit } from '#shared/nats/ensure';
import { firstHeaders, HEADERS } from '#shared/nats/headers';
import { errorMessage } from '#shared/observability/errors';
import { ATTEMPT_LOG_PATIENCE_MS, attemptKey, type FailedAttempt } from './attempt-log.ts';
import type { AttemptCancel, Cancel } from './cancel.ts';
import { decide, type AttemptOutcome, type Reply } from './decide.ts';
import { deferDelivery, notBeforeOf } from './defer.ts';
import { isPermanent, JobTimeoutError, ShutdownError } from './errors.ts';
import type { Log } from '#shared/observability/logger';
import { retryLaterDelay } from './retry-later.ts';
import type { JobContext, JobSpec } from './job.ts';
import type { AttemptInfo, ReplyResult } from './observer.ts';
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
 * minus those of a delayed job deferred before its time. Only called for a redelivery: a first
 * delivery is attempt 1 without a lookup (or an await).
 */
const attemptOf = async <T>(state: RunnerState<T>, m: JsMsg): Promise<number> => {
  const deliveries = m.info.deliveryCount;
  // Bounded: this runs before the attempt's timeout is armed, and a lookup stuck across a broker
  // restart must not hold the message (kept alive by the heartbeat) for ever.
  const history = await Promise.race([
    state.deps.attempts.get(attemptKey(state.job.stream, state.job.consumer, m.seq)).catch(() => undefined),
    sleep(ATTEMPT_LOOKUP_MS).then(() => undefined),
  ]);
  return Math.max(1, deliveries - (history?.handedBack ?? 0) - (history?.deferred ?? 0));
};

/**
 * A delayed job's attempt number: its recorded runs plus this one (see AttemptHistory.started).
 * When the log cannot be written the count falls back to the deliveries, as for any job.
 */
const delayedAttemptOf = async <T>(state: RunnerState<T>, m: JsMsg): Promise<number> => {
  const key = attemptKey(state.job.stream, state.job.consumer, m.seq);
  const run = await Promise.race([state.deps.attempts.recordStart(key).catch(() => undefined), sleep(ATTEMPT_LOOKUP_MS).then(() => undefined)]);
  if (run !== undefined) return run;
  state.deps.log.warn({ job: state.job.name, streamSeq: m.seq }, 'delayed job run not recorded; counting its deliveries');
  return m.info.deliveryCount === 1 ? 1 : attemptOf(state, m);
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

/**
 * Facts about the attempt, and (below) what its handler sees: classes rather than object literals
 * with getters, so the lazy parts (headers, the signal) cost no closures per job.
 */
class AttemptFacts implements AttemptInfo {
  readonly job: string;
  readonly jobId: string;
  readonly stream: string;
  readonly consumer: string;
  readonly subject: string;
  readonly streamSeq: number;
  readonly maxAttempts: number;
  readonly timeoutMs: number;
  readonly data: Uint8Array;
  private decoded: Record<string, string> | undefined = undefined;

  constructor(
    private readonly m: JsMsg,
    job: JobSpec<unknown>,
    readonly attempt: number,
  ) {
    this.job = job.name;
    this.jobId = m.headers?.get(HEADERS.jobId) || m.headers?.get(HEADERS.msgId) || `${m.info.stream}:${m.seq}`;
    this.stream = m.info.stream;
    this.consumer = job.consumer;
    this.subject = m.subject;
    this.streamSeq = m.seq;
    this.maxAttempts = job.maxAttempts;
    this.timeoutMs = job.timeoutMs;
    this.data = m.data;
  }

  /** Decoded only when someone reads them (the tracer, a handler). */
  get headers(): Record<string, string> {
    return (this.decoded ??= firstHeaders(this.m.headers));
  }
}

class AttemptContext implements JobContext {
  readonly jobId: string;
  readonly attempt: number;
  readonly maxAttempts: number;

  constructor(
    private readonly info: AttemptInfo,
    private readonly cancel: Cancel,
    readonly log: Log,
  ) {
    this.jobId = info.jobId;
    this.attempt = info.attempt;
    this.maxAttempts = info.maxAttempts;
  }

  get signal(): AbortSignal {
    return this.cancel.signal;
  }

  get headers(): Readonly<Record<string, string>> {
    return this.info.headers;
  }
}

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
export const runAttempt = async <T>(state: RunnerState<T>, m: JsMsg, cancel: AttemptCancel): Promise<void> => {
  const { job } = state;
  const started = Date.now();
  const deliveries = m.info.deliveryCount;
  const lastDelivery = deliveries >= deliveryLimit(job);
  const due = notBeforeOf(m);
  const early = due !== undefined && due > started ? due : undefined;
  if (early !== undefined && !lastDelivery) return deferDelivery(state, m, early);
  const attempt = due !== undefined ? await delayedAttemptOf(state, m) : deliveries === 1 ? 1 : await attemptOf(state, m);
  const info = new AttemptFacts(m, job as JobSpec<unknown>, attempt);
  const { log } = state.deps;
  if (log.isLevelEnabled?.('debug') !== false) log.debug({ job: job.name, jobId: info.jobId, streamSeq: m.seq, attempt: info.attempt, deliveries }, 'job started');
  const observation = state.observer.attemptStarted(info);
  state.deadlines.arm(cancel);
  const refused = unrunnable(info.attempt, job.maxAttempts, lastDelivery, early);
  const outcome: AttemptOutcome = refused
    ? { kind: 'failed', error: refused }
    : await observation.run(() => runHandler(state, m, new AttemptContext(info, cancel, log), cancel));
  state.deadlines.disarm(cancel);

  const decision = decide(outcome, lastDelivery ? Math.max(info.attempt, job.maxAttempts) : info.attempt, job, state.random);
  const durationMs = Date.now() - started;
  // The common case, a first delivery that succeeded: ack and log without another await.
  if (decision.kind === 'ack' && deliveries === 1) {
    const result = observation.run(() => ackFirst(state, m, info, outcome, decision, durationMs));
    return observation.finished(outcome, decision, durationMs, await result);
  }
  // A deferral is no failure: nothing goes to the attempt log, and the next delivery is the same attempt.
  const failure = 'error' in outcome && outcome.kind !== 'deferred' ? { attempt: info.attempt, at: new Date(started).toISOString(), error: outcome.error } : undefined;
  // Replied and logged inside the attempt's span, so publishes and the log line carry its trace.
  const result = await observation.run(async () => {
    if (outcome.kind === 'interrupted' || outcome.kind === 'deferred') await recordHandBack(state, m);
    const replied = await sendReply(state, m, info, decision, failure);
    logLine(state, info, outcome, decision, durationMs, failure);
    return replied;
  });
  observation.finished(outcome, decision, durationMs, result);
};

const NOTHING_LEARNT: Promise<ReplyResult> = Promise.resolve(Object.freeze({}));

/** Ack of a first delivery that succeeded: nothing to forget in the attempt log, no await. */
const ackFirst = <T>(state: RunnerState<T>, m: JsMsg, info: AttemptInfo, outcome: AttemptOutcome, decision: Reply, durationMs: number): Promise<ReplyResult> => {
  state.replies.ack(m);
  logLine(state, info, outcome, decision, durationMs, undefined);
  return NOTHING_LEARNT;
};
