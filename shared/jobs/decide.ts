import type { JobSpec } from '#shared/contracts/spec';
import { retryDelay } from './backoff.ts';
import type { DeadLetterReason } from './dead-letter.ts';

/** What one attempt came to, as the runner saw it. */
export type AttemptOutcome =
  | { kind: 'ok' }
  | { kind: 'invalid'; error: string }
  | { kind: 'permanent'; error: string }
  | { kind: 'failed'; error: string }
  | { kind: 'timeout'; error: string }
  | { kind: 'interrupted' }
  /** The handler asked to run later (RetryLaterError): back to the queue, not an attempt. */
  | { kind: 'deferred'; error: string; delayMs: number };

/** The reply the runner gives the server. */
export type Reply =
  | { kind: 'ack' }
  | { kind: 'nak'; delayMs: number }
  | { kind: 'dead-letter'; reason: DeadLetterReason; error: string };

// Shared immutable replies: the common case allocates nothing.
const ACK: Reply = Object.freeze({ kind: 'ack' });
const HAND_BACK: Reply = Object.freeze({ kind: 'nak', delayMs: 0 });

/**
 * The whole retry policy in one pure function, so it can be tested exhaustively without a server.
 * `interrupted` (the worker is shutting down) hands the job straight back for another worker.
 */
export const decide = (
  outcome: AttemptOutcome,
  attempt: number,
  job: Pick<JobSpec, 'maxAttempts' | 'backoff'>,
  random: () => number = Math.random,
): Reply => {
  switch (outcome.kind) {
    case 'ok':
      return ACK;
    case 'interrupted':
      return HAND_BACK;
    case 'deferred':
      return { kind: 'nak', delayMs: outcome.delayMs };
    case 'invalid':
      return { kind: 'dead-letter', reason: 'invalid_payload', error: outcome.error };
    case 'permanent':
      return { kind: 'dead-letter', reason: 'permanent', error: outcome.error };
    case 'failed':
    case 'timeout':
      return attempt >= job.maxAttempts
        ? { kind: 'dead-letter', reason: 'exhausted', error: outcome.error }
        : { kind: 'nak', delayMs: retryDelay(job.backoff, attempt, random) };
  }
};
