import { nowMs } from './stats.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Calls `send(i)` for i in [0, total) with at most `maxInFlight` unresolved at once, either as fast
 * as that allows or on a fixed schedule of `ratePerSec` (job i is due at start + i/rate; a late
 * producer catches up in a burst rather than silently lowering the rate). Resolves when every send
 * has resolved, with the time the last one was *started* (the producer's achieved rate).
 */
export const sendAll = async (
  total: number,
  send: (i: number) => Promise<unknown>,
  options: { maxInFlight: number; ratePerSec?: number },
): Promise<{ startedAt: number; lastSendAt: number; achievedPerSec: number }> => {
  let inFlight = 0;
  let slot: (() => void) | undefined;
  let failure: unknown;
  const startedAt = nowMs();
  let lastSendAt = startedAt;
  for (let i = 0; i < total; i++) {
    if (failure) throw failure;
    if (options.ratePerSec) {
      // setTimeout cannot sleep less than ~1 ms: jobs due within that come out together.
      const wait = startedAt + (i * 1000) / options.ratePerSec - nowMs();
      if (wait >= 1) await sleep(wait);
    }
    while (inFlight >= options.maxInFlight) await new Promise<void>((resolve) => (slot = resolve));
    inFlight++;
    lastSendAt = nowMs();
    send(i)
      .catch((error: unknown) => (failure ??= error))
      .finally(() => {
        inFlight--;
        slot?.();
      });
  }
  while (inFlight > 0) await new Promise<void>((resolve) => (slot = resolve));
  if (failure) throw failure;
  const span = lastSendAt - startedAt;
  return { startedAt, lastSendAt, achievedPerSec: span > 0 ? ((total - 1) * 1000) / span : Number.NaN };
};
