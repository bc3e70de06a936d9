/**
 * Thrown by a handler when retrying cannot help (a 5xx SMTP rejection, an order that does not
 * exist): the runner dead-letters the job at once instead of spending its attempts.
 */
export class PermanentError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentError';
  }
}

/** The reason an attempt's AbortSignal fires when the attempt ran past its timeout. */
export class JobTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`job timed out after ${timeoutMs} ms`);
    this.name = 'JobTimeoutError';
  }
}

/** The reason an attempt's AbortSignal fires when the worker shuts down past its grace period. */
export class ShutdownError extends Error {
  constructor() {
    super('worker shut down before the job finished');
    this.name = 'ShutdownError';
  }
}

export const isPermanent = (error: unknown): boolean =>
  error instanceof PermanentError || (error instanceof Error && error.name === 'PermanentError');
