import type { JetStreamManager } from '@nats-io/jetstream';
import { JobEvent } from '#shared/contracts/job-events';
import { STREAMS } from '#shared/contracts/streams';
import { isNotFound } from '#shared/nats/kv';
import { jobEventsFilter } from './job-events.ts';

/**
 * Reads a job's events back one stored message at a time (`next_by_subj` from the last one seen),
 * the same on 2.9 and current servers. Never a consumer per lookup: a stream allows a limited
 * number of consumers (1000 by default on current servers), and operators look jobs up freely.
 */
export const readJobEvents = async (jsm: Pick<JetStreamManager, 'streams'>, jobId: string, options: { limit?: number } = {}): Promise<JobEvent[]> => {
  const limit = options.limit ?? 1_000;
  const filter = jobEventsFilter(jobId);
  const events: JobEvent[] = [];
  let seq = 0;
  while (events.length < limit) {
    let m;
    try {
      m = await jsm.streams.getMessage(STREAMS.JOB_EVENTS.name, { seq, next_by_subj: filter } as never);
    } catch (error) {
      if (isNotFound(error)) break;
      throw error;
    }
    if (!m) break;
    seq = m.seq + 1;
    const parsed = JobEvent.safeParse(m.json());
    // Another job whose id hashes to the same token (128 bits: only in theory) is not this one.
    if (parsed.success && parsed.data.jobId === jobId) events.push(parsed.data);
  }
  return events;
};

/** One delivery of the job to a worker: an attempt, or a deferral/hand-back that was not one. */
export interface Delivery {
  attempt: number;
  streamSeq: number;
  worker: string;
  startedAt: string;
  traceId?: string;
  durationMs?: number;
  outcome?: JobEvent['outcome'];
  reply?: JobEvent['reply'];
  error?: string;
  retryInMs?: number;
  deadLetterId?: number;
  deadLetterReason?: string;
  /** A deferral or a hand-back at shutdown: the job went back without using an attempt. */
  counted: boolean;
}

export type JobState =
  | { kind: 'running'; worker: string; since: string; overdue: boolean }
  | { kind: 'waiting'; retryAt?: string; why: string }
  | { kind: 'done'; at: string }
  | { kind: 'dead'; at: string; deadLetterId?: number; reason?: string };

export interface JobStory {
  jobId: string;
  job: string;
  subject: string;
  stream: string;
  consumer: string;
  maxAttempts: number;
  payload?: string;
  traceIds: string[];
  deliveries: Delivery[];
  state: JobState;
}

const stateOf = (last: Delivery, finishedAt: string | undefined, timeoutMs: number, now: number): JobState => {
  if (!last.reply) {
    // No end recorded. Past its timeout (plus a minute for the end event), its worker probably
    // stopped; the server then delivers the job again once its ack wait runs out.
    const overdue = now - Date.parse(last.startedAt) > timeoutMs + 60_000;
    return { kind: 'running', worker: last.worker, since: last.startedAt, overdue };
  }
  const at = finishedAt ?? last.startedAt;
  if (last.reply === 'ack') return { kind: 'done', at };
  if (last.reply === 'dead-letter') return { kind: 'dead', at, deadLetterId: last.deadLetterId, reason: last.deadLetterReason };
  const retryAt = new Date(Date.parse(at) + (last.retryInMs ?? 0)).toISOString();
  const why =
    last.outcome === 'deferred' ? `deferred: ${last.error ?? ''}` : last.outcome === 'interrupted' ? 'handed back by a worker shutting down' : `retry after attempt ${last.attempt} failed`;
  return { kind: 'waiting', retryAt, why };
};

/** The story of one job from its events, in the order they were stored; undefined when there are none. */
export const buildJobStory = (events: readonly JobEvent[], now = Date.now()): JobStory | undefined => {
  const first = events[0];
  if (!first) return undefined;
  const deliveries: Delivery[] = [];
  const open = new Map<string, Delivery>();
  let lastFinishedAt: string | undefined;
  let timeoutMs = 0;
  for (const e of events) {
    const key = `${e.stream}|${e.consumer}|${e.streamSeq}|${e.attempt}|${e.worker}`;
    if (e.kind === 'started') {
      const d: Delivery = { attempt: e.attempt, streamSeq: e.streamSeq, worker: e.worker, startedAt: e.at, counted: true, ...(e.traceId ? { traceId: e.traceId } : {}) };
      deliveries.push(d);
      open.set(key, d);
      timeoutMs = e.timeoutMs ?? timeoutMs;
      continue;
    }
    const d = open.get(key) ?? { attempt: e.attempt, streamSeq: e.streamSeq, worker: e.worker, startedAt: e.at, counted: true };
    if (!open.has(key)) deliveries.push(d);
    open.delete(key);
    Object.assign(d, {
      durationMs: e.durationMs,
      outcome: e.outcome,
      reply: e.reply,
      error: e.error,
      retryInMs: e.retryInMs,
      deadLetterId: e.deadLetterId,
      deadLetterReason: e.deadLetterReason,
      counted: e.outcome !== 'deferred' && e.outcome !== 'interrupted',
      traceId: d.traceId ?? e.traceId,
    });
    lastFinishedAt = e.at;
  }
  const last = deliveries.at(-1)!;
  const latest = events.at(-1)!;
  return {
    jobId: first.jobId,
    job: latest.job,
    subject: latest.subject,
    stream: latest.stream,
    consumer: latest.consumer,
    maxAttempts: latest.maxAttempts,
    payload: events.find((e) => e.payload !== undefined)?.payload,
    traceIds: [...new Set(deliveries.map((d) => d.traceId).filter((t): t is string => !!t))],
    deliveries,
    state: stateOf(last, last.reply ? lastFinishedAt : undefined, timeoutMs || 60_000, now),
  };
};
