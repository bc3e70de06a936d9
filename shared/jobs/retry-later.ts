/**
 * Thrown by a handler when its job cannot run *now* for a reason that is not the job's fault: the
 * SMTP provider said "slow down" (421/454), or no send slot came within the wait allowed. The job
 * goes back to its queue for `delayMs` and the attempt does not count: a provider's throttling must
 * not use up retries until jobs are dead-lettered. (Each deferral is still a delivery, bounded by
 * the consumer's delivery limit, so a job cannot be deferred for ever.)
 */
export class RetryLaterError extends Error {
  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message);
    this.name = 'RetryLaterError';
  }
}

/** The delay of a RetryLaterError (also one from another copy of this module), else undefined. */
export const retryLaterDelay = (error: unknown): number | undefined => {
  if (!(error instanceof Error) || error.name !== 'RetryLaterError') return undefined;
  const delay = (error as Partial<RetryLaterError>).delayMs;
  return typeof delay === 'number' && Number.isFinite(delay) ? Math.max(0, Math.round(delay)) : 0;
};
