import { jetstreamManager } from '@nats-io/jetstream';
import { readQueues } from '#shared/nats/queue-stats';
import { parseArgs, UsageError, type Command } from '../dispatch.ts';
import { formatAge } from '#shared/observability/format-age';
import { table } from '../table.ts';

export const queues: Command = {
  path: ['queues'],
  usage: 'queues [--json]',
  summary: 'each stream and consumer: messages, pending, ack-pending, redelivered, oldest unacked',
  async run(args, ctx) {
    // `--json` is a switch; parseArgs gives every flag a value, so it is taken out first.
    const json = args.includes('--json');
    const { positional } = parseArgs(args.filter((a) => a !== '--json'), []);
    if (positional.length > 0) throw new UsageError(`unexpected argument: ${positional[0]}`);
    const rows = await readQueues(await jetstreamManager(await ctx.nats()));
    if (json) {
      ctx.out(JSON.stringify(rows, null, 2));
      return 0;
    }
    if (rows.length === 0) {
      ctx.out('no streams yet (start the services once: npm start)');
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
