import type { JetStreamManager, StreamInfo } from '@nats-io/jetstream';

/** One consumer of one stream as an operator reads it (a stream without consumers gets one row). */
export interface ConsumerRow {
  stream: string;
  /** `-` for a stream without consumers (the DLQ, event streams nobody reads yet). */
  consumer: string;
  messages: number;
  pending: number;
  ackPending: number;
  redelivered: number;
  /** Age of the oldest message this consumer has not acknowledged, in ms (undefined: none). */
  oldestUnackedMs?: number;
  /** Paused on the server (consumer pause, 2.11+) until this time. */
  serverPausedUntil?: string;
}

/**
 * Stream and consumer counts as the server reports them, sorted by stream then consumer. Shared by
 * the operator CLI (`queues`) and the gateway's admin dashboard so both show the same numbers.
 */
export const readQueues = async (jsm: JetStreamManager, now = Date.now()): Promise<ConsumerRow[]> => {
  const rows: ConsumerRow[] = [];
  const streams: StreamInfo[] = [];
  for await (const s of jsm.streams.list()) streams.push(s);
  streams.sort((a, b) => a.config.name.localeCompare(b.config.name));
  for (const s of streams) {
    const consumers = [];
    // Durable consumers only: ephemeral ones are readers like this dashboard's own DLQ reads.
    for await (const c of jsm.consumers.list(s.config.name)) if (c.config.durable_name) consumers.push(c);
    if (consumers.length === 0) {
      rows.push({ stream: s.config.name, consumer: '-', messages: s.state.messages, pending: 0, ackPending: 0, redelivered: 0 });
      continue;
    }
    for (const c of consumers.sort((a, b) => a.name.localeCompare(b.name))) {
      let oldestUnackedMs: number | undefined;
      if (c.num_ack_pending + c.num_pending > 0) {
        // The first sequence past the ack floor is the oldest message still owed an acknowledgement.
        const seq = Math.max(c.ack_floor.stream_seq + 1, s.state.first_seq);
        const m = await jsm.streams.getMessage(s.config.name, { seq }).catch(() => null);
        if (m) oldestUnackedMs = Math.max(0, now - m.time.getTime());
      }
      rows.push({
        stream: s.config.name,
        consumer: c.name,
        messages: s.state.messages,
        pending: c.num_pending,
        ackPending: c.num_ack_pending,
        redelivered: c.num_redelivered,
        oldestUnackedMs,
        ...(c.paused && c.config.pause_until ? { serverPausedUntil: c.config.pause_until } : {}),
      });
    }
  }
  return rows;
};
