import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { PLANS, runBenchmark, writeResults, type BenchPlan } from '../../bench/harness.ts';
import { currentNatsServerBin, floorNatsServerBin, natsServerVersion } from '../../deploy/nats/nats-server-binary.ts';
import { descendants, peakRssMb } from '../../bench/memory.ts';
import { sendAll } from '../../bench/pace.ts';
import { evaluateTargets, formatSummary, renderMarkdown } from '../../bench/report.ts';
import { BenchResultSchema, type BenchResult } from '../../bench/result.ts';
import { createLatencyRecorder, median, ratio, summarize } from '../../bench/stats.ts';

describe('stats', () => {
  test('median of odd and even counts, summary keeps runs in order with min and max', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(summarize([30, 10, 20])).toEqual({ median: 20, min: 10, max: 30, runs: [30, 10, 20] });
  });

  test('ratio is of medians and NaN when a side is missing', () => {
    expect(ratio(summarize([8, 9, 10]), summarize([9, 10, 11]))).toBeCloseTo(0.9);
    expect(ratio(summarize([1]), undefined)).toBeNaN();
  });

  test('the HDR latency recorder reports percentiles within its 3 significant digits', () => {
    const recorder = createLatencyRecorder();
    for (let ms = 1; ms <= 100; ms++) recorder.recordMs(ms);
    const p = recorder.percentiles();
    expect(p.count).toBe(100);
    expect(p.p50Ms).toBeCloseTo(50, 0);
    expect(p.p99Ms).toBeCloseTo(99, 0);
    expect(p.maxMs).toBeCloseTo(100, 0);
  });
});

describe('pacing', () => {
  test('a fixed-rate send keeps to its schedule and bounds in-flight sends', async () => {
    let inFlight = 0;
    let most = 0;
    const sent = await sendAll(
      50,
      async () => {
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
      },
      { maxInFlight: 4, ratePerSec: 500 },
    );
    expect(most).toBeLessThanOrEqual(4);
    expect(sent.lastSendAt).toBeGreaterThan(sent.startedAt);
  });
});

const measured = (median: number) => ({ median, min: median, max: median, runs: [median] });

const sample = (): BenchResult => {
  const partial = {
    acceptPath: {
      method: { connections: 100, durationSec: 3, notes: ['n'] },
      targets: [
        { id: 'gateway', label: 'gateway', reqPerSec: measured(10_000), p50Ms: measured(5), p99Ms: measured(20), non2xx: measured(0), errors: measured(0) },
        { id: 'fastify', label: 'fastify', reqPerSec: measured(30_000), p50Ms: measured(2), p99Ms: measured(8), non2xx: measured(0), errors: measured(0) },
        { id: 'naive', label: 'naive', skipped: 'smtp down' },
      ],
    },
    jobThroughput: {
      method: { jobs: 1, warmupJobs: 1, concurrency: 50, latencyRatePerSec: 5_000, latencySeconds: 1, notes: [] },
      systems: [
        {
          id: 'handoff',
          label: 'Handoff runner',
          saturation: { jobsPerSec: measured(9_000) },
          latency: { p50Ms: measured(1), p99Ms: measured(12), maxMs: measured(30), achievedPerSec: measured(5_000) },
          workerPeakRssMb: measured(120),
        },
        {
          id: 'jetstream',
          label: 'bare',
          saturation: { jobsPerSec: measured(10_000) },
          latency: { p50Ms: measured(1), p99Ms: measured(3), maxMs: measured(9), achievedPerSec: measured(5_000) },
          workerPeakRssMb: measured(100),
        },
      ],
    },
    memory: [{ comparison: 'fan-in', process: 'ticketing #1', peakRssMb: 150, worker: true }],
  };
  return BenchResultSchema.parse({
    schema: 1,
    mode: 'custom',
    startedAt: new Date(0).toISOString(),
    finishedAt: new Date(1000).toISOString(),
    durationSec: 1,
    runsPerMeasurement: 1,
    childForm: 'compiled',
    versions: { node: process.version },
    natsServer: { role: 'current', version: '2.15.1', binary: '/cache/2.15.1-1/usr/sbin/nats-server' },
    machine: { cpus: 2, cpuModel: 'test', memoryGb: 1, os: 'test', loadAverageAtStart: [0, 0, 0], note: '' },
    ...partial,
    targets: evaluateTargets(partial as never),
    problems: [],
  });
};

