import { createHash } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import { isConflict, isLive } from '#shared/nats/kv';

export interface RateRule {
  max: number;
  windowMs: number;
}

/** One counter a request needs: `subject` (an email, an address, a user) under `scope`. */
export interface RateCheck {
  scope: string;
  subject: string;
  rule: RateRule;
}

export type RateDecision = { allowed: true; remaining: number } | { allowed: false; retryAfterSeconds: number };

/**
 * All or nothing: either every counter took one, or none did and `refused` says which were full.
 * `release()` gives an allowed request's counts back (its work could not be queued after all).
 */
export type TakeDecision = { allowed: true; release(): Promise<void> } | { allowed: false; refused: number[]; retryAfterSeconds: number };

export interface RateLimiter {
  /** Counts one request of `subject` under `scope` and says whether it may pass; a refusal counts nothing. */
  hit(scope: string, subject: string, rule: RateRule): Promise<RateDecision>;
}

/**
 * A limiter that also tells, without counting, whether `subject` is over its limit now: for limits
 * on failures only (a wrong token counts, a right one does not), where a blocked client must be
 * refused before its next guess is checked, or the refusal itself would tell right from wrong.
 */
export interface PeekingRateLimiter extends RateLimiter {
  peek(scope: string, subject: string, rule: RateRule): Promise<RateDecision>;
}

/** A limiter over several counters at once (a small extension of `RateLimiter`). */
export interface QuotaLimiter extends RateLimiter {
  /**
   * Takes one from every counter, or from none: a request refused by any of its limits consumes
   * nothing, so requests that never get through cannot use up someone else's quota.
   */
  take(checks: readonly RateCheck[]): Promise<TakeDecision>;
  /** The counters' current values in this window (read only, for operators and tests). */
  counts(checks: readonly RateCheck[]): Promise<number[]>;
}

/** The rule itself, free of storage: which checks are already full at these counts. */
export const fullChecks = (checks: readonly RateCheck[], counts: readonly number[]): number[] =>
  checks.flatMap((check, i) => ((counts[i] ?? 0) >= check.rule.max ? [i] : []));

/** The fixed window `at` falls in under `rule`, and the seconds until it ends (at least 1). */
export const windowAt = (rule: RateRule, at: number) => {
  const window = Math.floor(at / rule.windowMs);
  return { window, retryAfterSeconds: Math.max(1, Math.ceil(((window + 1) * rule.windowMs - at) / 1000)) };
};

/** Where a check's counter lives in the current fixed window, and how long until it resets. */
export const counterSlot = (check: RateCheck, at: number) => {
  const { window, retryAfterSeconds } = windowAt(check.rule, at);
  return {
    // Hashed: the bucket never holds a readable address, and KV keys cannot hold `@`.
    key: `${check.scope}.${createHash('sha256').update(check.subject).digest('hex').slice(0, 40)}.${check.rule.windowMs}.${window}`,
    retryAfterSeconds,
  };
};

/** How many counters a gateway remembers the last revision of (the hot ones; older ones fall out). */
const KNOWN_COUNTERS = 10_000;
const MAX_ROUNDS = 50;

type Belief = { count: number; revision: number | undefined };

/**
 * Fixed-window counters in a KV bucket shared by every gateway replica. Each change is a
 * compare-and-set (create() for the first hit of a window, update() at the last known revision
 * after), so concurrent requests on several replicas never lose a count. The limiter remembers
 * each counter's last revision and assumes an unknown counter is empty, so the usual request is
 * one round trip of parallel writes; a stale belief costs a read and another round, never a lost
 * count. When a write lands and another counter of the same request turns out full, the landed
 * write is given back (a compare-and-set decrement): a refused request leaves every counter as it
 * was. Fixed windows allow up to 2×max across a window boundary: for mail-bombing that is fine.
 */
