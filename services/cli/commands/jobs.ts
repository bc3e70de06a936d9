import { jetstreamManager } from '@nats-io/jetstream';
import { buildJobStory, readJobEvents, type Delivery, type JobStory } from '#shared/jobs/job-story';
import { formatAge } from '#shared/observability/format-age';
import { parseArgs, UsageError, type Command } from '../dispatch.ts';
import { table } from '../table.ts';

const ms = (value: number | undefined) => (value === undefined ? '-' : value < 1_000 ? `${Math.round(value)}ms` : `${(value / 1_000).toFixed(1)}s`);

const outcomeOf = (d: Delivery) => {
  if (!d.reply) return 'running';
  const what = d.outcome ?? d.reply;
  return d.counted ? what : `${what} (not an attempt)`;
};

const nextOf = (d: Delivery) => {
  if (d.reply === 'nak') return `retry in ${ms(d.retryInMs)}`;
  if (d.reply === 'dead-letter') return `dead letter${d.deadLetterId ? ` ${d.deadLetterId}` : ''}`;
  return d.reply === 'ack' ? 'done' : '-';
};

export const describeState = (story: JobStory, now = Date.now()): string => {
  const { state } = story;
  switch (state.kind) {
    case 'running':
      return state.overdue
        ? `running? started on ${state.worker} ${formatAge(now - Date.parse(state.since))} ago and no end recorded: its worker may have stopped; the server delivers it again after its ack wait`
        : `running on ${state.worker} since ${state.since}`;
    case 'waiting':
      return `waiting (${state.why})${state.retryAt ? `, next delivery from ${state.retryAt}` : ''}`;
    case 'done':
      return `done at ${state.at}`;
    case 'dead':
      return `dead (${state.reason ?? 'dead-lettered'}) at ${state.at}${state.deadLetterId ? `: dead letter ${state.deadLetterId} (\`dlq show ${state.deadLetterId}\`, \`dlq replay ${state.deadLetterId}\`)` : ''}`;
  }
};

export const formatStory = (story: JobStory, now = Date.now()): string[] => [
  `job       ${story.jobId}`,
  `kind      ${story.job}`,
  `subject   ${story.subject}`,
  `queue     ${story.stream}/${story.consumer}`,
  `payload   ${story.payload ?? '(not recorded)'}`,
  `trace     ${story.traceIds.length ? story.traceIds.join(', ') : '(none recorded)'}`,
  `state     ${describeState(story, now)}`,
  '',
  table(
    ['ATTEMPT', 'WORKER', 'STARTED', 'DURATION', 'OUTCOME', 'NEXT', 'ERROR'],
    story.deliveries.map((d) => [`${d.attempt}/${story.maxAttempts}`, d.worker, d.startedAt, ms(d.durationMs), outcomeOf(d), nextOf(d), d.error ?? '']),
  ),
];

export const jobsShow: Command = {
  path: ['jobs', 'show'],
  usage: 'jobs show JOB_ID [--json]',
  summary: 'one job: payload (secrets hidden), every attempt, trace id, where it is now',
  async run(args, ctx) {
    const json = args.includes('--json');
    const { positional } = parseArgs(args.filter((a) => a !== '--json'), []);
    if (positional.length !== 1) throw new UsageError(positional.length === 0 ? 'missing JOB_ID' : `unexpected argument: ${positional[1]}`);
    const jobId = positional[0]!;
    const story = buildJobStory(await readJobEvents(await jetstreamManager(await ctx.nats()), jobId));
    if (!story) {
      ctx.err(`error: no job ${jobId}: no worker has started it in the last 7 days (job ids are the Handoff-Job-Id of the message: a mail id, a dead letter's "JOB ID")`);
      return 1;
    }
    if (json) ctx.out(JSON.stringify(story, null, 2));
    else for (const line of formatStory(story)) ctx.out(line);
    return 0;
  },
};
