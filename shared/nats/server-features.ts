/**
 * What the connected nats-server can do, from the version it reports (`nc.info.version`). The
 * project runs on current servers and keeps 2.9.10 working: code that uses a newer feature asks
 * here and keeps its 2.9 path.
 */
const parse = (version: string | undefined): [number, number, number] => {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version ?? '');
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : [0, 0, 0];
};

export const atLeast = (version: string | undefined, wanted: string): boolean => {
  const have = parse(version);
  const want = parse(wanted);
  for (let i = 0; i < 3; i++) if (have[i] !== want[i]) return have[i]! > want[i]!;
  return true;
};

/** Consumer pause (`$JS.API.CONSUMER.PAUSE`, `pause_until` in the consumer's config): 2.11. */
export const supportsConsumerPause = (version: string | undefined): boolean => atLeast(version, '2.11.0');
