import { DeliverPolicy, type JetStreamClient } from '@nats-io/jetstream';
import { JobEvent } from '#shared/contracts/job-events';
import { STREAMS } from '#shared/contracts/streams';
import { FINISHED_EVENTS } from '#shared/jobs/job-events';
import { errorMessage } from '#shared/observability/errors';
import type { Log } from '#shared/observability/logger';

/** One queue's last hour: per step, jobs done and failed per second and the p95 attempt duration. */
export interface RateSeries {
  queue: string;
  job: string;
  stepMs: number;
  /** Oldest first; `t` is the start of the step (ms). */
  points: Array<{ t: number; done: number; failed: number; p95Ms: number | undefined }>;
  totals: { done: number; failed: number };
}

export interface JobRates {
  series(now?: number): RateSeries[];
  /** Counts one finished attempt (what the event stream delivers; tests call it directly). */
  record(event: JobEvent): void;
  stop(): void;
}

// Durations in log-spaced buckets (×1.25, 1 ms … ~20 min): a p95 within 25% is enough for a chart.
const RATIO = 1.25;
const bucketOf = (ms: number) => Math.max(0, Math.ceil(Math.log(Math.max(1, ms)) / Math.log(RATIO)));
const upperBound = (bucket: number) => RATIO ** bucket;

interface Step {
  done: number;
  failed: number;
  durations: Map<number, number>;
}

const FAILED = new Set(['failed', 'timeout', 'invalid', 'permanent']);

const p95 = (durations: Map<number, number>): number | undefined => {
  let total = 0;
  for (const n of durations.values()) total += n;
  if (total === 0) return undefined;
  let seen = 0;
  for (const bucket of [...durations.keys()].sort((a, b) => a - b)) {
    seen += durations.get(bucket)!;
    if (seen >= 0.95 * total) return Math.round(upperBound(bucket));
  }
  return undefined;
};

/**
 * Rates from the services' own job events (JOB_EVENTS), kept in memory for `windowMs`: one
 * ordered consumer per console process, started at "an hour ago" and then following live. No
 * metrics server is needed, and every console replica computes the same numbers.
 */
export const createJobRates = (options: { js?: JetStreamClient; log: Log; windowMs?: number; stepMs?: number; now?: () => number }): JobRates => {
  const windowMs = options.windowMs ?? 3_600_000;
  const stepMs = options.stepMs ?? 10_000;
  const now = options.now ?? Date.now;
  const queues = new Map<string, { job: string; steps: Map<number, Step> }>();
  let stopped = false;
  let close: (() => void) | undefined;

  const record = (event: JobEvent) => {
    if (event.kind !== 'finished' || event.outcome === 'deferred' || event.outcome === 'interrupted') return;
    const at = Date.parse(event.at);
    if (at < now() - windowMs) return;
    const key = `${event.stream}/${event.consumer}`;
    const queue = queues.get(key) ?? { job: event.job, steps: new Map<number, Step>() };
    queues.set(key, queue);
    const t = Math.floor(at / stepMs) * stepMs;
    const step = queue.steps.get(t) ?? { done: 0, failed: 0, durations: new Map<number, number>() };
    queue.steps.set(t, step);
    if (event.outcome === 'ok') step.done++;
    else if (event.outcome && FAILED.has(event.outcome)) step.failed++;
    if (event.durationMs !== undefined) {
      const b = bucketOf(event.durationMs);
      step.durations.set(b, (step.durations.get(b) ?? 0) + 1);
    }
  };

  const follow = async (js: JetStreamClient) => {
    let logged = false;
    while (!stopped) {
      try {
        const start = new Date(now() - windowMs).toISOString();
        const consumer = await js.consumers.get(STREAMS.JOB_EVENTS.name, { filter_subjects: FINISHED_EVENTS, deliver_policy: DeliverPolicy.StartTime, opt_start_time: start });
        const messages = await consumer.consume({ max_messages: 512 });
        close = () => void messages.close().catch(() => undefined);
        if (stopped) close();
        // A restarted reader starts an hour back again: forget what it counted.
        queues.clear();
        for await (const m of messages) {
          const parsed = JobEvent.safeParse(m.json());
          if (parsed.success) record(parsed.data);
        }
      } catch (error) {
        if (!logged) options.log.warn({ err: errorMessage(error) }, 'job events unreadable; rates wait');
        logged = true;
      }
      if (!stopped) await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
  };
  if (options.js) void follow(options.js);

  return {
    record,
    series(at = now()) {
      const last = Math.floor(at / stepMs) * stepMs;
      const first = last - windowMs + stepMs;
      const out: RateSeries[] = [];
      for (const [queue, { job, steps }] of [...queues].sort(([a], [b]) => a.localeCompare(b))) {
        for (const t of steps.keys()) if (t < first) steps.delete(t);
        if (steps.size === 0) {
          queues.delete(queue);
          continue;
        }
        const points: RateSeries['points'] = [];
        const totals = { done: 0, failed: 0 };
        for (let t = first; t <= last; t += stepMs) {
          const step = steps.get(t);
          totals.done += step?.done ?? 0;
          totals.failed += step?.failed ?? 0;
          points.push({ t, done: (step?.done ?? 0) / (stepMs / 1_000), failed: (step?.failed ?? 0) / (stepMs / 1_000), p95Ms: step ? p95(step.durations) : undefined });
        }
        out.push({ queue, job, stepMs, points, totals });
      }
      return out;
    },
    stop() {
      stopped = true;
      close?.();
    },
  };
};
