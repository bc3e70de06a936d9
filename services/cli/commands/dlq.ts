import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { DeadLetterReason, getDeadLetter, listDeadLetters, matchesFilter, purgeDeadLetters, type DeadLetterFilter } from '#shared/jobs/dead-letter';
import { replayDeadLetter } from '#shared/jobs/replay';
import { createPublisher } from '#shared/nats/publish';
import { parseArgs, UsageError, type CliContext, type Command } from '../dispatch.ts';
import { formatAge } from '#shared/observability/format-age';
import { parseDuration, table } from '../table.ts';
import { isNotFound } from '#shared/nats/kv';

const handles = async (ctx: CliContext) => {
  const nc = await ctx.nats();
  const js = jetstream(nc);
  return { js, jsm: await jetstreamManager(nc), publisher: createPublisher(js, { retryForMs: 5_000 }) };
};

const parseId = (text: string | undefined): number => {
  const id = Number(text);
  if (!text || !Number.isInteger(id) || id <= 0) throw new UsageError(`not a dead-letter id: ${text ?? '(missing)'}`);
  return id;
};

const filterOf = (flags: Record<string, string>): DeadLetterFilter => {
  const reason = flags.reason === undefined ? undefined : DeadLetterReason.safeParse(flags.reason);
  if (reason && !reason.success) throw new UsageError(`--reason must be one of ${DeadLetterReason.options.join(', ')}`);
  return { ...(flags.job === undefined ? {} : { job: flags.job }), ...(reason?.data ? { reason: reason.data } : {}) };
};

const oneLine = (text: string, max = 60) => {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

export const dlqList: Command = {
  path: ['dlq', 'list'],
  usage: 'dlq list [--job NAME] [--reason R] [--limit N]',
  summary: 'dead jobs: id, job, reason, attempts, age, error (reason: invalid_payload, permanent, exhausted)',
  async run(args, ctx) {
    const { positional, flags } = parseArgs(args, ['limit', 'job', 'reason']);
    if (positional.length > 0) throw new UsageError(`unexpected argument: ${positional[0]}`);
    const limit = flags.limit === undefined ? 1_000 : Number(flags.limit);
    if (!Number.isInteger(limit) || limit <= 0) throw new UsageError('--limit must be a positive whole number');
    const filter = filterOf(flags);
    const { jsm } = await handles(ctx);
    const all = await listDeadLetters(jsm).catch((error: unknown) => {
      // No worker has started yet, so nobody has created the DLQ stream: nothing is dead.
      if (isNotFound(error)) return [];
      throw error;
    });
    const items = all.filter((d) => matchesFilter(d.record, filter)).slice(0, limit);
    if (items.length === 0) {
      ctx.out(filter.job || filter.reason ? 'no dead letters match' : 'no dead letters');
      return 0;
    }
    const now = Date.now();
    ctx.out(
      table(
        ['ID', 'JOB', 'JOB ID', 'REASON', 'ATTEMPTS', 'AGE', 'ERROR'],
        items.map(({ id, storedAt, record }) => [id, record.job, oneLine(record.jobId, 40), record.reason, record.attempts, formatAge(now - Date.parse(storedAt)), oneLine(record.error)]),
      ),
    );
    return 0;
  },
};

export const dlqShow: Command = {
  path: ['dlq', 'show'],
  usage: 'dlq show ID',
  summary: 'one dead job in full: payload, headers, every failed attempt',
  async run(args, ctx) {
    const { positional } = parseArgs(args, []);
    if (positional.length > 1) throw new UsageError(`unexpected argument: ${positional[1]}`);
    const id = parseId(positional[0]);
    const { jsm } = await handles(ctx);
    const item = await getDeadLetter(jsm, id);
    if (!item) {
      ctx.err(`error: no dead letter with id ${id}`);
      return 1;
    }
    ctx.out(JSON.stringify({ id: item.id, storedAt: item.storedAt, ...item.record }, null, 2));
    return 0;
  },
};

export const dlqReplay: Command = {
  path: ['dlq', 'replay'],
  usage: 'dlq replay ID|--all|--job NAME [--reason R]',
  summary: 'run dead jobs again on the subject of the consumer they died on (same job id)',
  async run(args, ctx) {
    // `--all` is a switch; parseArgs gives every flag a value, so it is taken out first.
    const explicitAll = args.includes('--all');
    const { positional, flags } = parseArgs(args.filter((a) => a !== '--all'), ['job', 'reason']);
    const filter = filterOf(flags);
    const filtered = filter.job !== undefined || filter.reason !== undefined;
    const all = explicitAll || filtered;
    if (all && positional.length > 0) throw new UsageError(`give one ID or ${filtered ? '--job/--reason' : '--all'}, not both`);
    if (!all && positional.length !== 1) throw new UsageError(positional.length === 0 ? 'give one ID, or --all' : `unexpected argument: ${positional[1]}`);
    const ids = all ? [] : [parseId(positional[0])];
    const { jsm, publisher } = await handles(ctx);
    if (all) ids.push(...(await listDeadLetters(jsm)).filter((d) => matchesFilter(d.record, filter)).map((d) => d.id));
    let missing = 0;
    let refused = 0;
    for (const id of ids) {
      const result = await replayDeadLetter({ publisher, jsm }, id);
      if (result.replayed) ctx.out(`replayed ${id}: job ${result.jobId} → ${result.subject}`);
      else if (result.refused) {
        // Left in the DLQ: a record that names another target than its queue's is evidence.
        refused++;
        ctx.err(`refused ${id}: ${result.refused.reason}; nothing was published, the dead letter stays`);
      } else {
        missing++;
        ctx.err(`error: no dead letter with id ${id}`);
      }
    }
    if (all) ctx.out(`${ids.length - missing - refused} replayed${refused > 0 ? `, ${refused} refused` : ''}`);
    // --all tolerates ids that vanished meanwhile (replayed elsewhere), never a refusal.
    return refused > 0 || (missing > 0 && !all) ? 1 : 0;
  },
};

export const dlqPurge: Command = {
  path: ['dlq', 'purge'],
  usage: 'dlq purge --older-than DURATION',
  summary: 'delete dead jobs older than e.g. 30m, 12h, 7d',
  async run(args, ctx) {
    const { positional, flags } = parseArgs(args, ['older-than']);
    if (positional.length > 0) throw new UsageError(`unexpected argument: ${positional[0]}`);
    if (!flags['older-than']) throw new UsageError('--older-than is required');
    const ms = parseDuration(flags['older-than']);
    if (ms === undefined) throw new UsageError(`not a duration: ${flags['older-than']} (use e.g. 30m, 12h, 7d)`);
    const { jsm } = await handles(ctx);
    const removed = await purgeDeadLetters(jsm, new Date(Date.now() - ms));
    ctx.out(`purged ${removed} dead letter${removed === 1 ? '' : 's'} older than ${flags['older-than']}`);
    return 0;
  },
};
