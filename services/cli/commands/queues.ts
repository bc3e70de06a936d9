import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { BUCKETS } from '#shared/contracts/buckets';
import { describePause, isForever, kvPauseLookup, pauseQueue, resumeQueue, UnknownQueueError, withPauses, type QueueControlDeps } from '#shared/jobs/queue-control';
import { ensureBucket } from '#shared/nats/ensure';
import { isNotFound } from '#shared/nats/kv';
import { readQueues } from '#shared/nats/queue-stats';
import { formatAge } from '#shared/observability/format-age';
import { parseArgs, UsageError, type CliContext, type Command } from '../dispatch.ts';
import { parseDuration, table } from '../table.ts';

const openPauses = async (nc: NatsConnection) => {
  try {
    return await new Kvm(nc).open(BUCKETS.queuePauses.name);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
};

export const queues: Command = {
  path: ['queues'],
  usage: 'queues [--json]',
  summary: 'each stream and consumer: messages, pending, ack-pending, redelivered, oldest unacked, paused',
  async run(args, ctx) {
    // `--json` is a switch; parseArgs gives every flag a value, so it is taken out first.
    const json = args.includes('--json');
    const { positional } = parseArgs(args.filter((a) => a !== '--json'), []);
    if (positional.length > 0) throw new UsageError(`unexpected argument: ${positional[0]}`);
    const nc = await ctx.nats();
    const pauses = await openPauses(nc);
    const rows = await withPauses(await readQueues(await jetstreamManager(nc)), pauses ? kvPauseLookup(pauses) : undefined);
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
        ['STREAM', 'CONSUMER', 'MESSAGES', 'PENDING', 'ACK-PENDING', 'REDELIVERED', 'OLDEST UNACKED', 'STATE'],
        rows.map((r) => [
          r.stream,
          r.consumer,
          r.messages,
          r.pending,
          r.ackPending,
          r.redelivered,
          r.oldestUnackedMs === undefined ? '-' : formatAge(r.oldestUnackedMs),
          r.consumer === '-' && !r.paused ? '-' : describePause(r.paused),
        ]),
      ),
    );
    return 0;
  },
};

/** The CLI's side of pausing: the admin user, and the bucket created here if the console never ran. */
const controlDeps = async (ctx: CliContext, replicas: number): Promise<QueueControlDeps> => {
  const nc = await ctx.nats();
  return {
    jsm: await jetstreamManager(nc),
    serverVersion: nc.info?.version,
    pauses: async () => (await openPauses(nc)) ?? ensureBucket(nc, BUCKETS.queuePauses, replicas),
    by: 'cli',
  };
};

const queueName = (positional: readonly string[]) => {
  if (positional.length !== 1) throw new UsageError(positional.length === 0 ? 'name a stream or a consumer (see `queues`)' : `unexpected argument: ${positional[1]}`);
  return positional[0]!;
};

const known = async (ctx: CliContext, work: () => Promise<void>) => {
  try {
    await work();
    return 0;
  } catch (error) {
    if (!(error instanceof UnknownQueueError)) throw error;
    ctx.err(`error: ${error.message}`);
    return 1;
  }
};

export const queuesPause = (replicas: () => number): Command => ({
  path: ['queues', 'pause'],
  usage: 'queues pause NAME [--for DURATION]',
  summary: 'stop delivering a stream (every consumer) or one consumer; jobs wait, none lost',
  async run(args, ctx) {
    const { positional, flags } = parseArgs(args, ['for']);
    const name = queueName(positional);
    const forMs = flags.for === undefined ? undefined : parseDuration(flags.for);
    if (flags.for !== undefined && forMs === undefined) throw new UsageError(`not a duration: ${flags.for} (use e.g. 30m, 2h)`);
    const deps = await controlDeps(ctx, replicas());
    return known(ctx, async () => {
      const result = await pauseQueue(deps, name, forMs === undefined ? {} : { forMs });
      const what = result.target.consumer ? `${result.target.stream}/${result.target.consumer}` : `${result.target.stream} (${result.target.consumers.length ? result.target.consumers.join(', ') : 'no consumers yet'})`;
      const until = result.until && !isForever(result.until) ? `until ${result.until}` : 'until resumed';
      const how = result.how === 'server' ? 'consumer pause on the server' : 'runtime pause: workers stop pulling';
      ctx.out(`paused ${what} ${until} (${how})`);
      if (result.stillPulling.length > 0) ctx.err(`warning: still pulling after the wait: ${result.stillPulling.join(', ')} (workers without pause support?)`);
    });
  },
});

export const queuesResume = (replicas: () => number): Command => ({
  path: ['queues', 'resume'],
  usage: 'queues resume NAME',
  summary: 'deliver again, in order, what a pause held back',
  async run(args, ctx) {
    const { positional } = parseArgs(args, []);
    const name = queueName(positional);
    const deps = await controlDeps(ctx, replicas());
    return known(ctx, async () => {
      const result = await resumeQueue(deps, name);
      const what = result.target.consumer ? `${result.target.stream}/${result.target.consumer}` : result.target.stream;
      ctx.out(`resumed ${what}`);
      if (result.stillPausedByStream) ctx.err(`note: the whole stream ${result.target.stream} is still paused; \`queues resume ${result.target.stream}\` resumes it`);
    });
  },
});
