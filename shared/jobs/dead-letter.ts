import { z } from 'zod';
import type { JetStreamManager } from '@nats-io/jetstream';
import { STREAMS } from '#shared/contracts/streams';
import { deadLetterSubject } from '#shared/contracts/subjects';
import type { Publisher } from '#shared/nats/publish';
import { isNotFound } from '#shared/nats/kv';
import { readStoredMessages } from '#shared/nats/stream-reader';

/** Why a job was dead-lettered. */
export const DeadLetterReason = z.enum(['invalid_payload', 'permanent', 'exhausted']);
export type DeadLetterReason = z.infer<typeof DeadLetterReason>;

/** Everything needed to understand a dead job and to run it again. */
export const DeadLetterRecord = z.object({
  v: z.literal(1),
  job: z.string(),
  jobId: z.string(),
  stream: z.string(),
  consumer: z.string(),
  subject: z.string(),
  streamSeq: z.number().int(),
  /** The original bytes: utf8 when they were text, base64 otherwise. */
  payload: z.string(),
  payloadEncoding: z.enum(['utf8', 'base64']),
  headers: z.record(z.string(), z.array(z.string())),
  reason: DeadLetterReason,
  error: z.string(),
  attempts: z.number().int(),
  maxAttempts: z.number().int(),
  firstAttemptAt: z.string(),
  lastAttemptAt: z.string(),
  deadAt: z.string(),
  failures: z.array(z.object({ attempt: z.number(), at: z.string(), error: z.string() })),
});
export type DeadLetterRecord = z.infer<typeof DeadLetterRecord>;

/** What the runner knows about a message when it dead-letters it. */
export interface DeadLetterInput {
  job: string;
  jobId: string;
  consumer: string;
  stream: string;
  subject: string;
  streamSeq: number;
  data: Uint8Array;
  headers: Record<string, string[]>;
  reason: DeadLetterReason;
  error: string;
  attempts: number;
  maxAttempts: number;
  /** When the message was stored: the fallback first-attempt time when no history survived. */
  enqueuedAt: number;
  firstAttemptAt?: string;
  lastAttemptAt: string;
  failures: DeadLetterRecord['failures'];
}

export const buildDeadLetter = (input: DeadLetterInput, now: Date = new Date()): DeadLetterRecord => ({
  v: 1,
  job: input.job,
  jobId: input.jobId,
  stream: input.stream,
  consumer: input.consumer,
  subject: input.subject,
  streamSeq: input.streamSeq,
  ...encodePayload(input.data),
  headers: input.headers,
  reason: input.reason,
  error: input.error,
  attempts: input.attempts,
  maxAttempts: input.maxAttempts,
  firstAttemptAt: input.firstAttemptAt ?? new Date(input.enqueuedAt).toISOString(),
  lastAttemptAt: input.lastAttemptAt,
  deadAt: now.toISOString(),
  failures: input.failures,
});

/** A stored dead letter with its sequence in the DLQ stream, the id operators use. */
export interface StoredDeadLetter {
  id: number;
  storedAt: string;
  record: DeadLetterRecord;
}

export const encodePayload = (data: Uint8Array): Pick<DeadLetterRecord, 'payload' | 'payloadEncoding'> => {
  try {
    return { payload: new TextDecoder('utf-8', { fatal: true }).decode(data), payloadEncoding: 'utf8' };
  } catch {
    return { payload: Buffer.from(data).toString('base64'), payloadEncoding: 'base64' };
  }
};

export const decodePayload = (record: Pick<DeadLetterRecord, 'payload' | 'payloadEncoding'>): Uint8Array =>
  record.payloadEncoding === 'utf8' ? new TextEncoder().encode(record.payload) : Buffer.from(record.payload, 'base64');

/**
 * Stores a dead letter durably. The id is derived from the original message, so a worker that dies
 * between this publish and its `term()` re-publishes the same record and the server drops the copy.
 */
export const publishDeadLetter = (publisher: Publisher, record: DeadLetterRecord) =>
  publisher.publish(deadLetterSubject(record.stream, record.consumer), record, {
    id: `dlq:${record.stream}:${record.streamSeq}`,
    retryForMs: 10_000,
  });

/**
 * Reads every dead letter (oldest first), up to `limit`, with message gets: no consumer is left
 * on the DLQ however often operators list it.
 */
export const listDeadLetters = async (jsm: JetStreamManager, options: { limit?: number } = {}): Promise<StoredDeadLetter[]> => {
  const info = await jsm.streams.info(STREAMS.DLQ.name);
  const total = info.state.messages;
  if (total === 0) return [];
  const limit = Math.min(options.limit ?? 10_000, total);
  const out: StoredDeadLetter[] = [];
  for await (const m of readStoredMessages(jsm, STREAMS.DLQ.name, { from: info.state.first_seq, to: info.state.last_seq })) {
    const parsed = DeadLetterRecord.safeParse(m.json());
    if (parsed.success) out.push({ id: m.seq, storedAt: m.time.toISOString(), record: parsed.data });
    if (out.length >= limit) break;
  }
  return out;
};

/** Which dead letters an operator asks for: by job name (`mail.send`) and/or reason. */
export interface DeadLetterFilter {
  job?: string;
  reason?: DeadLetterReason;
}

export const matchesFilter = (record: Pick<DeadLetterRecord, 'job' | 'reason'>, filter: DeadLetterFilter): boolean =>
  (filter.job === undefined || record.job === filter.job) && (filter.reason === undefined || record.reason === filter.reason);

export const getDeadLetter = async (jsm: JetStreamManager, id: number): Promise<StoredDeadLetter | undefined> => {
  try {
    const m = await jsm.streams.getMessage(STREAMS.DLQ.name, { seq: id });
    if (!m) return undefined;
    return { id, storedAt: m.time.toISOString(), record: DeadLetterRecord.parse(m.json()) };
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
};

// Replay (where a dead letter may go back to, and the publish) lives in replay.ts.

/** Deletes dead letters stored before `olderThan`; returns how many. */
export const purgeDeadLetters = async (jsm: JetStreamManager, olderThan: Date): Promise<number> => {
  const all = await listDeadLetters(jsm);
  let removed = 0;
  for (const item of all) {
    if (new Date(item.storedAt) < olderThan && (await jsm.streams.deleteMessage(STREAMS.DLQ.name, item.id, false))) removed++;
  }
  return removed;
};
