import type { Summary } from './stats.ts';
import { ratio } from './stats.ts';
import { isMeasured, type BenchResult, type ServerRun, type Target } from './result.ts';

/** Targets of issue 8, judged on medians of the same run. `met: null` = not measured this run. */
export const evaluateTargets = (r: Pick<BenchResult, 'acceptPath' | 'jobThroughput' | 'fanIn' | 'memory'>): Target[] => {
  const accept = new Map((r.acceptPath?.targets ?? []).filter(isMeasured).map((t) => [t.id, t]));
  const jobs = new Map((r.jobThroughput?.systems ?? []).filter(isMeasured).map((s) => [s.id, s]));
  const fan = new Map((r.fanIn?.scenarios ?? []).filter(isMeasured).map((s) => [s.id, s]));
  const gateway = accept.get('gateway');
  const handoff = jobs.get('handoff');
  const workers = r.memory.filter((m) => m.worker);

  const target = (id: string, description: string, value: number | undefined, threshold: string, pass: (v: number) => boolean): Target => {
    const v = value !== undefined && Number.isFinite(value) ? value : null;
    return { id, description, value: v === null ? null : round(v, 3), threshold, met: v === null ? null : pass(v) };
  };
  return [
    target('accept.vs-fastify', 'Accept path: gateway req/s ÷ bare fastify req/s', ratio(gateway?.reqPerSec, accept.get('fastify')?.reqPerSec), '≥ 0.25', (v) => v >= 0.25),
    target('accept.vs-naive', 'Accept path: gateway req/s ÷ naive inline-SMTP req/s', ratio(gateway?.reqPerSec, accept.get('naive')?.reqPerSec), '≥ 20', (v) => v >= 20),
    target('accept.vs-pubak', 'Accept path: gateway req/s ÷ bare PubAck handler req/s', ratio(gateway?.reqPerSec, accept.get('pubak')?.reqPerSec), '≥ 1.0', (v) => v >= 1),
    target('accept.p99', 'Accept path: gateway p99 latency (ms) at 100 connections', gateway?.p99Ms.median, '≤ 25 ms', (v) => v <= 25),
    target('jobs.vs-jetstream', 'Runner jobs/s ÷ bare JetStream jobs/s at saturation', ratio(handoff?.saturation.jobsPerSec, jobs.get('jetstream')?.saturation.jobsPerSec), '≥ 0.80', (v) => v >= 0.8),
    target('jobs.vs-bullmq', 'Runner jobs/s ÷ BullMQ jobs/s at saturation', ratio(handoff?.saturation.jobsPerSec, jobs.get('bullmq')?.saturation.jobsPerSec), '≥ 1.5', (v) => v >= 1.5),
    target('jobs.p99', 'Runner p99 enqueue→handler latency (ms) at the fixed rate', handoff?.latency.p99Ms.median, '≤ 10 ms', (v) => v <= 10),
    target('fanin.100x2', 'Fan-in: 100 tickets with 2 ticketing workers, wall time (ms)', fan.get('1x100-w2')?.wallMs.median, '< 5000 ms', (v) => v < 5_000),
    target('memory.workers', 'Highest peak RSS of any worker process, render processes included (MB)', workers.length ? Math.max(...workers.map((w) => Math.max(w.peakRssMb, w.childPeakRssMb ?? 0))) : undefined, '< 150 MB', (v) => v < 150),
  ];
};

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

/** `12,345` / `3.21`: integers for rates, two decimals below 10, one below 100. */
export const formatNumber = (n: number): string => {
  if (!Number.isFinite(n)) return '–';
  const abs = Math.abs(n);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
};

/** Median with the min–max of the runs: `12,345 (11,900–12,800)`. */
export const formatSummary = (s: Summary | undefined): string =>
  s ? (s.runs.length > 1 ? `${formatNumber(s.median)} (${formatNumber(s.min)}–${formatNumber(s.max)})` : formatNumber(s.median)) : '–';