describe('report', () => {
  test('targets are judged on medians; unmeasured ones are null, not failed', () => {
    const byId = new Map(sample().targets.map((t) => [t.id, t]));
    expect(byId.get('accept.vs-fastify')).toMatchObject({ value: 0.333, met: true });
    expect(byId.get('accept.vs-naive')).toMatchObject({ value: null, met: null });
    expect(byId.get('accept.p99')).toMatchObject({ value: 20, met: true });
    expect(byId.get('jobs.vs-jetstream')).toMatchObject({ value: 0.9, met: true });
    expect(byId.get('jobs.p99')).toMatchObject({ value: 12, met: false });
    expect(byId.get('fanin.100x2')).toMatchObject({ met: null });
    // Issue 18: workers (compiled) must stay under 150 MB; the sample's ticketing peak is exactly 150.
    expect(byId.get('memory.workers')).toMatchObject({ value: 150, met: false });
  });

  test("a worker's render processes count for the worker memory target", () => {
    const memory = [{ comparison: 'fan-in', process: 'ticketing #1', peakRssMb: 120, childPeakRssMb: 160, worker: true }];
    expect(evaluateTargets({ memory }).find((t) => t.id === 'memory.workers')).toMatchObject({ value: 160, met: false });
    const md = renderMarkdown(BenchResultSchema.parse({ ...sample(), memory }));
    expect(md).toContain('| fan-in | ticketing #1 | 120 | 160 |  |');
  });

  test('the markdown names the server each part ran on; a full run shows the floor’s figures in their own section', () => {
    const one = renderMarkdown(sample());
    expect(one).toContain('Measured on nats-server 2.15.1 (current).');
    expect(one).not.toContain('## On nats-server');
    const floor = { natsServer: { role: 'floor' as const, version: '2.9.10', binary: '/usr/sbin/nats-server' }, memory: [], targets: evaluateTargets({ memory: [] }) };
    const both = renderMarkdown(BenchResultSchema.parse({ ...sample(), otherServers: [floor] }));
    expect(both).toContain('Measured on nats-server 2.15.1 (current), then nats-server 2.9.10 (floor).');
    expect(both).toContain('## On nats-server 2.15.1 (current)');
    expect(both).toContain('### Accept path (100 connections, 3 s each)');
    expect(both.indexOf('## On nats-server 2.9.10 (floor)')).toBeGreaterThan(both.indexOf('### Targets'));
  });

  test('the markdown shows median (min–max), skipped rows with their reason, and verdicts', () => {
    expect(formatSummary({ median: 12_345, min: 11_900, max: 12_800, runs: [1, 2, 3] })).toBe('12,345 (11,900–12,800)');
    const md = renderMarkdown(sample());
    expect(md).toContain('## Accept path (100 connections, 3 s each)');
    expect(md).toContain('| naive | skipped: smtp down |');
    expect(md).toContain('| Runner p99 enqueue→handler latency (ms) at the fixed rate | 12.0 | ≤ 10 ms | **missed** |');
    expect(md).toContain('not measured');
  });
});

describe('memory', () => {
  test('peak RSS comes from /proc and descendants are found through parent pids', () => {
    expect(peakRssMb(process.pid)).toBeGreaterThan(1);
    expect(descendants(process.pid)).not.toContain(process.pid);
  });
});

test('a tiny real job-throughput run on the current server and the floor records both servers, and writes latest.json and latest.md of the published shape', async () => {
  const binaries = { current: currentNatsServerBin(), floor: floorNatsServerBin() };
  const plan: BenchPlan = {
    mode: 'custom',
    servers: ['current', 'floor'],
    binaries,
    runs: 1,
    only: ['jobs'],
    // BullMQ is left out: this test must not depend on Redis being installed.
    jobs: { systems: ['handoff', 'jetstream'], warmupJobs: 20, jobs: 200, concurrency: 10, latencyRatePerSec: 200, latencySeconds: 0.5, logLevel: 'warn' },
    accept: { connections: 1, durationSec: 1, smtpDelayMs: 1 },
    fanIn: { bigOrder: 1, smallOrders: 1, smallOrderSize: 1, workerCounts: [1] },
    // Under tsx: a fresh checkout has no dist/, and `npm run build` inside this test would cost a
    // minute on two cores. The compiled entries are covered by bench-compiled.test.ts.
    form: 'source',
  };
  const result = await runBenchmark(plan);
  expect(result.childForm).toBe('source');
  expect(result.problems).toEqual([]);
  expect(result.natsServer).toEqual({ role: 'current', binary: binaries.current, version: natsServerVersion(binaries.current) });
  expect(result.versions['nats-server']).toBe(natsServerVersion(binaries.current));
  expect(result.otherServers?.map((o) => o.natsServer)).toEqual([{ role: 'floor', binary: binaries.floor, version: natsServerVersion(binaries.floor) }]);
  for (const run of [result, ...(result.otherServers ?? [])]) {
    const systems = run.jobThroughput?.systems ?? [];
    expect(systems.map((s) => s.id)).toEqual(['handoff', 'jetstream']);
    for (const s of systems) {
      if ('skipped' in s) throw new Error(`${s.id} skipped: ${s.skipped}`);
      expect(s.saturation.jobsPerSec.median).toBeGreaterThan(0);
      expect(s.latency.p99Ms.runs).toHaveLength(1);
      expect(s.workerPeakRssMb.median).toBeGreaterThan(0);
    }
    expect(run.targets.find((t) => t.id === 'jobs.vs-jetstream')?.value).not.toBeNull();
    expect(run.memory.some((m) => m.process === 'nats-server')).toBe(true);
  }

  const dir = mkdtempSync(join(tmpdir(), 'handoff-bench-'));
  try {
    const written = writeResults(result, dir);
    expect(BenchResultSchema.parse(JSON.parse(readFileSync(written.json, 'utf8')))).toEqual(result);
    const md = readFileSync(written.markdown, 'utf8');
    expect(md).toContain('### Job throughput');
    expect(md).toContain(`## On nats-server ${natsServerVersion(binaries.floor)} (floor)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a quick run measures on the current server only; the full run on the current one and the floor', () => {
  expect(PLANS.quick.servers).toEqual(['current']);
  expect(PLANS.full.servers).toEqual(['current', 'floor']);
});
