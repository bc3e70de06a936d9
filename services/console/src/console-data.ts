import type { JetStreamManager } from '@nats-io/jetstream';
import { z } from 'zod';
import { ORDERS_RPC, OrderListReply, type OrderView } from '#shared/contracts/orders';
import type { RpcSpec } from '#shared/contracts/spec';
import { STREAMS } from '#shared/contracts/streams';
import { SUBJECTS } from '#shared/contracts/subjects';
import { DeadLetterRecord, matchesFilter, type DeadLetterFilter, type StoredDeadLetter } from '#shared/jobs/dead-letter';
import { buildJobStory, readJobEvents, type JobStory } from '#shared/jobs/job-story';
import { pauseQueue, resumeQueue, withPauses, type PauseLookup, type PauseResult, type QueueControlDeps, type QueueRow, type ResumeResult } from '#shared/jobs/queue-control';
import { JOBS } from '#shared/contracts/jobs';
import { deadLetterSubject } from '#shared/contracts/subjects';
import { replayDeadLetter, type ReplayResult } from '#shared/jobs/replay';
import { errorMessage } from '#shared/observability/errors';
import type { Publisher } from '#shared/nats/publish';
import { readQueues } from '#shared/nats/queue-stats';
import type { JobRates, RateSeries } from './job-rates.ts';
import { RpcUnavailableError, type RpcClient } from '#shared/nats/rpc';
import { isNotFound } from '#shared/nats/kv';
import { readStoredMessages } from '#shared/nats/stream-reader';

/** A dead letter as the console shows it: with the DLQ subject it is stored on, which decides its replay. */
export interface ConsoleDeadLetter extends StoredDeadLetter {
  storedOn: string;
}

/** Orders as the dashboard got them: a list, or why there is none (never an exception). */
export type OrdersResult = { ok: true; orders: OrderView[] } | { ok: false; message: string };

/** What the admin pages read and do; main.ts builds it from the gateway's NATS connection. */
export interface AdminData {
  /** Every stream and consumer with its counts and pause state. */
  queues(): Promise<QueueRow[]>;
  /** The newest `limit` dead letters (of a job and/or reason), newest first, and how many there are in all. */
  deadLetters(limit: number, filter?: DeadLetterFilter): Promise<{ total: number; items: ConsoleDeadLetter[] }>;
  /** Pauses a stream (every consumer) or one consumer (shared/jobs/queue-control.ts). */
  pause(name: string): Promise<PauseResult>;
  resume(name: string): Promise<ResumeResult>;
  /** A job's story from its events, or undefined when no worker has started it. */
  jobStory(jobId: string): Promise<JobStory | undefined>;
  /** Done and failed per second and p95 durations per queue over the last hour. */
  rates(): RateSeries[];
  /** Replays to the subject the dead letter's queue allows (shared/jobs/replay.ts), or says why not. */
  replay(id: number): Promise<ReplayResult>;
  latestOrders(limit: number): Promise<OrdersResult>;
  order(id: string): Promise<OrdersResult>;
}

/**
 * "Every user's latest orders" on `SUBJECTS.ordersList`: the operator's view of the call, without a
 * user id. Ticketing answers `bad_request` until its list handler accepts a request without one;
 * the page then says so instead of failing.
 */
const latestOrdersSpec = {
  subject: SUBJECTS.ordersList,
  request: z.object({ limit: z.number().int().min(1) }),
  reply: OrderListReply,
} satisfies RpcSpec;


const askTicketing = async (call: () => Promise<OrdersResult>): Promise<OrdersResult> => {
  try {
    return await call();
  } catch (error) {
    if (error instanceof RpcUnavailableError) return { ok: false, message: 'ticketing unavailable: it did not answer' };
    return { ok: false, message: `ticketing gave an unexpected answer: ${errorMessage(error)}` };
  }
};

// A dead mail job carries its raw magic-link token (replay needs it, from the stream itself): the
// dashboard's page, live events and JSON never show it.
const SECRET_FIELD = /"(token|sessionId|password|secret)"\s*:\s*"[^"]*"/gi;
export const hideSecrets = (payload: string) => payload.replace(SECRET_FIELD, '"$1":"[hidden]"');

