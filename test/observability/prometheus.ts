/**
 * A strict reader of the Prometheus text exposition format (0.0.4), enough to prove `/metrics`
 * parses and to read counter values by name and labels.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(-?(?:\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|NaN|\+Inf|-Inf))(\s+-?\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/gy;

export const parsePrometheus = (text: string): Sample[] => {
  const samples: Sample[] = [];
  text.split('\n').forEach((line, index) => {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) return;
    if (line.startsWith('#')) throw new Error(`line ${index + 1}: unknown comment: ${line}`);
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`line ${index + 1}: not a sample: ${line}`);
    const labels: Record<string, string> = {};
    const body = match[3] ?? '';
    LABEL.lastIndex = 0;
    let consumed = 0;
    for (let m = LABEL.exec(body); m; m = LABEL.exec(body)) {
      labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      consumed = LABEL.lastIndex;
    }
    if (consumed !== body.length) throw new Error(`line ${index + 1}: bad labels: ${line}`);
    samples.push({ name: match[1]!, labels, value: Number(match[4] === '+Inf' ? Infinity : match[4]) });
  });
  return samples;
};

/** Sum of the samples of `name` whose labels include `labels`. */
export const valueOf = (samples: Sample[], name: string, labels: Record<string, string> = {}): number =>
  samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);

export const scrape = async (url: string): Promise<Sample[]> => {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
  if (!(res.headers.get('content-type') ?? '').startsWith('text/plain')) throw new Error(`${url}: content-type ${res.headers.get('content-type')}`);
  return parsePrometheus(await res.text());
};
