/**
 * `npm run bench [-- --quick] [--only jobs,accept,fanin] [--runs N] [--nats current|floor|both] [--log-level warn] [--profile] [--form source] [--systems handoff,jetstream]`:
 * runs the comparisons of issue 8 on this machine, writes bench/results/latest.json and latest.md,
 * prints the table. The full run measures on the current nats-server and on the floor (2.9.10),
 * `--quick` on the current one; `--nats` chooses.
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { COMPARISONS, PLANS, runBenchmark, writeResults, type BenchPlan, type Comparison } from './harness.ts';
import { renderMarkdown } from './report.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string', multiple: true },
    runs: { type: 'string' },
    /** Which nats-server(s): current (NATS_SERVER_BIN or current-server.sh), floor (2.9.10), or both. */
    nats: { type: 'string' },
    'out-dir': { type: 'string' },
    /** Worker log level for the Handoff runner (default info, as services ship). */
    'log-level': { type: 'string' },
    /** compiled (default: `node dist/…`, as the container) or source (`node --import tsx`). */
    form: { type: 'string' },
    /** Job systems to compare (handoff, jetstream, bullmq; default all). */
    systems: { type: 'string' },
    /** Write `node --cpu-prof` profiles of the job workers to bench/results/profiles/. */
    profile: { type: 'boolean', default: false },
  },
  strict: true,
});

const only = (values.only ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
for (const name of only) {
  if (!(COMPARISONS as readonly string[]).includes(name)) {
    console.error(`unknown comparison "${name}"; choose from ${COMPARISONS.join(', ')}`);
    process.exit(2);
  }
}
const NATS_CHOICES: Record<string, BenchPlan['servers']> = { current: ['current'], floor: ['floor'], both: ['current', 'floor'] };
if (values.nats !== undefined && !NATS_CHOICES[values.nats]) {
  console.error(`--nats must be current, floor or both; got "${values.nats}"`);
  process.exit(2);
}
if (values.form !== undefined && values.form !== 'compiled' && values.form !== 'source') {
  console.error(`--form must be compiled or source; got "${values.form}"`);
  process.exit(2);
}
const SYSTEMS = ['handoff', 'jetstream', 'bullmq'] as const;
const systems = (values.systems ?? '').split(',').map((v) => v.trim()).filter(Boolean);
if (systems.some((s) => !(SYSTEMS as readonly string[]).includes(s))) {
  console.error(`--systems takes a comma-separated list of ${SYSTEMS.join(', ')}`);
  process.exit(2);
}
const preset = PLANS[values.quick ? 'quick' : 'full'];
const runs = values.runs ? Number(values.runs) : preset.runs;
if (!Number.isInteger(runs) || runs < 1) {
  console.error('--runs must be a positive integer');
  process.exit(2);
}
const plan: BenchPlan = {
  ...preset,
  servers: (values.nats && NATS_CHOICES[values.nats]) || preset.servers,
  runs,
  only: only.length > 0 ? (only as Comparison[]) : preset.only,
  form: values.form === 'source' ? 'source' : 'compiled',
  jobs: {
    ...preset.jobs,
    logLevel: values['log-level'] ?? preset.jobs.logLevel,
    systems: systems.length > 0 ? (systems as Array<(typeof SYSTEMS)[number]>) : preset.jobs.systems,
    profileDir: values.profile ? fileURLToPath(new URL('./results/profiles/', import.meta.url)) : undefined,
  },
  mode: only.length > 0 || runs !== preset.runs || values['log-level'] || values.nats || values.form === 'source' || systems.length > 0 ? 'custom' : preset.mode,
};

const started = Date.now();
const log = (line: string) => process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
log(`${values.quick ? 'quick' : 'full'} run: ${plan.only.join(', ')}, ${plan.runs} runs each, on the ${plan.servers.join(' and ')} nats-server`);
const result = await runBenchmark(plan, log);
const written = writeResults(result, values['out-dir'] ?? fileURLToPath(new URL('./results/', import.meta.url)));
process.stdout.write(renderMarkdown(result));
log(`wrote ${written.json} and ${written.markdown}`);
// Client libraries (BullMQ's Redis connections, timers) must not keep a finished benchmark alive.
process.exit(0);
