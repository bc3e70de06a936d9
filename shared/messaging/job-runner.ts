import type { Consumer, ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { JobSpec } from '../contracts/spec.ts';
import type { Log } from '../observability/logger.ts';
import { attemptKey, type AttemptLog } from './attempt-log.ts';
import { decide, type AttemptOutcome, type Reply } from './decide.ts';
import { encodePayload, publishDeadLetter, type DeadLetterRecord } from './dead-letter.ts';
import { errorMessage, isPermanent, JobTimeoutError, ShutdownError } from './errors.ts';
import { firstHeaders, HEADERS, headersToRecord } from './headers.ts';
import type { Publisher } from './publish.ts';

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

const noopObserver: RunnerObserver = {
  attemptStarted: () => ({ run: (fn) => fn(), finished: () => undefined }),
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Lifetime of each pull request. A worker that stops (or dies) leaves its last pull request on the
 * server until it expires, and 2.9 may hand a message to it — which then waits out ack-wait. Short
 * pulls bound that window, and shutdown hands jobs back only after its last pull has expired.
 */
const PULL_EXPIRES_MS = 2_000;

const abortPromise = (signal: AbortSignal) =>
  new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });

/** Starts consuming `job` with `handler`; resolves once the consumer is bound. */
export const startJobRunner = async <T>(job: JobSpec<T>, handler: JobHandler<T>, deps: RunnerDeps): Promise<JobRunner> => {
  const observer = deps.observer ?? noopObserver;
  const random = deps.random ?? Math.random;
  const running = new Map<JsMsg, AbortController>();
  const heartbeatMs = Math.max(250, Math.floor(job.ackWaitMs / 3));
  let stopping = false;
  let closedAt = 0;
  const handBack: JsMsg[] = [];
  let messages: ConsumerMessages | undefined;
  let slotFreed: (() => void) | undefined;
  let idle: (() => void) | undefined;

  const applyReply = async (m: JsMsg, reply: Reply, deadLetter: () => Promise<void>) => {
    if (reply.kind === 'ack') m.ack();
    else if (reply.kind === 'nak') m.nak(reply.delayMs);
    else {
      try {
        await deadLetter();
      } catch (error) {
        // Never term() a job whose dead letter is not stored: retry the whole thing later instead.
        deps.log.error({ job: job.name, err: errorMessage(error) }, 'dead letter could not be stored; job handed back');
        m.nak(5_000);
        return;
      }
      // term() without a reason: 2.9 does not honour term with a reason and redelivers.
      m.term();
    }
  };

  const handle = async (m: JsMsg) => {
    const started = Date.now();
    const startedAt = new Date(started).toISOString();
    const attempt = m.info.deliveryCount;
    const headers = firstHeaders(m.headers);
    const jobId = headers[HEADERS.jobId] ?? headers[HEADERS.msgId] ?? `${m.info.stream}:${m.seq}`;
    const key = attemptKey(job.stream, job.consumer, m.seq);
    const info: AttemptInfo = {
      job: job.name,
      jobId,
      attempt,
      stream: m.info.stream,
      consumer: job.consumer,
      subject: m.subject,
      streamSeq: m.seq,
      headers,
    };
    const observation = observer.attemptStarted(info);
    const controller = new AbortController();
    running.set(m, controller);
    const heartbeat = setInterval(() => m.working(), heartbeatMs);
    const timeout = setTimeout(() => controller.abort(new JobTimeoutError(job.timeoutMs)), job.timeoutMs);

    let outcome: AttemptOutcome;
    if (attempt > job.maxAttempts) {
      outcome = { kind: 'failed', error: `delivered ${attempt} times; a worker stopped during an earlier attempt` };
    } else {
      outcome = await observation.run(async () => {
        let payload: T;
        try {
          const parsed = job.schema.safeParse(JSON.parse(new TextDecoder().decode(m.data)));
          if (!parsed.success) return { kind: 'invalid', error: `invalid payload: ${parsed.error.message}` };
          payload = parsed.data;
        } catch (error) {
          return { kind: 'invalid', error: `unparseable payload: ${errorMessage(error)}` };
        }
        try {
          const ctx: JobContext = { jobId, attempt, maxAttempts: job.maxAttempts, signal: controller.signal, headers, log: deps.log };
          // The race lets the runner reply at the timeout even when a handler ignores its signal;
          // work that cannot be interrupted belongs in a process pool, which is killed on abort.
          await Promise.race([handler(payload, ctx), abortPromise(controller.signal)]);
          return { kind: 'ok' };
        } catch (error) {
          const reason: unknown = controller.signal.aborted ? controller.signal.reason : error;
          if (reason instanceof ShutdownError) return { kind: 'interrupted' };
          if (reason instanceof JobTimeoutError) return { kind: 'timeout', error: errorMessage(reason) };
          if (isPermanent(error)) return { kind: 'permanent', error: errorMessage(error) };
          return { kind: 'failed', error: errorMessage(error) };
        }
      });
    }
    clearTimeout(timeout);
    clearInterval(heartbeat);

    const finalAttempt = attempt > job.maxAttempts ? job.maxAttempts : attempt;
    const reply = attempt > job.maxAttempts && outcome.kind === 'failed'
      ? ({ kind: 'dead-letter', reason: 'exhausted', error: outcome.error } as const)
      : decide(outcome, attempt, job, random);

    const failure = 'error' in outcome ? { attempt, at: startedAt, error: outcome.error } : undefined;
    const deadLetter = async () => {
      const history = await deps.attempts.get(key).catch(() => undefined);
      const failures = [...(history?.failures ?? [])];
      if (failure) failures.push(failure);
      const record: DeadLetterRecord = {
        v: 1,
        job: job.name,
        jobId,
        stream: m.info.stream,
        consumer: job.consumer,
        subject: m.subject,
        streamSeq: m.seq,
        ...encodePayload(m.data),
        headers: headersToRecord(m.headers),
        reason: reply.kind === 'dead-letter' ? reply.reason : 'exhausted',
        error: reply.kind === 'dead-letter' ? reply.error : '',
        attempts: finalAttempt,
        maxAttempts: job.maxAttempts,
        firstAttemptAt: history?.firstAttemptAt ?? (attempt === 1 ? startedAt : new Date(Number(m.info.timestampNanos / 1e6)).toISOString()),
        lastAttemptAt: startedAt,
        deadAt: new Date().toISOString(),
        failures,
      };
      await publishDeadLetter(deps.publisher, record);
      await deps.attempts.forget(key).catch(() => undefined);
      if (deps.onDeadLetter) {
        await deps.onDeadLetter(record).catch((error: unknown) =>
          deps.log.error({ job: job.name, jobId, err: errorMessage(error) }, 'dead-letter hook failed'),
        );
      }
    };

    if (reply.kind === 'nak' && failure) {
      await deps.attempts.recordFailure(key, startedAt, failure).catch((error: unknown) =>
        deps.log.warn({ job: job.name, jobId, err: errorMessage(error) }, 'attempt history not recorded'),
      );
    }
    if (reply.kind === 'ack' && attempt > 1) await deps.attempts.forget(key).catch(() => undefined);
    await observation.run(() => applyReply(m, reply, deadLetter));

    const durationMs = Date.now() - started;
    const line = {
      job: job.name,
      jobId,
      attempt,
      durationMs,
      outcome: outcome.kind,
      reply: reply.kind,
      ...(reply.kind === 'nak' ? { retryInMs: reply.delayMs } : {}),
      ...('error' in outcome ? { err: outcome.error } : {}),
    };
    // Logged inside the attempt's span so the line carries its trace id.
    await observation.run(async () => {
      if (reply.kind === 'dead-letter') deps.log.error(line, 'job dead-lettered');
      else if (outcome.kind === 'ok') deps.log.info(line, 'job done');
      else deps.log.warn(line, 'job attempt failed');
    });
    observation.finished(outcome, reply, durationMs);
  };

  const dispatch = (m: JsMsg) => {
    void handle(m)
      .catch((error: unknown) => {
        // Only a bug in the runner gets here; the server redelivers after ack-wait.
        deps.log.error({ job: job.name, err: errorMessage(error) }, 'runner failed to handle a message');
      })
      .finally(() => {
        running.delete(m);
        slotFreed?.();
        if (running.size === 0) idle?.();
      });
  };

  const waitForSlot = async () => {
    while (running.size >= job.concurrency && !stopping) {
      await new Promise<void>((resolve) => (slotFreed = resolve));
    }
  };

  const consumeLoop = async (consumer: Consumer) => {
    // The iterator pulls more only as we take messages from it, so the client-side buffer (whose
    // ack timers run) stays near `concurrency`.
    messages = await consumer.consume({ max_messages: Math.max(1, job.concurrency), expires: PULL_EXPIRES_MS });
    for await (const m of messages) {
      await waitForSlot();
      if (stopping) {
        handBack.push(m);
        continue;
      }
      dispatch(m);
    }
  };

  const first = await deps.js.consumers.get(job.stream, job.consumer);
  const supervise = async () => {
    let consumer: Consumer | undefined = first;
    while (!stopping) {
      try {
        consumer ??= await deps.js.consumers.get(job.stream, job.consumer);
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

  return {
    job: job.name,
    inFlight: () => running.size,
    async stop(graceMs) {
      if (stopping) return;
      stopping = true;
      slotFreed?.();
      await messages?.close().catch(() => undefined);
      closedAt = Date.now();
      if (running.size > 0) {
        const drained = new Promise<void>((resolve) => (idle = resolve));
        const graceOver = sleep(graceMs).then(() => 'grace-over' as const);
        if ((await Promise.race([drained, graceOver])) === 'grace-over') {
          await sleep(closedAt + PULL_EXPIRES_MS - Date.now());
          deps.log.warn({ job: job.name, inFlight: running.size }, 'grace period over; handing jobs back');
          for (const controller of running.values()) controller.abort(new ShutdownError());
          await drained;
        }
      }
      if (handBack.length > 0) {
        await sleep(closedAt + PULL_EXPIRES_MS - Date.now());
        for (const m of handBack.splice(0)) m.nak();
      }
      await supervised;
    },
  };
};
