import { fullChecks, windowAt, type QuotaLimiter, type RateCheck, type TakeDecision } from './rate-limit.ts';

/** The counters of one window length: only the current window's, so an expired window costs nothing. */
interface WindowCounters {
  window: number;
  counts: Map<string, number>;
}

/**
 * The same fixed-window rules as `createKvRateLimiter`, counted in this process's memory: exact
 * for one replica, no round trip, all or nothing (one synchronous step, so no request can slip
 * between the check and the count). Memory is bounded by the requests of the current windows:
 * counters of a window are dropped as a whole when time moves into the next one. With several
 * replicas each counts only what it saw; the bound across replicas is kept behind the queue (the
 * auth worker's shared counters), see README "Limits".
 */
export const createMemoryRateLimiter = (options: { now?: () => number; maxCounters?: number } = {}): QuotaLimiter & { size(): number } => {
  const now = options.now ?? Date.now;
  const maxCounters = options.maxCounters ?? 200_000;
  const byLength = new Map<number, WindowCounters>();

  /** The counters of `windowMs`'s current window (a later window replaces an earlier one). */
  const countersAt = (windowMs: number, window: number): Map<string, number> => {
    const current = byLength.get(windowMs);
    if (current && current.window >= window) return current.counts;
    const fresh = { window, counts: new Map<string, number>() };
    byLength.set(windowMs, fresh);
    return fresh.counts;
  };
  const keyOf = (check: RateCheck) => `${check.scope}\u0000${check.subject}`;
  const slotsOf = (checks: readonly RateCheck[], at: number) =>
    checks.map((check) => {
      const { window, retryAfterSeconds } = windowAt(check.rule, at);
      return { counts: countersAt(check.rule.windowMs, window), key: keyOf(check), window, windowMs: check.rule.windowMs, retryAfterSeconds };
    });

  const take = (checks: readonly RateCheck[]): TakeDecision => {
    const slots = slotsOf(checks, now());
    const full = fullChecks(checks, slots.map((s) => s.counts.get(s.key) ?? 0));
    if (full.length > 0) return { allowed: false, refused: full, retryAfterSeconds: Math.max(...full.map((i) => slots[i]!.retryAfterSeconds)) };
    for (const s of slots) {
      const count = s.counts.get(s.key);
      if (count === undefined && s.counts.size >= maxCounters) s.counts.delete(s.counts.keys().next().value as string);
      s.counts.set(s.key, (count ?? 0) + 1);
    }
    let released = false;
    return {
      allowed: true,
      release: async () => {
        if (released) return;
        released = true;
        for (const s of slots) {
          // A window that has ended took its counts with it: nothing to give back.
          if (byLength.get(s.windowMs)?.window !== s.window) continue;
          const count = (s.counts.get(s.key) ?? 0) - 1;
          if (count > 0) s.counts.set(s.key, count);
          else s.counts.delete(s.key);
        }
      },
    };
  };

  return {
    take: async (checks) => take(checks),
    async hit(scope, subject, rule) {
      const decision = take([{ scope, subject, rule }]);
      if (!decision.allowed) return { allowed: false, retryAfterSeconds: decision.retryAfterSeconds };
      const [slot] = slotsOf([{ scope, subject, rule }], now());
      return { allowed: true, remaining: Math.max(0, rule.max - (slot!.counts.get(slot!.key) ?? 0)) };
    },
    async counts(checks) {
      return slotsOf(checks, now()).map((s) => s.counts.get(s.key) ?? 0);
    },
    /** Counters held now, over every window length (for tests and operators). */
    size: () => [...byLength.values()].reduce((n, w) => n + w.counts.size, 0),
  };
};