/**
 * Dead letters of the DLQ's sequences `from`..`to` (optionally one DLQ subject), by message gets:
 * a refresh every 2 s per open dashboard leaves no consumer behind.
 */
const readDeadLetters = async (jsm: JetStreamManager, options: { subject?: string | undefined; from: number; to: number; limit: number }): Promise<ConsoleDeadLetter[]> => {
  const items: ConsoleDeadLetter[] = [];
  for await (const m of readStoredMessages(jsm, STREAMS.DLQ.name, { from: options.from, to: options.to })) {
    if (options.subject !== undefined && m.subject !== options.subject) continue;
    const parsed = DeadLetterRecord.safeParse(m.json());
    if (parsed.success) items.push({ id: m.seq, storedAt: m.time.toISOString(), record: { ...parsed.data, payload: hideSecrets(parsed.data.payload) }, storedOn: m.subject });
    if (items.length >= options.limit) break;
  }
  return items;
};

// A filter by job reads only that job's DLQ subject (the contracts name its stream and consumer).
const subjectOfJob = (job: string | undefined) => {
  const spec = job === undefined ? undefined : JOBS.find((j) => j.name === job);
  return spec ? deadLetterSubject(spec.stream, spec.consumer) : undefined;
};

/** Filtered views read at most this many of the newest dead letters. */
const FILTER_SCAN = 10_000;

export interface AdminDataDeps {
  jsm: JetStreamManager;
  publisher: Publisher;
  rpc: Pick<RpcClient, 'call'>;
  control: QueueControlDeps;
  /** Runtime pause records by key (the console's own watch over queue_pauses). */
  pauses?: PauseLookup;
  rates?: JobRates;
}

export const createAdminData = (deps: AdminDataDeps): AdminData => ({
  queues: async () => withPauses(await readQueues(deps.jsm), deps.pauses),
  pause: (name) => pauseQueue(deps.control, name),
  resume: (name) => resumeQueue(deps.control, name),
  jobStory: async (jobId) => buildJobStory(await readJobEvents(deps.jsm, jobId)),
  rates: () => deps.rates?.series() ?? [],
  async deadLetters(limit, filter = {}) {
    let info;
    try {
      info = await deps.jsm.streams.info(STREAMS.DLQ.name);
    } catch (error) {
      if (isNotFound(error)) return { total: 0, items: [] };
      throw error;
    }
    const total = info.state.messages;
    if (total === 0) return { total, items: [] };
    if (filter.job === undefined && filter.reason === undefined) {
      // Read only the tail of the stream, every refresh: the DLQ keeps weeks of records.
      const items = await readDeadLetters(deps.jsm, { from: Math.max(info.state.first_seq, info.state.last_seq - limit + 1), to: info.state.last_seq, limit });
      return { total, items: items.reverse() };
    }
    const filterSubject = subjectOfJob(filter.job);
    const read = await readDeadLetters(deps.jsm, { subject: filterSubject, from: Math.max(info.state.first_seq, info.state.last_seq - FILTER_SCAN + 1), to: info.state.last_seq, limit: FILTER_SCAN });
    const matching = read.filter((d) => matchesFilter(d.record, filter));
    return { total: matching.length, items: matching.slice(-limit).reverse() };
  },
  replay: (id) => replayDeadLetter({ publisher: deps.publisher, jsm: deps.jsm }, id),
  latestOrders: (limit) =>
    askTicketing(async () => {
      const reply = await deps.rpc.call(latestOrdersSpec, { limit });
      return reply.ok ? { ok: true, orders: reply.orders.slice(0, limit) } : { ok: false, message: `ticketing cannot list every order yet: ${reply.message}` };
    }),
  order: (id) =>
    askTicketing(async () => {
      const reply = await deps.rpc.call(ORDERS_RPC.get, { orderId: id });
      return reply.ok ? { ok: true, orders: [reply.order] } : { ok: false, message: reply.message };
    }),
});
