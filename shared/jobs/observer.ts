import type { AttemptOutcome, Reply } from './decide.ts';

/** Facts about one attempt, for tracing and metrics. */
export interface AttemptInfo {
  job: string;
  jobId: string;
  attempt: number;
  stream: string;
  consumer: string;
  subject: string;
  streamSeq: number;
  maxAttempts: number;
  timeoutMs: number;
  headers: Readonly<Record<string, string>>;
  /** The message body as stored (for a payload summary); not a copy. */
  readonly data: Uint8Array;
}

/** What the runner learnt while replying: the dead letter's id in the DLQ stream. */
export interface ReplyResult {
  deadLetterId?: number;
}

/** One attempt as an observer follows it. */
export interface AttemptObservation {
  /** Runs the handler (and the reply) inside the attempt's span context. */
  run<R>(fn: () => Promise<R>): Promise<R>;
  finished(outcome: AttemptOutcome, reply: Reply, durationMs: number, result?: ReplyResult): void;
}

/** Hooks for observability (see observe-attempts.ts); the default does nothing. */
export interface RunnerObserver {
  attemptStarted(info: AttemptInfo): AttemptObservation;
}

// Shared: the common case allocates nothing per job.
const noObservation: AttemptObservation = { run: (fn) => fn(), finished: () => undefined };
export const noopObserver: RunnerObserver = { attemptStarted: () => noObservation };
