/**
 * Cancellation of one attempt (timeout or shutdown). The AbortController is built only when the
 * handler reads its signal: most handlers finish long before a timeout, and an AbortController
 * per message was a measurable share of the runner's CPU at tens of thousands of jobs a second.
 */
export interface Cancel {
  readonly signal: AbortSignal;
  /** The reason once cancelled, else undefined. */
  readonly reason: unknown;
  cancel(reason: unknown): void;
  /** Settles like `work`, or rejects with the reason as soon as the attempt is cancelled. */
  race<T>(work: Promise<T>): Promise<T>;
}

export const createCancel = (): Cancel => {
  let controller: AbortController | undefined;
  let reason: unknown;
  let rejectRace: ((reason: unknown) => void) | undefined;
  return {
    get signal() {
      controller ??= new AbortController();
      if (reason !== undefined && !controller.signal.aborted) controller.abort(reason);
      return controller.signal;
    },
    get reason() {
      return reason;
    },
    cancel(why) {
      if (reason !== undefined) return;
      reason = why;
      controller?.abort(why);
      rejectRace?.(why);
    },
    race(work) {
      if (reason !== undefined) return Promise.reject(reason);
      return new Promise((resolve, reject) => {
        rejectRace = reject;
        work.then(resolve, reject);
      });
    },
  };
};
