/**
 * Two latency samples compared as distributions, for "indistinguishable" claims: the ratio of the
 * medians and a two-sided Mann–Whitney U test (normal approximation with tie correction). Robust
 * to the outliers a shared two-core machine produces, unlike a comparison of means.
 */
export interface Comparison {
  medianA: number;
  medianB: number;
  ratio: number;
  /** Standardised U statistic; |z| > 3.3 would be p < 0.001. */
  z: number;
}

export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

export const mannWhitneyZ = (a: number[], b: number[]): number => {
  const all = [...a.map((v) => ({ v, g: 0 })), ...b.map((v) => ({ v, g: 1 }))].sort((x, y) => x.v - y.v);
  const ranks = new Array<number>(all.length);
  let tieTerm = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j + 1 < all.length && all[j + 1]!.v === all[i]!.v) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[k] = rank;
    const t = j - i + 1;
    tieTerm += t ** 3 - t;
    i = j + 1;
  }
  const n1 = a.length;
  const n2 = b.length;
  const rankSumA = all.reduce((sum, item, i) => (item.g === 0 ? sum + ranks[i]! : sum), 0);
  const u = rankSumA - (n1 * (n1 + 1)) / 2;
  const n = n1 + n2;
  const sigma = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
  return sigma === 0 ? 0 : (u - (n1 * n2) / 2) / sigma;
};

/**
 * Wilcoxon signed-rank test on paired samples (a[i] measured next to b[i]), as a z score. Pairing
 * cancels what both members of a pair share — the machine's load at that moment — which on two
 * busy cores is most of the noise.
 */
export const wilcoxonZ = (a: number[], b: number[]): number => {
  const diffs = a.map((v, i) => v - b[i]!).filter((d) => d !== 0);
  const sorted = diffs.map((d) => ({ d, abs: Math.abs(d) })).sort((x, y) => x.abs - y.abs);
  let plus = 0;
  let tieTerm = 0;
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1]!.abs === sorted[i]!.abs) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (sorted[k]!.d > 0) plus += rank;
    const t = j - i + 1;
    tieTerm += t ** 3 - t;
    i = j + 1;
  }
  const n = sorted.length;
  const sigma = Math.sqrt((n * (n + 1) * (2 * n + 1)) / 24 - tieTerm / 48);
  return sigma === 0 ? 0 : (plus - (n * (n + 1)) / 4) / sigma;
};

/** `a[i]` and `b[i]` must be measured side by side (interleaved), for the paired test. */
export const compare = (a: number[], b: number[]): Comparison & { pairedZ: number } => {
  const medianA = median(a);
  const medianB = median(b);
  return { medianA, medianB, ratio: medianA / medianB, z: mannWhitneyZ(a, b), pairedZ: wilcoxonZ(a, b) };
};
