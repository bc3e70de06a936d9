import type { Log } from '#shared/observability/logger';

/**
 * What a job handler sees. Handlers import this file only: they never see a JetStream message,
 * and the runner decides every reply from what the handler returns or throws.
 */
export type { JobSpec, BackoffPolicy } from '#shared/contracts/spec';
export { PermanentError } from './errors.ts';
export { RetryLaterError } from './retry-later.ts';

/** What a handler knows about the attempt it runs. */
export interface JobContext {
  jobId: string;
  /** 1-based attempt number (hand-backs at a worker's shutdown are not attempts). */
  attempt: number;
  maxAttempts: number;
  /** Fires at the timeout (reason `JobTimeoutError`) or when shutdown runs out of grace. */
  signal: AbortSignal;
  /** The message headers (trace context, replay marker, …), first value of each. */
  headers: Readonly<Record<string, string>>;
  log: Log;
}

/** Resolves when the job is done; throws to retry, or `PermanentError` to dead-letter at once. */
export type JobHandler<T> = (payload: T, ctx: JobContext) => Promise<void>;
