import type { Consumer, ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { JobSpec } from '#shared/contracts/spec';
import type { Log } from '#shared/observability/logger';
import { attemptKey, type AttemptLog, type FailedAttempt } from './attempt-log.ts';
import { createCancel, type Cancel } from './cancel.ts';
import { decide, type AttemptOutcome, type Reply } from './decide.ts';
import { buildDeadLetter, publishDeadLetter, type DeadLetterRecord } from './dead-letter.ts';
import { deliveryLimit } from '#shared/nats/ensure';
import { errorMessage, isPermanent, JobTimeoutError, ShutdownError } from './errors.ts';
import { firstHeaders, HEADERS, headersToRecord } from '#shared/nats/headers';
import type { Publisher } from '#shared/nats/publish';

/** What a handler knows about the attempt it runs. It never sees the JetStream message. */
export interface JobContext {
  jobId: string;
  /** 1-based delivery number of this attempt. */
  attempt: number;
  maxAttempts: number;
  /** Fires at the timeout (reason `JobTimeoutError`) or when shutdown runs out of grace. */
  signal: AbortSignal;
  /** The message headers (trace context, replay marker, …), first value of each. */
  headers: Readonly<Record<string, string>>;
  log: Log;
}

export type JobHandler<T> = (payload: T, ctx: JobContext) => Promise<void>;

/** Facts about one attempt, for tracing and metrics. */
export interface AttemptInfo {
  job: string;
  jobId: string;
  attempt: number;
  stream: string;
  consumer: string;
  subject: string;
  streamSeq: number;
  headers: Readonly<Record<string, string>>;
}

/** Hooks for observability; the default does nothing. */
export interface RunnerObserver {
  attemptStarted(info: AttemptInfo): {
    /** Runs the handler inside the attempt's span context. */
    run<R>(fn: () => Promise<R>): Promise<R>;
    finished(outcome: AttemptOutcome, reply: Reply, durationMs: number): void;
  };
}

export interface RunnerDeps {
  js: JetStreamClient;
  publisher: Publisher;
  attempts: AttemptLog;
  log: Log;
  observer?: RunnerObserver;
  /** Called after a dead letter is stored (e.g. mark the order failed). Errors are logged, not retried. */
  onDeadLetter?: (record: DeadLetterRecord) => Promise<void>;
  random?: () => number;
}

export interface JobRunner {
  readonly job: string;
  /** Attempts running now. */
  inFlight(): number;
  /**
   * Stops taking work, lets in-flight attempts finish for `graceMs`, then cancels the rest and
   * hands them back (nak without delay) so another worker takes them at once.
   */
  stop(graceMs: number): Promise<void>;
}

const OK: AttemptOutcome = Object.freeze({ kind: 'ok' });
const noObservation: ReturnType<RunnerObserver['attemptStarted']> = { run: (fn) => fn(), finished: () => undefined };
const noopObserver: RunnerObserver = { attemptStarted: () => noObservation };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Lifetime of each pull request. A worker that stops (or dies) leaves its last pull request on the
 * server until it expires, and 2.9 may hand a message to it — which then waits out ack-wait. Short
 * pulls bound that window, and shutdown hands jobs back only after its last pull has expired.
 */
const PULL_EXPIRES_MS = 2_000;

/** How long an attempt waits for its hand-back count before running as the server counts it. */
const ATTEMPT_LOOKUP_MS = 3_000;

/** Starts consuming `job` with `handler`; resolves once the consumer is bound. */
export const startJobRunner = async <T>(job: JobSpec<T>, handler: JobHandler<T>, deps: RunnerDeps): Promise<JobRunner> => {
  const observer = deps.observer ?? noopObserver;
  const random = deps.random ?? Math.random;
  const running = new Map<JsMsg, Cancel>();
  const heartbeatMs = Math.max(250, Math.floor(job.ackWaitMs / 3));
  const decoder = new TextDecoder();
  let stopping = false;
  let closedAt = 0;
  const handBack: JsMsg[] = [];
  let messages: ConsumerMessages | undefined;
  let roomFreed: (() => void) | undefined;
  let idle: (() => void) | undefined;

  // Replies (ack/nak/term) made during one turn of the event loop go out together: nats.js flushes
  // its outgoing buffer in a microtask, so replies made from separate promise chains each became a
  // socket write of their own. Deferring them to the end of the turn costs well under a millisecond.
  const replies: Array<() => void> = [];
  const flushReplies = () => {
    for (const send of replies.splice(0)) send();
  };
  const queueReply = (send: () => void) => {
    if (replies.push(send) === 1) setImmediate(flushReplies);
  };

  /** Parses and runs one attempt; never throws. */
  const attemptOutcome = async (m: JsMsg, ctx: JobContext, cancel: Cancel): Promise<AttemptOutcome> => {
    let payload: T;
    try {
      const parsed = job.schema.safeParse(JSON.parse(decoder.decode(m.data)));
      if (!parsed.success) return { kind: 'invalid', error: `invalid payload: ${parsed.error.message}` };
      payload = parsed.data;
    } catch (error) {
      return { kind: 'invalid', error: `unparseable payload: ${errorMessage(error)}` };
    }
    try {
      // The race lets the runner reply at the timeout even when a handler ignores its signal;
      // work that cannot be interrupted belongs in a process pool, which is killed on abort.
      await cancel.race(handler(payload, ctx));
      return OK;
    } catch (error) {
      const reason: unknown = cancel.reason ?? error;
      if (reason instanceof ShutdownError) return { kind: 'interrupted' };
      if (reason instanceof JobTimeoutError) return { kind: 'timeout', error: errorMessage(reason) };
      if (isPermanent(error)) return { kind: 'permanent', error: errorMessage(error) };
      return { kind: 'failed', error: errorMessage(error) };
    }
  };

  const deadLetter = async (m: JsMsg, info: AttemptInfo, reply: Extract<Reply, { kind: 'dead-letter' }>, failure: FailedAttempt | undefined) => {
    const key = attemptKey(job.stream, job.consumer, m.seq);
    const history = await deps.attempts.get(key).catch(() => undefined);
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
    await deps.attempts.forget(key).catch(() => undefined);
    if (deps.onDeadLetter) {
      await deps.onDeadLetter(record).catch((error: unknown) =>
        deps.log.error({ job: job.name, jobId: info.jobId, err: errorMessage(error) }, 'dead-letter hook failed'),
      );
    }
  };

  const reply = async (m: JsMsg, info: AttemptInfo, decision: Reply, failure: FailedAttempt | undefined) => {
    if (decision.kind === 'ack') {
      queueReply(() => m.ack());
      if (info.attempt > 1) await deps.attempts.forget(attemptKey(job.stream, job.consumer, m.seq)).catch(() => undefined);
      return;
    }
    if (decision.kind === 'nak') {
      if (failure) {
        await deps.attempts.recordFailure(attemptKey(job.stream, job.consumer, m.seq), failure.at, failure).catch((error: unknown) =>
          deps.log.warn({ job: job.name, jobId: info.jobId, err: errorMessage(error) }, 'attempt history not recorded'),
        );
      }
      queueReply(() => m.nak(decision.delayMs));
      return;
    }
    try {
      await deadLetter(m, info, decision, failure);
    } catch (error) {
      // Never term() a job whose dead letter is not stored: retry the whole thing later instead.
      deps.log.error({ job: job.name, jobId: info.jobId, err: errorMessage(error) }, 'dead letter could not be stored; job handed back');
      queueReply(() => m.nak(5_000));
      return;
    }
    // term() without a reason: 2.9 does not honour term with a reason and redelivers.
    queueReply(() => m.term());
  };

  /** The attempt number: deliveries minus those handed back unrun or interrupted by a shutdown. */
  const attemptOf = async (m: JsMsg): Promise<number> => {
    const deliveries = m.info.deliveryCount;
    if (deliveries === 1) return 1;
    // Bounded: this runs before the attempt's timeout is armed, and a lookup stuck across a broker
    // restart must not hold the message (kept alive by the heartbeat) for ever.
    const history = await Promise.race([
      deps.attempts.get(attemptKey(job.stream, job.consumer, m.seq)).catch(() => undefined),
      sleep(ATTEMPT_LOOKUP_MS).then(() => undefined),
    ]);
    return Math.max(1, deliveries - (history?.handedBack ?? 0));
  };

  const recordHandBack = (m: JsMsg) =>
    deps.attempts.recordHandBack(attemptKey(job.stream, job.consumer, m.seq)).catch((error: unknown) =>
      deps.log.warn({ job: job.name, err: errorMessage(error) }, 'hand-back not recorded; it will count as an attempt'),
    );

  const handle = async (m: JsMsg, cancel: Cancel) => {
    const started = Date.now();
    let headers: Record<string, string> | undefined;
    const info: AttemptInfo = {
      job: job.name,
      jobId: m.headers?.get(HEADERS.jobId) || m.headers?.get(HEADERS.msgId) || `${m.info.stream}:${m.seq}`,
      attempt: await attemptOf(m),
      stream: m.info.stream,
      consumer: job.consumer,
      subject: m.subject,
      streamSeq: m.seq,
      // Decoded only when someone reads them (the tracer, a handler).
      get headers() {
        return (headers ??= firstHeaders(m.headers));
      },
    };
    const observation = observer.attemptStarted(info);
    const timeout = setTimeout(() => cancel.cancel(new JobTimeoutError(job.timeoutMs)), job.timeoutMs);
    const ctx: JobContext = {
      jobId: info.jobId,
      attempt: info.attempt,
      maxAttempts: job.maxAttempts,
      get signal() {
        return cancel.signal;
      },
      get headers() {
        return info.headers;
      },
      log: deps.log,
    };

    // A delivery past the limit means a worker died during the last attempt: dead-letter it unrun.
    // So is the last delivery the server will make, however many were hand-backs.
    const outcome: AttemptOutcome =
      info.attempt > job.maxAttempts || m.info.deliveryCount >= deliveryLimit(job)
        ? { kind: 'failed', error: `delivered ${info.attempt} times; a worker stopped during an earlier attempt` }
        : await observation.run(() => attemptOutcome(m, ctx, cancel));
    clearTimeout(timeout);

    const decision = decide(outcome, m.info.deliveryCount >= deliveryLimit(job) ? Math.max(info.attempt, job.maxAttempts) : info.attempt, job, random);
    const failure = 'error' in outcome ? { attempt: info.attempt, at: new Date(started).toISOString(), error: outcome.error } : undefined;
    const durationMs = Date.now() - started;
    const line: Record<string, unknown> = {
      job: job.name,
      jobId: info.jobId,
      attempt: info.attempt,
      durationMs,
      outcome: outcome.kind,
      reply: decision.kind,
    };
    if (decision.kind === 'nak') line.retryInMs = decision.delayMs;
    if (failure) line.err = failure.error;
    // Replied and logged inside the attempt's span, so publishes and the log line carry its trace.
    await observation.run(async () => {
      if (outcome.kind === 'interrupted') await recordHandBack(m);
      await reply(m, info, decision, failure);
      if (decision.kind === 'dead-letter') deps.log.error(line, 'job dead-lettered');
      else if (outcome.kind === 'ok') deps.log.info(line, 'job done');
      else deps.log.warn(line, 'job attempt failed');
    });
    observation.finished(outcome, decision, durationMs);
  };

  // Messages taken from the iterator but not started yet. Keeping up to `concurrency` of them here
  // lets the iterator reach the client's next pull while every slot is busy (a blocked iterator
  // stalled the flow: 36% idle at saturation), and, unlike the iterator's own buffer, these are
  // visible: the heartbeat keeps them alive and shutdown hands them back at once.
  const waiting: JsMsg[] = [];
  /** When this process took each message it holds, for the heartbeat's limit. */
  const heldSince = new Map<JsMsg, number>();
  const overdue = new WeakSet<JsMsg>();

  const dispatch = (m: JsMsg) => {
    const cancel = createCancel();
    running.set(m, cancel);
    handle(m, cancel)
      .catch((error: unknown) => {
        // Only a bug in the runner gets here; the server redelivers after ack-wait.
        deps.log.error({ job: job.name, err: errorMessage(error) }, 'runner failed to handle a message');
      })
      .finally(() => {
        running.delete(m);
        heldSince.delete(m);
        pump();
        if (running.size === 0) idle?.();
      });
  };

  const pump = () => {
    while (!stopping && running.size < job.concurrency && waiting.length > 0) dispatch(waiting.shift()!);
    if (waiting.length < job.concurrency) roomFreed?.();
  };

  const waitForRoom = async () => {
    while (waiting.length >= job.concurrency && !stopping) {
      await new Promise<void>((resolve) => (roomFreed = resolve));
    }
  };

  const consumeLoop = async (consumer: Consumer) => {
    // The iterator pulls more only as we take messages from it, so what the client holds (whose
    // ack timers run) stays near twice the concurrency: running, waiting, and one pull batch.
    messages = await consumer.consume({ max_messages: Math.max(1, job.concurrency), expires: PULL_EXPIRES_MS });
    // stop() may have run while consume() was being set up; it closed the previous iterator only.
    if (stopping) {
      await messages.close().catch(() => undefined);
      return;
    }
    for await (const m of messages) {
      if (stopping) {
        handBack.push(m);
        continue;
      }
      heldSince.set(m, Date.now());
      waiting.push(m);
      pump();
      if (waiting.length >= job.concurrency) await waitForRoom();
    }
  };

  // One timer for every attempt running or waiting: `working()` resets each message's ack timer, so
  // a job that runs longer than ack-wait is not redelivered while it is still being worked on.
  //
  // Kept alive only for as long as the job's own timing allows: a message held past its timeout
  // plus one ack-wait means this process is stuck on it (a lost promise, a wedged connection).
  // It then stops being kept alive, so the server redelivers it to a worker that can finish it:
  // nothing is held for ever by a process that still looks healthy.
  const holdLimitMs = job.timeoutMs + job.ackWaitMs;
  const heartbeat = setInterval(() => {
    const now = Date.now();
    for (const m of [...running.keys(), ...waiting]) {
      if (now - (heldSince.get(m) ?? now) <= holdLimitMs) m.working();
      else if (!overdue.has(m)) {
        overdue.add(m);
        deps.log.error({ job: job.name, streamSeq: m.seq, heldMs: now - (heldSince.get(m) ?? now) }, 'message held past its timeout; no longer kept alive, the server will redeliver it');
      }
    }
  }, heartbeatMs);
  heartbeat.unref();

  const first = await deps.js.consumers.get(job.stream, job.consumer);
  const supervise = async () => {
    let consumer: Consumer | undefined = first;
    while (!stopping) {
      try {
        consumer ??= await deps.js.consumers.get(job.stream, job.consumer);
        if (stopping) break;
        await consumeLoop(consumer);
      } catch (error) {
        if (stopping) break;
        deps.log.warn({ job: job.name, err: errorMessage(error) }, 'consumer interrupted; resubscribing');
        consumer = undefined;
      }
      if (!stopping) await sleep(500);
    }
  };
  const supervised = supervise();

  let stopped: Promise<void> | undefined;
  const stopNow = async (graceMs: number) => {
    stopping = true;
    roomFreed?.();
    handBack.push(...waiting.splice(0));
    await messages?.close().catch(() => undefined);
    closedAt = Date.now();
    if (running.size > 0) {
      const drained = new Promise<void>((resolve) => (idle = resolve));
      let graceTimer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<'grace-over'>((resolve) => (graceTimer = setTimeout(() => resolve('grace-over'), graceMs)));
      const first = await Promise.race([drained, graceOver]);
      clearTimeout(graceTimer);
      if (first === 'grace-over') {
        await sleep(closedAt + PULL_EXPIRES_MS - Date.now());
        deps.log.warn({ job: job.name, inFlight: running.size }, 'grace period over; handing jobs back');
        for (const cancel of running.values()) cancel.cancel(new ShutdownError());
        await drained;
      }
    }
    if (handBack.length > 0) {
      const unrun = handBack.splice(0);
      await Promise.all(unrun.map(recordHandBack));
      await sleep(closedAt + PULL_EXPIRES_MS - Date.now());
      for (const m of unrun) m.nak();
    }
    await supervised;
    flushReplies();
    clearInterval(heartbeat);
  };

  return {
    job: job.name,
    inFlight: () => running.size,
    stop: (graceMs) => (stopped ??= stopNow(graceMs)),
  };
};
