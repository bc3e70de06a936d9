/**
 * Cancellation of one attempt (timeout or shutdown). A class, not a closure record: the runner makes
 * one per message, and at tens of thousands of jobs a second the closures (and an AbortController
 * per message) were a measurable share of its CPU and garbage. The AbortController is built only
 * when the handler reads its signal: most handlers finish long before a timeout.
 */
export interface Cancel {
  readonly signal: AbortSignal;
  /** The reason once cancelled, else undefined. */
  readonly reason: unknown;
  cancel(reason: unknown): void;
  /** Settles like `work`, or rejects with the reason as soon as the attempt is cancelled. */
  race<T>(work: Promise<T>): Promise<T>;
}

export class AttemptCancel implements Cancel {
  reason: unknown = undefined;
  /** When the attempt times out (performance.now() ms) while `armed`: the runner's deadline queue (deadlines.ts). */
  deadline = 0;
  armed = false;
  private controller: AbortController | undefined = undefined;
  private rejectRace: ((reason: unknown) => void) | undefined = undefined;

  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    if (this.reason !== undefined && !this.controller.signal.aborted) this.controller.abort(this.reason);
    return this.controller.signal;
  }

  cancel(why: unknown): void {
    if (this.reason !== undefined) return;
    this.reason = why;
    this.controller?.abort(why);
    this.rejectRace?.(why);
  }

  race<T>(work: Promise<T>): Promise<T> {
    if (this.reason !== undefined) return Promise.reject(this.reason);
    return new Promise<T>((resolve, reject) => {
      this.rejectRace = reject;
      work.then(resolve, reject);
    });
  }
}

export const createCancel = (): AttemptCancel => new AttemptCancel();
