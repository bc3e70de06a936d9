import type { JsMsg } from '@nats-io/jetstream';
import { HEADERS } from '#shared/nats/headers';
import { errorMessage } from '#shared/observability/errors';
import { attemptKey } from './attempt-log.ts';
import type { RunnerState } from './runner-state.ts';

/** When a delayed job may run (ms since epoch, its not-before header), or undefined for any time. */
export const notBeforeOf = (m: Pick<JsMsg, 'headers'>): number | undefined => {
  const value = m.headers?.get(HEADERS.notBefore);
  if (!value) return undefined;
  const at = Date.parse(value);
  return Number.isFinite(at) ? at : undefined;
};

/**
 * A delayed job delivered before its time (a server without message schedules delivers it at
 * once; a broker restart can redeliver it early): handed back unrun with the whole remaining
 * delay, so the server holds it and brings it back on time. Recorded like a hand-back, so it is
 * not an attempt: no failure, no backoff, and the attempt number stays where it was.
 */
export const deferDelivery = async <T>(state: RunnerState<T>, m: JsMsg, due: number): Promise<void> => {
  const { job, deps } = state;
  await deps.attempts.recordDeferral(attemptKey(job.stream, job.consumer, m.seq)).catch((error: unknown) =>
    deps.log.warn({ job: job.name, streamSeq: m.seq, err: errorMessage(error) }, 'deferral not recorded; it will count as an attempt'),
  );
  const delayMs = Math.max(1, due - Date.now());
  state.replies.push(() => m.nak(delayMs));
  deps.log.debug({ job: job.name, streamSeq: m.seq, notBefore: new Date(due).toISOString(), delayMs }, 'delayed job deferred until its time');
};
