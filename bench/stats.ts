import * as hdr from 'hdr-histogram-js';

/** Median and spread of one metric over repeated runs; `runs` keeps every value in run order. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export const median = (values: readonly number[]): number => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

export const summarize = (values: readonly number[]): Summary => ({
  median: median(values),
  min: values.length ? Math.min(...values) : Number.NaN,
  max: values.length ? Math.max(...values) : Number.NaN,
  runs: [...values],
});

/** Summaries of each numeric field of per-run records, e.g. `{ jobsPerSec, p99Ms }[]` → one Summary each. */
export const summarizeFields = <K extends string>(runs: readonly Record<K, number>[], keys: readonly K[]): Record<K, Summary> => {
  const out = {} as Record<K, Summary>;
  for (const key of keys) out[key] = summarize(runs.map((r) => r[key]));
  return out;
};

/** `a / b` of two medians, or NaN when either is missing; ratios are how targets are stated. */
export const ratio = (a: Summary | undefined, b: Summary | undefined): number =>
  a && b && Number.isFinite(a.median) && Number.isFinite(b.median) && b.median !== 0 ? a.median / b.median : Number.NaN;

export interface LatencyPercentiles {
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * Latencies in an HDR histogram at microsecond resolution with 3 significant digits: recording is
 * O(1) and allocation-free, so the act of measuring does not move the tail it measures.
 */
export const createLatencyRecorder = () => {
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  return {
    recordMs(ms: number) {
      histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
    },
    percentiles(): LatencyPercentiles {
      const at = (p: number) => histogram.getValueAtPercentile(p) / 1000;
      return { count: histogram.totalCount, p50Ms: at(50), p99Ms: at(99), maxMs: histogram.maxValue / 1000 };
    },
  };
};

/** A wall clock with sub-millisecond resolution that two processes on one machine agree on. */
export const nowMs = (): number => performance.timeOrigin + performance.now();
