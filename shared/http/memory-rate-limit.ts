import { windowAt, type QuotaLimiter, type RateCheck, type TakeDecision } from './rate-limit.ts';

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

  // The hot path of every sign-in request: plain arrays, no per-check objects or closures.
  const take = (checks: readonly RateCheck[]): TakeDecision => {
    const at = now();
    const maps: Map<string, number>[] = [];
    const keys: string[] = [];
    const windows: number[] = [];
    let full: number[] | undefined;
    for (let i = 0; i < checks.length; i++) {
      const check = checks[i]!;
      const window = Math.floor(at / check.rule.windowMs);
      const counts = countersAt(check.rule.windowMs, window);
      const key = keyOf(check);
      maps.push(counts);
      keys.push(key);
      windows.push(window);
      if ((counts.get(key) ?? 0) >= check.rule.max) (full ??= []).push(i);
    }
    if (full) return { allowed: false, refused: full, retryAfterSeconds: Math.max(...full.map((i) => windowAt(checks[i]!.rule, at).retryAfterSeconds)) };
    for (let i = 0; i < maps.length; i++) {
      const counts = maps[i]!;
      const count = counts.get(keys[i]!);
      if (count === undefined && counts.size >= maxCounters) counts.delete(counts.keys().next().value as string);
      counts.set(keys[i]!, (count ?? 0) + 1);
    }
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      for (let i = 0; i < maps.length; i++) {
        // A window that has ended took its counts with it: nothing to give back.
        if (byLength.get(checks[i]!.rule.windowMs)?.window !== windows[i]) continue;
        const count = (maps[i]!.get(keys[i]!) ?? 0) - 1;
        if (count > 0) maps[i]!.set(keys[i]!, count);
        else maps[i]!.delete(keys[i]!);
      }
    };
    return { allowed: true, release };
  };
  const countOf = (check: RateCheck, at: number) => countersAt(check.rule.windowMs, Math.floor(at / check.rule.windowMs)).get(keyOf(check)) ?? 0;

  return {
    take: async (checks) => take(checks),
    async hit(scope, subject, rule) {
      const decision = take([{ scope, subject, rule }]);
      if (!decision.allowed) return { allowed: false, retryAfterSeconds: decision.retryAfterSeconds };
      return { allowed: true, remaining: Math.max(0, rule.max - countOf({ scope, subject, rule }, now())) };
    },
    async counts(checks) {
      const at = now();
      return checks.map((check) => countOf(check, at));
    },
    /** Counters held now, over every window length (for tests and operators). */
    size: () => [...byLength.values()].reduce((n, w) => n + w.counts.size, 0),
  };
};