const table = (head: string[], rows: string[][]) =>
  [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');

const verdict = (met: boolean | null) => (met === null ? 'not measured' : met ? 'met' : '**missed**');

export const renderMarkdown = (r: BenchResult): string => {
  const out: string[] = [];
  out.push(`# Handoff benchmarks (${r.mode})`);
  out.push('');
  out.push(
    `${r.startedAt} · ${r.durationSec} s · each figure: median (min–max) of ${r.runsPerMeasurement} runs · ` +
      `${r.machine.cpus}× ${r.machine.cpuModel}, ${r.machine.memoryGb} GB, ${r.machine.os}, load at start ${r.machine.loadAverageAtStart.join(' / ')}`,
  );
  out.push('');
  out.push(
    r.childForm === 'compiled'
      ? 'Every service and worker child ran compiled (`node dist/…`, built by `npm run build`), as in the container.'
      : 'Every service and worker child ran TypeScript under the tsx loader (`--form source`), not the shipped form.',
    '',
  );
  out.push(`Versions: ${Object.entries(r.versions).map(([k, v]) => `${k} ${v}`).join(', ')}.`);
  const servers = [r.natsServer, ...(r.otherServers ?? []).map((o) => o.natsServer)];
  out.push('', `Measured on ${servers.map((s) => `nats-server ${s.version} (${s.role})`).join(', then ')}.`);
  if (r.machine.note) out.push('', r.machine.note);

  const many = servers.length > 1;
  if (many) out.push('', `## On nats-server ${r.natsServer.version} (${r.natsServer.role})`);
  renderRun(out, r, many ? '###' : '##');
  for (const other of r.otherServers ?? []) {
    out.push('', `## On nats-server ${other.natsServer.version} (${other.natsServer.role})`);
    renderRun(out, other, '###');
  }
  if (r.problems.length > 0) {
    out.push('', '## Problems', '');
    for (const p of r.problems) out.push(`- ${p}`);
  }
  return `${out.join('\n')}\n`;
};

/** One server's comparisons, memory and targets, under headings of level `h`. */
const renderRun = (out: string[], r: Omit<ServerRun, 'natsServer'>, h: string) => {
  if (r.acceptPath) {
    const a = r.acceptPath;
    out.push('', `${h} Accept path (${a.method.connections} connections, ${a.method.durationSec} s each)`, '');
    out.push(
      table(
        ['target', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'errors'],
        a.targets.map((t) =>
          isMeasured(t)
            ? [t.label, formatSummary(t.reqPerSec), formatSummary(t.p50Ms), formatSummary(t.p99Ms), formatSummary(t.non2xx), formatSummary(t.errors)]
            : [t.label, `skipped: ${t.skipped}`, '', '', '', ''],
        ),
      ),
    );
    for (const note of a.method.notes) out.push(`- ${note}`);
  }

  if (r.jobThroughput) {
    const j = r.jobThroughput;
    out.push('', `${h} Job throughput (no-op jobs, concurrency ${j.method.concurrency})`, '');
    out.push(
      table(
        ['system', 'jobs/s at saturation', 'worker CPU µs/job', 'write syscalls/job', `p50 ms at ${j.method.latencyRatePerSec}/s`, 'p99 ms', 'max ms', 'achieved rate /s', 'worker peak RSS MB'],
        j.systems.map((s) =>
          isMeasured(s)
            ? [
                s.label,
                formatSummary(s.saturation.jobsPerSec),
                formatSummary(s.saturation.cpuUsPerJob),
                formatSummary(s.saturation.writeSyscallsPerJob),
                formatSummary(s.latency.p50Ms),
                formatSummary(s.latency.p99Ms),
                formatSummary(s.latency.maxMs),
                formatSummary(s.latency.achievedPerSec),
                formatSummary(s.workerPeakRssMb),
              ]
            : [s.label, `skipped: ${s.skipped}`, '', '', '', '', '', '', ''],
        ),
      ),
    );
    for (const note of j.method.notes) out.push(`- ${note}`);
  }

  if (r.fanIn) {
    out.push('', `${h} Fan-in (webhook → tickets.ready)`, '');
    out.push(
      table(
        ['scenario', 'workers', 'wall ms', 'tickets/s', 'tickets/s per core'],
        r.fanIn.scenarios.map((s) =>
          isMeasured(s)
            ? [s.label, String(s.workers), formatSummary(s.wallMs), formatSummary(s.ticketsPerSec), formatSummary(s.ticketsPerCpuSec)]
            : [s.label, '', `skipped: ${s.skipped}`, '', ''],
        ),
      ),
    );
    for (const note of r.fanIn.method.notes) out.push(`- ${note}`);
  }

  if (r.memory.length > 0) {
    out.push('', `${h} Peak RSS per process`, '');
    out.push(
      table(
        ['comparison', 'process', 'peak RSS MB (VmHWM)', 'largest child MB (VmHWM)', 'with child processes MB'],
        r.memory.map((m) => [
          m.comparison,
          m.process,
          formatNumber(m.peakRssMb),
          m.childPeakRssMb === undefined ? '' : formatNumber(m.childPeakRssMb),
          m.treePeakRssMb === undefined ? '' : formatNumber(m.treePeakRssMb),
        ]),
      ),
    );
  }

  out.push('', `${h} Targets`, '');
  out.push(
    table(
      ['target', 'measured', 'threshold', 'verdict'],
      r.targets.map((t) => [t.description, t.value === null ? '–' : formatNumber(t.value), t.threshold, verdict(t.met)]),
    ),
  );
};
