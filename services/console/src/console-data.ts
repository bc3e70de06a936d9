import type { JetStreamManager } from '@nats-io/jetstream';
import { z } from 'zod';
import { ORDERS_RPC, OrderListReply, type OrderView } from '#shared/contracts/orders';
import type { RpcSpec } from '#shared/contracts/spec';
import { STREAMS } from '#shared/contracts/streams';
import { SUBJECTS } from '#shared/contracts/subjects';
import { DeadLetterRecord, type StoredDeadLetter } from '#shared/jobs/dead-letter';
import { replayDeadLetter, type ReplayResult } from '#shared/jobs/replay';
import { errorMessage } from '#shared/observability/errors';
import type { Publisher } from '#shared/nats/publish';
import { readQueues, type ConsumerRow } from '#shared/nats/queue-stats';
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
  queues(): Promise<ConsumerRow[]>;
  /** The newest `limit` dead letters, newest first, and how many there are in all. */
  deadLetters(limit: number): Promise<{ total: number; items: ConsoleDeadLetter[] }>;
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

export const createAdminData = (deps: { jsm: JetStreamManager; publisher: Publisher; rpc: Pick<RpcClient, 'call'> }): AdminData => ({
  queues: () => readQueues(deps.jsm),
  async deadLetters(limit) {
    let info;
    try {
      info = await deps.jsm.streams.info(STREAMS.DLQ.name);
    } catch (error) {
      if (isNotFound(error)) return { total: 0, items: [] };
      throw error;
    }
    const total = info.state.messages;
    if (total === 0) return { total, items: [] };
    // Read only the tail of the stream, every refresh (the DLQ keeps weeks of records), with
    // message gets: a refresh every 2 s per open dashboard leaves no consumer behind.
    const items: ConsoleDeadLetter[] = [];
    const tail = { from: Math.max(info.state.first_seq, info.state.last_seq - limit + 1), to: info.state.last_seq };
    for await (const m of readStoredMessages(deps.jsm, STREAMS.DLQ.name, tail)) {
      const parsed = DeadLetterRecord.safeParse(m.json());
      if (parsed.success) items.push({ id: m.seq, storedAt: m.time.toISOString(), record: { ...parsed.data, payload: hideSecrets(parsed.data.payload) }, storedOn: m.subject });
    }
    return { total, items: items.reverse() };
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
