import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { trace } from '@opentelemetry/api';
import type { JobEvent } from '#shared/contracts/job-events';
import { SUBJECTS } from '#shared/contracts/subjects';
import { HEADERS } from '#shared/nats/headers';
import type { AttemptInfo, AttemptObservation, RunnerObserver } from './observer.ts';
import { summarizePayload } from './payload-summary.ts';

/** A job id as one subject token: ids may hold dots and wildcards; 128 bits of its SHA-256 do not. */
export const jobIdToken = (jobId: string): string => createHash('sha256').update(jobId).digest('base64url').slice(0, 22);

export const jobEventSubject = (jobId: string, kind: JobEvent['kind'], stream: string, consumer: string): string =>
  `${SUBJECTS.jobEventPrefix}.${jobIdToken(jobId)}.${kind}.${stream}.${consumer}`;

/** Every event of one job, whichever consumer ran it. */
export const jobEventsFilter = (jobId: string): string => `${SUBJECTS.jobEventPrefix}.${jobIdToken(jobId)}.>`;

/** Every attempt's end, for the console's rates. */
export const FINISHED_EVENTS = `${SUBJECTS.jobEventPrefix}.*.finished.>`;

/** Which process runs the attempts: `<service>@<host>:<pid>` (the host is the pod's name in Kubernetes). */
export const workerName = (service: string): string => `${service}@${hostname()}:${process.pid}`;

const TRACEPARENT = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/;

const traceIdOf = (info: AttemptInfo): string | undefined => {
  const active = trace.getActiveSpan()?.spanContext();
  if (active && trace.isSpanContextValid(active)) return active.traceId;
  return TRACEPARENT.exec(info.headers.traceparent ?? '')?.[1];
};

const base = (info: AttemptInfo, worker: string, kind: JobEvent['kind'], at: number): JobEvent => ({
  v: 1,
  kind,
  job: info.job,
  jobId: info.jobId,
  stream: info.stream,
  consumer: info.consumer,
  subject: info.subject,
  streamSeq: info.streamSeq,
  attempt: info.attempt,
  maxAttempts: info.maxAttempts,
  worker,
  at: new Date(at).toISOString(),
});

/**
 * Publishes each attempt's start and end to JOB_EVENTS: the story `jobs show` tells and the
 * console's rates. A core publish, not a PubAck round trip: losing an event during a broker outage
 * costs a line of history, and waiting for it would cost every job a round trip.
 */
export const observeJobEvents = (deps: { publish(subject: string, data: Uint8Array): void; worker: string }): RunnerObserver => {
  const encoder = new TextEncoder();
  const send = (event: JobEvent) => {
    try {
      deps.publish(jobEventSubject(event.jobId, event.kind, event.stream, event.consumer), encoder.encode(JSON.stringify(event)));
    } catch {
      // A closed connection while shutting down: the history loses a line, the job nothing.
    }
  };
  return {
    attemptStarted(info): AttemptObservation {
      const startedAt = Date.now();
      let traceId: string | undefined;
      let announced = false;
      return {
        run(fn) {
          if (!announced) {
            announced = true;
            // Inside the attempt's span (the tracing observer runs outside this one).
            traceId = traceIdOf(info);
            const replayOf = info.headers[HEADERS.replayOf];
            const first = info.attempt === 1 || replayOf !== undefined;
            send({
              ...base(info, deps.worker, 'started', startedAt),
              timeoutMs: info.timeoutMs,
              ...(traceId ? { traceId } : {}),
              ...(first ? { payload: summarizePayload(info.data) } : {}),
              ...(replayOf ? { replayOf } : {}),
            });
          }
          return fn();
        },
        finished(outcome, reply, durationMs, result) {
          send({
            ...base(info, deps.worker, 'finished', Date.now()),
            ...(traceId ? { traceId } : {}),
            outcome: outcome.kind,
            reply: reply.kind,
            durationMs,
            ...('error' in outcome ? { error: outcome.error.slice(0, 2_000) } : {}),
            ...(reply.kind === 'nak' ? { retryInMs: reply.delayMs } : {}),
            ...(reply.kind === 'dead-letter' ? { deadLetterReason: reply.reason } : {}),
            ...(result?.deadLetterId !== undefined ? { deadLetterId: result.deadLetterId } : {}),
          });
        },
      };
    },
  };
};

/** Several observers as one: spans nest in order (the first is outermost). */
export const combineObservers = (...observers: RunnerObserver[]): RunnerObserver => ({
  attemptStarted(info) {
    const each = observers.map((o) => o.attemptStarted(info));
    return {
      run: (fn) => each.reduceRight<typeof fn>((inner, o) => () => o.run(inner), fn)(),
      finished(outcome, reply, durationMs, result) {
        for (const o of each) o.finished(outcome, reply, durationMs, result);
      },
    };
  },
});
