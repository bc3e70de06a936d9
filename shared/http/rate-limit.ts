import { createHash } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import { isConflict, isLive } from '#shared/nats/kv';

export interface RateRule {
  max: number;
  windowMs: number;
}

export type RateDecision = { allowed: true; remaining: number } | { allowed: false; retryAfterSeconds: number };

export interface RateLimiter {
  /** Counts one request of `subject` (an email, an address) under `scope` and says whether it may pass. */
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


/** How many counters a gateway remembers the last revision of (the hot ones; older ones fall out). */
const KNOWN_COUNTERS = 10_000;

/**
 * A fixed-window counter in a KV bucket shared by every gateway replica. Each increment is a
 * compare-and-set (create() for the first hit of a window, update() at the last known revision
 * after), so concurrent requests on several replicas never lose a count. The gateway remembers
 * each counter's last revision, so the usual hit is one round trip; a stale memory (another
 * replica counted since) costs a read and a retry, never a lost count. A failed compare-and-set
 * is an error object built by the client, which is why guessing wrong is kept rare. Fixed windows
 * allow up to 2×max across a window boundary: for stopping mail-bombing that is fine.
 */
export const createKvRateLimiter = (kv: Pick<KV, 'get' | 'create' | 'update'>, now: () => number = Date.now): PeekingRateLimiter => {
  const known = new Map<string, { count: number; revision: number }>();
  const remember = (key: string, count: number, revision: number) => {
    known.delete(key);
    known.set(key, { count, revision });
    if (known.size > KNOWN_COUNTERS) known.delete(known.keys().next().value as string);
  };
  /** One compare-and-set from a believed state; false when the belief was stale. */
  const tryIncrement = async (key: string, from: { count: number; revision: number } | undefined): Promise<boolean> => {
    try {
      const revision = from ? await kv.update(key, String(from.count + 1), from.revision) : await kv.create(key, '1');
      remember(key, (from?.count ?? 0) + 1, revision);
      return true;
    } catch (error) {
      if (!isConflict(error)) throw error;
      known.delete(key);
      return false;
    }
  };
  const counterOf = (scope: string, subject: string, rule: RateRule) => {
    const at = now();
    const window = Math.floor(at / rule.windowMs);
    return {
      // Hashed: the bucket never holds a readable address, and KV keys cannot hold `@`.
      key: `${scope}.${createHash('sha256').update(subject).digest('hex').slice(0, 40)}.${rule.windowMs}.${window}`,
      retryAfterSeconds: Math.max(1, Math.ceil(((window + 1) * rule.windowMs - at) / 1000)),
    };
  };
  return {
    async peek(scope, subject, rule) {
      const { key, retryAfterSeconds } = counterOf(scope, subject, rule);
      if ((known.get(key)?.count ?? 0) >= rule.max) return { allowed: false, retryAfterSeconds };
      const entry = await kv.get(key);
      const count = isLive(entry) ? Number(entry.string()) || 0 : 0;
      if (isLive(entry)) remember(key, count, entry.revision);
      return count >= rule.max ? { allowed: false, retryAfterSeconds } : { allowed: true, remaining: rule.max - count };
    },
    async hit(scope, subject, rule) {
      const { key, retryAfterSeconds } = counterOf(scope, subject, rule);
      const believed = known.get(key);
      if (believed && believed.count >= rule.max) return { allowed: false, retryAfterSeconds };
      if (await tryIncrement(key, believed)) return { allowed: true, remaining: rule.max - (believed?.count ?? 0) - 1 };
      for (let tries = 0; tries < 50; tries++) {
        const entry = await kv.get(key);
        const current = isLive(entry) ? { count: Number(entry.string()) || 0, revision: entry.revision } : undefined;
        if (current && current.count >= rule.max) {
          remember(key, current.count, current.revision);
          return { allowed: false, retryAfterSeconds };
        }
        if (await tryIncrement(key, current)) return { allowed: true, remaining: rule.max - (current?.count ?? 0) - 1 };
      }
      throw new Error(`rate limit counter ${scope} kept losing compare-and-set races`);
    },
  };
};
