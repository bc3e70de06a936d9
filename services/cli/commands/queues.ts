import { jetstreamManager, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';
import { parseArgs, UsageError, type Command } from '../dispatch.ts';
import { formatAge, table } from '../table.ts';

export interface ConsumerRow {
  stream: string;
  consumer: string;
  messages: number;
  pending: number;
  ackPending: number;
  redelivered: number;
  /** Age of the oldest message this consumer has not acknowledged, in ms (undefined: none). */
  oldestUnackedMs?: number;
}

/** Stream and consumer counts as the server reports them; one row per consumer (or per bare stream). */
export const readQueues = async (jsm: JetStreamManager, now = Date.now()): Promise<ConsumerRow[]> => {
  const rows: ConsumerRow[] = [];
  const streams: StreamInfo[] = [];
  for await (const s of jsm.streams.list()) streams.push(s);
  streams.sort((a, b) => a.config.name.localeCompare(b.config.name));
  for (const s of streams) {
    const consumers = [];
    for await (const c of jsm.consumers.list(s.config.name)) consumers.push(c);
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
        if (m) oldestUnackedMs = now - m.time.getTime();
      }
      rows.push({
        stream: s.config.name,
        consumer: c.name,
        messages: s.state.messages,
        pending: c.num_pending,
        ackPending: c.num_ack_pending,
        redelivered: c.num_redelivered,
        oldestUnackedMs,
      });
    }
  }
  return rows;
};

export const queues: Command = {
  path: ['queues'],
  usage: 'queues [--json true]',
  summary: 'each stream and consumer: messages, pending, ack-pending, redelivered, oldest unacked',
  async run(args, ctx) {
    const { positional, flags } = parseArgs(args, ['json']);
    if (positional.length > 0) throw new UsageError(`unexpected argument: ${positional[0]}`);
    const rows = await readQueues(await jetstreamManager(await ctx.nats()));
    if (flags.json === 'true') {
      ctx.out(JSON.stringify(rows, null, 2));
      return 0;
    }
    ctx.out(
      table(
        ['STREAM', 'CONSUMER', 'MESSAGES', 'PENDING', 'ACK-PENDING', 'REDELIVERED', 'OLDEST UNACKED'],
        rows.map((r) => [r.stream, r.consumer, r.messages, r.pending, r.ackPending, r.redelivered, r.oldestUnackedMs === undefined ? '-' : formatAge(r.oldestUnackedMs)]),
      ),
    );
    return 0;
  },
};
