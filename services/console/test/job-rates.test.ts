import { expect, test } from 'vitest';
import type { JobEvent } from '#shared/contracts/job-events';
import { quietLog } from '#test/jobs-runtime';
import { lineChart } from '../src/charts.ts';
import { createJobRates } from '../src/job-rates.ts';

const finished = (at: number, outcome: JobEvent['outcome'], durationMs: number): JobEvent => ({
  v: 1, kind: 'finished', job: 'mail.send', jobId: `j-${at}-${Math.random()}`, stream: 'MAIL', consumer: 'mailer-send', subject: 'mail.send', streamSeq: 1,
  attempt: 1, maxAttempts: 3, worker: 'w', at: new Date(at).toISOString(), outcome, reply: outcome === 'ok' ? 'ack' : 'nak', durationMs,
});

test('done and failed per second and the p95 duration per 10-second step, over the last hour', () => {
  const now = Date.parse('2026-01-01T12:00:05Z');
  const rates = createJobRates({ log: quietLog, now: () => now });
  const step = Date.parse('2026-01-01T11:59:50Z');
  for (let i = 0; i < 19; i++) rates.record(finished(step + i * 100, 'ok', 100));
  rates.record(finished(step + 5_000, 'ok', 2_000));
  for (let i = 0; i < 5; i++) rates.record(finished(step + 6_000, 'failed', 50));
  rates.record(finished(step + 6_000, 'deferred', 1));
  rates.record(finished(now - 2 * 3_600_000, 'ok', 100));
  const [series] = rates.series(now);
  expect(series).toMatchObject({ queue: 'MAIL/mailer-send', job: 'mail.send', totals: { done: 20, failed: 5 } });
  expect(series!.points).toHaveLength(360);
  const point = series!.points.find((p) => p.t === step)!;
  expect(point.done).toBe(2);
  expect(point.failed).toBe(0.5);
  // 25 durations: 19×100 ms, 5×50 ms, 1×2 s: the 95th percentile is in the 100 ms bucket (within 25%).
  expect(point.p95Ms).toBeGreaterThanOrEqual(100);
  expect(point.p95Ms).toBeLessThanOrEqual(125);
  expect(series!.points.filter((p) => p.p95Ms !== undefined)).toHaveLength(1);
});

test('a chart is an SVG line over the points, with gaps where there is no value', () => {
  const svg = lineChart([0, 2, undefined, 1], { label: 'done/s', color: '#000', format: String, id: 'q-done' });
  expect(svg).toContain('<svg');
  expect(svg).toMatch(/<path d="M[\d.]+ [\d.]+L[\d.]+ [\d.]+M[\d.]+ [\d.]+"/);
  expect(svg).toContain('data-points="3"');
  expect(svg).toContain('data-max="2"');
});