export const createKvRateLimiter = (kv: Pick<KV, 'get' | 'create' | 'update'>, now: () => number = Date.now): QuotaLimiter & PeekingRateLimiter => {
  const known = new Map<string, Belief & { revision: number }>();
  const remember = (key: string, count: number, revision: number) => {
    known.delete(key);
    known.set(key, { count, revision });
    if (known.size > KNOWN_COUNTERS) known.delete(known.keys().next().value as string);
  };
  const read = async (key: string): Promise<Belief> => {
    const entry = await kv.get(key);
    if (!isLive(entry)) return { count: 0, revision: undefined };
    const count = Number(entry.string()) || 0;
    remember(key, count, entry.revision);
    return { count, revision: entry.revision };
  };
  /** One compare-and-set from a believed state to `count + delta`; false when the belief was stale. */
  const tryWrite = async (key: string, from: Belief, delta: number): Promise<boolean> => {
    const next = from.count + delta;
    try {
      const revision = from.revision === undefined ? await kv.create(key, String(next)) : await kv.update(key, String(next), from.revision);
      remember(key, next, revision);
      return true;
    } catch (error) {
      if (!isConflict(error)) throw error;
      known.delete(key);
      return false;
    }
  };
  const giveBack = async (key: string) => {
    let belief: Belief = known.get(key) ?? (await read(key));
    for (let round = 0; round < MAX_ROUNDS && belief.count > 0; round++) {
      if (await tryWrite(key, belief, -1)) return;
      belief = await read(key);
    }
  };

  const take = async (checks: readonly RateCheck[]): Promise<TakeDecision> => {
    const at = now();
    const slots = checks.map((check) => counterSlot(check, at));
    const beliefs: Belief[] = slots.map((slot) => known.get(slot.key) ?? { count: 0, revision: undefined });
    const landed = new Set<number>();
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const full = fullChecks(checks, beliefs.map((b) => b.count)).filter((i) => !landed.has(i));
      if (full.length > 0) {
        await Promise.all([...landed].map((i) => giveBack(slots[i]!.key)));
        return { allowed: false, refused: full, retryAfterSeconds: Math.max(...full.map((i) => slots[i]!.retryAfterSeconds)) };
      }
      const pending = slots.flatMap((_, i) => (landed.has(i) ? [] : [i]));
      const results = await Promise.all(pending.map((i) => tryWrite(slots[i]!.key, beliefs[i]!, 1)));
      const stale: number[] = [];
      pending.forEach((i, n) => (results[n] ? landed.add(i) : stale.push(i)));
      if (stale.length === 0) return { allowed: true, release: async () => void (await Promise.all(slots.map((slot) => giveBack(slot.key)))) };
      await Promise.all(stale.map(async (i) => (beliefs[i] = await read(slots[i]!.key))));
    }
    await Promise.all([...landed].map((i) => giveBack(slots[i]!.key)));
    throw new Error(`rate limit counters ${checks.map((c) => c.scope).join(', ')} kept losing compare-and-set races`);
  };

  return {
    take,
    async peek(scope, subject, rule) {
      const { key, retryAfterSeconds } = counterSlot({ scope, subject, rule }, now());
      const count = (known.get(key)?.count ?? 0) >= rule.max ? rule.max : (await read(key)).count;
      return count >= rule.max ? { allowed: false, retryAfterSeconds } : { allowed: true, remaining: rule.max - count };
    },
    async hit(scope, subject, rule) {
      const check = { scope, subject, rule };
      const decision = await take([check]);
      if (!decision.allowed) return { allowed: false, retryAfterSeconds: decision.retryAfterSeconds };
      const count = known.get(counterSlot(check, now()).key)?.count ?? rule.max;
      return { allowed: true, remaining: Math.max(0, rule.max - count) };
    },
    async counts(checks) {
      const at = now();
      return Promise.all(checks.map(async (check) => (await read(counterSlot(check, at).key)).count));
    },
  };
};
