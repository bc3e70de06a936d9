import { createHash } from 'node:crypto';
import type { KV } from '@nats-io/kv';

export interface RateRule {
  max: number;
  windowMs: number;
}

export type RateDecision = { allowed: true; remaining: number } | { allowed: false; retryAfterSeconds: number };

export interface RateLimiter {
  /** Counts one request of `subject` (an email, an address) under `scope` and says whether it may pass. */
  hit(scope: string, subject: string, rule: RateRule): Promise<RateDecision>;
}

const isConflict = (error: unknown) => error instanceof Error && /wrong last sequence|key exists/i.test(error.message);

/**
 * A fixed-window counter in a KV bucket shared by every gateway replica. Each increment is a
 * compare-and-set (create() for the first hit of a window, update() at the read revision after),
 * so concurrent requests on several replicas never lose a count. Fixed windows allow up to 2×max
 * across a window boundary; for stopping mail-bombing that is fine and costs one key per window.
 */
export const createKvRateLimiter = (kv: Pick<KV, 'get' | 'create' | 'update'>, now: () => number = Date.now): RateLimiter => ({
  async hit(scope, subject, rule) {
    const at = now();
    const window = Math.floor(at / rule.windowMs);
    const retryAfterSeconds = Math.max(1, Math.ceil(((window + 1) * rule.windowMs - at) / 1000));
    // Hashed: the bucket never holds a readable address, and KV keys cannot hold `@`.
    const key = `${scope}.${createHash('sha256').update(subject).digest('hex').slice(0, 40)}.${rule.windowMs}.${window}`;
    // The first hit of a window is one round trip: create() succeeds only while the key is new.
    try {
      await kv.create(key, '1');
      return { allowed: true, remaining: rule.max - 1 };
    } catch (error) {
      if (!isConflict(error)) throw error;
    }
    for (let tries = 0; tries < 50; tries++) {
      const entry = await kv.get(key);
      const count = entry && entry.operation === 'PUT' ? Number(entry.string()) || 0 : 0;
      if (count >= rule.max) return { allowed: false, retryAfterSeconds };
      try {
        if (entry && entry.operation === 'PUT') await kv.update(key, String(count + 1), entry.revision);
        else await kv.create(key, String(count + 1));
        return { allowed: true, remaining: rule.max - count - 1 };
      } catch (error) {
        if (!isConflict(error)) throw error;
      }
    }
    throw new Error(`rate limit counter ${scope} kept losing compare-and-set races`);
  },
});
