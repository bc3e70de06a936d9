import { z } from 'zod';

/** How an attempt ended, as the runner saw it (shared/jobs/decide.ts). */
export const AttemptOutcomeKind = z.enum(['ok', 'invalid', 'permanent', 'failed', 'timeout', 'interrupted', 'deferred']);

/**
 * One event per attempt start and one per end, published by every job runner to the JOB_EVENTS
 * stream on `jobs.event.<job-id hash>.<kind>.<stream>.<consumer>`. A job's story is read back with
 * one stored-message get per event (`next_by_subj`), never a consumer per lookup; the console's
 * rates read the `finished` events of the last hour.
 */
export const JobEvent = z.object({
  v: z.literal(1),
  kind: z.enum(['started', 'finished']),
  job: z.string(),
  jobId: z.string(),
  stream: z.string(),
  consumer: z.string(),
  subject: z.string(),
  streamSeq: z.number().int(),
  attempt: z.number().int(),
  maxAttempts: z.number().int(),
  /** `<service>@<host>:<pid>`: which process ran it. */
  worker: z.string(),
  /** Start of the attempt (started) or its end (finished). */
  at: z.iso.datetime(),
  traceId: z.string().optional(),
  /** started, on a job's first delivery: the payload with secrets hidden, shortened. */
  payload: z.string().optional(),
  /** started: the dead letter this delivery replays. */
  replayOf: z.string().optional(),
  /** started: how long the attempt may run, to tell a running attempt from a lost one. */
  timeoutMs: z.number().int().optional(),
  outcome: AttemptOutcomeKind.optional(),
  reply: z.enum(['ack', 'nak', 'dead-letter']).optional(),
  durationMs: z.number().optional(),
  error: z.string().optional(),
  /** finished with a nak: when the server delivers it again. */
  retryInMs: z.number().optional(),
  deadLetterReason: z.string().optional(),
  /** finished with a dead letter: its id in the DLQ stream (`dlq show ID`). */
  deadLetterId: z.number().int().optional(),
});
export type JobEvent = z.infer<typeof JobEvent>;
